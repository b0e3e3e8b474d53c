#!/usr/bin/env bash
# TLS audit: testssl.sh against a local rampart-proxy TLS listener, to show what a client (and a
# scanner) sees of the protocol and cipher policy.
#
# Generates a throwaway CA and a certificate it signs with openssl (EC P-256 by default; the
# CA is handed to testssl.sh with --add-ca so that the chain verifies), starts rampart-proxy
# with --tls-cert/--tls-key in front of a tiny local origin, runs testssl.sh's default scan
# and prints the offered protocols, the ciphers per protocol, and the rating. The full
# testssl.sh output and its JSON go to $OUT/tls-audit-<date>.{txt,json}.
#
# A private CA publishes no CRL or OCSP responder: testssl.sh reports that as a certificate
# finding, which says nothing about the server's configuration. The rating needs testssl.sh 3.2 or newer; Debian 12's package is 3.0.8, which scans the same
# but rates nothing: point TESTSSL at a newer checkout for the grade.
#
# Usage: benches/tls-audit.sh [-h|--help]
# Environment:
#   KEY=ec|rsa     certificate key type (EC P-256 or RSA 2048; default ec)
#   TESTSSL=PATH   the testssl.sh to run (default: the installed one; Debian package testssl.sh)
#   OUT=target/bench   RAMPART_BIN=target/dist/rampart-proxy   SKIP_BUILD=1 (use it as is)
#   KEEP_TMP=1     keep the certificate, logs and scratch files
# As root, missing tools (testssl.sh, openssl, curl) are installed with apt-get.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/peers/common.sh
source benches/peers/common.sh

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
for arg in "$@"; do
    case $arg in
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown argument: $arg"
        ;;
    esac
done
KEY=${KEY:-ec}
OUT=${OUT:-target/bench}
case $KEY in ec | rsa) ;; *) die "KEY must be ec or rsa, not $KEY" ;; esac

# Debian's package installs the script as `testssl`; upstream checkouts call it testssl.sh.
TESTSSL=${TESTSSL:-$(command -v testssl || command -v testssl.sh || true)}
if [[ -z $TESTSSL ]]; then
    ensure_cmd testssl testssl.sh
    TESTSSL=$(command -v testssl)
fi
ensure_cmd openssl openssl
ensure_cmd curl curl
ensure_cmd python3 python3
ensure_cmd ss iproute2
build_rampart

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-tls-audit.XXXXXX")
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
REPORT=$OUT/tls-audit-$STAMP.txt
JSON=$OUT/tls-audit-$STAMP.json

# A throwaway CA and a certificate for localhost that it signs.
CA=$BENCH_TMP/ca.pem
CERT=$BENCH_TMP/site.pem
KEYFILE=$BENCH_TMP/site.key
if [[ $KEY == ec ]]; then
    newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
else
    newkey=(-newkey rsa:2048)
fi
{
    openssl req -x509 "${newkey[@]}" -sha256 -days 365 -nodes -subj "/CN=rampart tls-audit CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$BENCH_TMP/ca.key" -out "$CA" &&
        openssl req "${newkey[@]}" -nodes -subj "/CN=localhost" -keyout "$KEYFILE" \
            -out "$BENCH_TMP/site.csr" &&
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature%s\n' \
            "$([[ $KEY == rsa ]] && echo ,keyEncipherment)" >"$BENCH_TMP/site.ext" &&
        openssl x509 -req -sha256 -days 365 -in "$BENCH_TMP/site.csr" -CA "$CA" \
            -CAkey "$BENCH_TMP/ca.key" -CAcreateserial -extfile "$BENCH_TMP/site.ext" -out "$CERT"
} >"$BENCH_TMP/openssl.log" 2>&1 || die "openssl failed: $(cat "$BENCH_TMP/openssl.log")"

# A tiny origin, so that testssl's HTTP checks see a normal 200 through the proxy.
free_port ORIGIN_PORT
mkdir -p "$BENCH_TMP/www"
echo '<!doctype html><title>tls audit</title>' >"$BENCH_TMP/www/index.html"
python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$BENCH_TMP/www" \
    >"$BENCH_TMP/origin.log" 2>&1 &
ORIGIN_PID=$!
STARTED_PIDS+=("$ORIGIN_PID")

free_port PROXY_PORT
"$RAMPART_BIN" --listen "127.0.0.1:$PROXY_PORT" --tls-cert "$CERT" --tls-key "$KEYFILE" \
    --upstream "http://127.0.0.1:$ORIGIN_PORT" --workers 1 >"$BENCH_TMP/proxy.log" 2>&1 &
