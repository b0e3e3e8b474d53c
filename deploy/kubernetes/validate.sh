#!/usr/bin/env bash
# Offline validation of the deploy/ artifacts; tests/run.sh runs it after the cargo tests.
#  1. every Kubernetes manifest under deploy/kubernetes/ against the API schemas of the oldest
#     supported Kubernetes (1.30: lifecycle.preStop.sleep) and the newest kubernetes-validate
#     ships, with --strict (unknown fields are errors);
#  2. each kustomization.yaml lists every manifest of its directory, and each ConfigMap's
#     rampart.toml passes `rampart-proxy check` with the flags its Deployment gives the proxy;
#  3. the GitHub Actions workflow under deploy/github-actions/ parses and uploads SARIF always.
#
# Needs the test venv (target/test-venv, made by tests/run.sh from tests/requirements.txt; or
# RAMPART_TEST_VENV) and a rampart-proxy binary (RAMPART_PROXY, else target/debug/rampart-proxy,
# brought up to date with cargo build). Exit 0 when everything passes, 1 on a finding, 2 when a tool
# is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
prog=deploy/kubernetes/validate.sh
die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 2
}

k8s_versions=(1.30.0 1.37.0)

venv="${RAMPART_TEST_VENV:-$repo/target/test-venv}"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/python" ]; then
    die "kubernetes-validate is not installed in $venv; create the venv with: python3 -m venv $venv && $venv/bin/pip install -r tests/requirements.txt (or run bash tests/run.sh)"
fi

proxy="${RAMPART_PROXY:-}"
if [ -z "$proxy" ]; then
    # The same build the integration tests make: nothing to do after `cargo test`.
    proxy="$repo/target/debug/rampart-proxy"
    cargo build --quiet --locked -p rampart-proxy --bin rampart-proxy ||
        die "cargo build -p rampart-proxy failed (output above)"
fi
[ -x "$proxy" ] || die "no rampart-proxy binary at $proxy"

mapfile -t dirs < <(find deploy/kubernetes -mindepth 1 -maxdepth 1 -type d | sort)
[ ${#dirs[@]} -gt 0 ] || die "no manifest directories under deploy/kubernetes"
mapfile -t manifests < <(find "${dirs[@]}" -name '*.yaml' ! -name kustomization.yaml | sort)
[ ${#manifests[@]} -gt 0 ] || die "no manifests under deploy/kubernetes"

status=0
for version in "${k8s_versions[@]}"; do
    echo "== kubernetes-validate --strict, Kubernetes $version (${#manifests[@]} files)"
    out=$("$venv/bin/kubernetes-validate" --strict --kubernetes-version "$version" "${manifests[@]}" 2>&1) || status=1
    # INFO lines say "passed"; anything else (WARN: no schema, ERROR) is shown and counts.
    if grep -v ' passed for resource ' <<<"$out" | grep -q .; then
        grep -v ' passed for resource ' <<<"$out" >&2
        status=1
    else
        echo "ok: $(grep -c ' passed for resource ' <<<"$out") resources valid"
    fi
done

echo "== kustomizations and rampart.toml (rampart-proxy check)"
"$venv/bin/python" deploy/kubernetes/check_manifests.py configs "$proxy" "${dirs[@]}" || status=1

echo "== GitHub Actions workflows"
mapfile -t workflows < <(find deploy/github-actions -name '*.yml' -o -name '*.yaml' | sort)
[ ${#workflows[@]} -gt 0 ] || die "no workflow under deploy/github-actions"
"$venv/bin/python" deploy/kubernetes/check_manifests.py workflow "${workflows[@]}" || status=1

if [ "$status" != 0 ]; then
    echo "$prog: FAILED (see above)" >&2
else
    echo "$prog: all deploy artifacts valid"
fi
exit "$status"
