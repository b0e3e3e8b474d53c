#!/usr/bin/env bash
# Runs every check and test of the workspace, installing what the tests need first.
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }

if ! need cargo; then
    echo "tests/run.sh: cargo is not installed (install Rust stable with rustup)" >&2
    exit 2
fi
# The tests send signals to the proxy binary with kill(1) and read /proc; both come with the OS.
if ! need kill; then
    echo "tests/run.sh: kill(1) is missing (package procps)" >&2
    exit 2
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# The verifier's SARIF output is validated against the official SARIF 2.1.0 schema, which ships
# in an npm package: fetch that one file (idempotent).
if ! need npm; then
    echo "tests/run.sh: npm is needed to fetch the official SARIF schema (apt-get install -y npm)" >&2
    exit 2
fi
echo "== SARIF schema"
bash verifier/tests/fetch-sarif-schema.sh

# moto (the AWS emulator the audit tests run as a real server) and kubernetes-validate live in a
# venv under target/, rebuilt only when tests/requirements.txt changes. Tests find it through
# RAMPART_TEST_VENV.
if ! need python3; then
    echo "tests/run.sh: python3 (with the venv module) is needed for moto and kubernetes-validate" >&2
    exit 2
fi
venv="$PWD/target/test-venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "== Python test venv ($venv)"
    rm -rf "$venv"
    python3 -m venv "$venv" || {
        echo "tests/run.sh: python3 -m venv failed (apt-get install -y python3-venv)" >&2
        exit 2
    }
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$want" >"$stamp"
fi
export RAMPART_TEST_VENV="$venv"

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked

# ---- deploy artifacts (deploy/, issue 7) ---------------------------------------------------------
echo "== deploy: Kubernetes manifests, ConfigMaps' rampart.toml, GitHub Actions workflow"
bash deploy/kubernetes/validate.sh

# The container image test: a static release build of the proxy (about 5 minutes from an empty
# target/container on a 2-core machine), then buildah/podman (installed with apt-get as root when
# missing). A failed check or build fails the run; when containers cannot be built or run here at
# all (exit 3: no root to install the tools, no user namespaces, ...) the reason is printed and
# the run goes on. RAMPART_CONTAINER_TEST=0 leaves it out (and says so).
if [ "${RAMPART_CONTAINER_TEST:-1}" = 1 ]; then
    echo "== deploy: container image (deploy/container/build-and-test.sh)"
    rc=0
    bash deploy/container/build-and-test.sh --rm-image || rc=$?
    case $rc in
    0) ;;
    3) echo "== deploy: container image test could NOT run here (reason above); everything else passed" ;;
    *) exit "$rc" ;;
    esac
else
    echo "== deploy: container image test NOT run (RAMPART_CONTAINER_TEST=0)"
fi
# ---- end of deploy artifacts ----------------------------------------------------------------------
