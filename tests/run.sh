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

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --locked