PROXY_PID=$!
STARTED_PIDS+=("$PROXY_PID")
for ((i = 0; i < 100; i++)); do
    kill -0 "$PROXY_PID" 2>/dev/null || die "rampart-proxy exited: $(tail -n 5 "$BENCH_TMP/proxy.log")"
    curl -s -o /dev/null --max-time 1 --cacert "$CA" "https://localhost:$PROXY_PORT/" && break
    sleep 0.1
done
curl -sS -o /dev/null --max-time 5 --cacert "$CA" "https://localhost:$PROXY_PORT/" ||
    die "rampart-proxy not answering on https://localhost:$PROXY_PORT/ after 10 s"

echo "testssl.sh: $("$TESTSSL" --version 2>/dev/null | grep -m1 -o 'testssl.sh *[0-9][^ ]*' || echo "$TESTSSL")" | tee "$REPORT"
echo "target: rampart-proxy $("$RAMPART_BIN" --version | awk '{print $2}') on https://localhost:$PROXY_PORT ($KEY certificate from a private CA)" | tee -a "$REPORT"
echo "running the default scan (a few minutes)..." >&2

# --ip one: only 127.0.0.1 (localhost may also resolve to ::1, where nothing listens).
"$TESTSSL" --quiet --color 0 --warnings off --ip one --add-ca "$CA" --jsonfile "$JSON" \
    "localhost:$PROXY_PORT" >>"$REPORT" 2>&1 || true
[[ -s $JSON ]] || die "testssl.sh produced no JSON; see $REPORT"

python3 - "$JSON" <<'PY' | tee -a "$REPORT"
import json, re, sys

findings = json.load(open(sys.argv[1]))
by_id = {}
for f in findings:
    by_id.setdefault(f["id"], []).append(f)

def first(i, default="-"):
    return by_id[i][0]["finding"] if i in by_id else default

print("\n== protocols")
for pid, name in [("SSLv2", "SSLv2"), ("SSLv3", "SSLv3"), ("TLS1", "TLS 1.0"),
                  ("TLS1_1", "TLS 1.1"), ("TLS1_2", "TLS 1.2"), ("TLS1_3", "TLS 1.3")]:
    print(f"   {name:8} {first(pid)}")
alpn = [first(i) for i in ("ALPN_HTTP2", "ALPN") if i in by_id]
print(f"   ALPN     {', '.join(alpn) or '-'}")

print("\n== ciphers offered, by protocol")
listed = False
for pid, name in [("TLSv1_3", "TLS 1.3"), ("TLSv1_2", "TLS 1.2"), ("TLSv1_1", "TLS 1.1"),
                  ("TLSv1", "TLS 1.0"), ("SSLv3", "SSLv3")]:
    for key in (f"supportedciphers_{pid}", f"cipherorder_{pid}"):
        if key in by_id:
            listed = True
            print(f"   {name}: {first(key)}")
            break
if not listed:
    # testssl.sh 3.0: one cipher_xNNNN finding per cipher found; 0x13NN are the TLS 1.3 suites.
    per = {"TLS 1.3": [], "TLS 1.2": []}
    for f in findings:
        m = re.match(r"cipher_x([0-9a-f]+)$", f["id"])
        if m:
            per["TLS 1.3" if m.group(1).startswith("13") else "TLS 1.2"].append(f["finding"].split()[1])
    for name, names in per.items():
        print(f"   {name}: {' '.join(names) or '-'}")
print(f"   server cipher order: {first('cipher_order')}")
for cid in ("cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
            "cipherlist_3DES_IDEA", "cipherlist_OBSOLETED", "cipherlist_STRONG_NOFS",
            "cipherlist_STRONG_FS", "FS", "FS_ECDHE_curves", "FS_KEMs"):
    if cid in by_id:
        print(f"   {cid:24} {first(cid)}")

print("\n== rating")
for rid in ("protocol_support_score", "key_exchange_score", "cipher_strength_score",
            "final_score", "overall_grade"):
    if rid in by_id:
        print(f"   {rid:24} {first(rid)}")
for f in findings:
    if f["id"].startswith("grade_cap_reason"):
        print(f"   {f['id']:24} {f['finding']}")
if "overall_grade" not in by_id:
    print("   none: this testssl.sh predates the rating (3.2+); TESTSSL=/path/to/testssl.sh for one")

bad = [f for f in findings if f.get("severity") in ("HIGH", "CRITICAL")]
print(f"\n== findings of severity HIGH or CRITICAL: {len(bad)}")
for f in bad:
    print(f"   {f['id']}: {f['finding']}")
PY
echo ""
echo "full testssl.sh output: $REPORT"
echo "JSON:                   $JSON"
