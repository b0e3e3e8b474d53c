#!/usr/bin/env bash
# Fetches the official SARIF 2.1.0 JSON schema that the SARIF output tests validate against
# (verifier/src/output/tests.rs), and prints its path.
#
# The schema ships at the root of the npm package @microsoft/sarif-multitool-linux (the SARIF
# SDK's own validator); no smaller npm package carries the same file. The package is ~44 MB
# packed, mostly the Multitool binary, so only the schema is extracted unless --with-multitool
# is given, which also extracts the Sarif.Multitool binary (for `Sarif.Multitool validate`) and
# prints its path on a second line.
#
# Idempotent: when the schema is already in place with the expected checksum, nothing is
# downloaded. Usage: bash verifier/tests/fetch-sarif-schema.sh [--with-multitool]
set -euo pipefail

package="@microsoft/sarif-multitool-linux"
version="5.7.0"
# sha256 of package/sarif-2.1.0.json in that exact package version: proves it is the file the
# tests were written against, not whatever a future or tampered tarball contains.
schema_sha256="1c49a0f2b60444c71bb14878e21e0d882198eff4c539861b133093ad89ed798c"

with_multitool=0
case "${1:-}" in
    "") ;;
    --with-multitool) with_multitool=1 ;;
    *)
        echo "usage: $0 [--with-multitool]" >&2
        exit 2
        ;;
esac

root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/target/sarif-schema/sarif-multitool-linux-$version"
schema="$dest/sarif-2.1.0.json"
multitool="$dest/Sarif.Multitool"

schema_ok() {
    [ -f "$schema" ] && echo "$schema_sha256  $schema" | sha256sum --check --status
}

if schema_ok && { [ "$with_multitool" = 0 ] || [ -x "$multitool" ]; }; then
    echo "$schema"
    if [ "$with_multitool" = 1 ]; then echo "$multitool"; fi
    exit 0
fi

for tool in npm tar sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$0: '$tool' is needed to fetch the SARIF schema (Debian: apt-get install npm)" >&2
        exit 2
    fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# `npm pack` downloads the tarball without installing it (no install scripts run) and prints
# the tarball's file name on stdout.
tarball="$(cd "$tmp" && npm pack --silent "$package@$version" 2>/dev/null | tail -n 1)"
if [ -z "$tarball" ] || [ ! -f "$tmp/$tarball" ]; then
    echo "$0: npm pack $package@$version failed" >&2
    (cd "$tmp" && npm pack "$package@$version") >&2 || true
    exit 1
fi

members=(package/sarif-2.1.0.json)
if [ "$with_multitool" = 1 ]; then members+=(package/Sarif.Multitool); fi
tar -xzf "$tmp/$tarball" -C "$tmp" "${members[@]}"

actual="$(sha256sum "$tmp/package/sarif-2.1.0.json" | cut -d ' ' -f 1)"
if [ "$actual" != "$schema_sha256" ]; then
    echo "$0: sarif-2.1.0.json from $package@$version has sha256 $actual, expected $schema_sha256" >&2
    exit 1
fi

mkdir -p "$dest"
mv "$tmp/package/sarif-2.1.0.json" "$schema.partial"
mv "$schema.partial" "$schema"
if [ "$with_multitool" = 1 ]; then
    mv "$tmp/package/Sarif.Multitool" "$multitool"
    chmod u+x "$multitool"
fi

echo "$schema"
if [ "$with_multitool" = 1 ]; then echo "$multitool"; fi
