#!/usr/bin/env bash
# Memory benchmark: resident memory of each proxy (rampart-proxy, nginx, HAProxy; one worker
# each, the same configs as benches/load.sh) idle, and then holding N idle keep-alive client
# connections that have each made one request.
#
# RSS is VmRSS from /proc/PID/status summed over the proxy's processes (nginx: master and
# worker). The connections come from benches/peers/hold_conns.py (Python 3, stdlib only),
# pinned with wrk's core; the proxy runs alone on the other core.
#
# Usage: benches/memory.sh [--quick] [-h|--help]
#   --quick   CONNS=1000
# Environment:
#   CONNS=10000  TARGETS="rampart nginx haproxy"  OUT=target/bench  ORIGIN_CPU=0 PROXY_CPU=1
#   SKIP_BUILD=1  KEEP_TMP=1
# Needs about CONNS + 100 file descriptors per process: the script raises `ulimit -n` to
# 65536, or as far as the hard limit allows. As root, missing tools are installed with
# apt-get (after one apt-get update).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=benches/peers/common.sh
source benches/peers/common.sh

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

QUICK=0
for arg in "$@"; do
    case $arg in
    --quick) QUICK=1 ;;
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
((QUICK)) && CONNS=1000
CONNS=${CONNS:-10000}
OUT=${OUT:-target/bench}
read -r -a TARGETS <<<"${TARGETS:-rampart nginx haproxy}"
for t in "${TARGETS[@]}"; do
    case $t in rampart | nginx | haproxy) ;; *) die "unknown target $t (rampart, nginx, haproxy)" ;; esac
done

((NOFILE >= CONNS + 200)) ||
    die "ulimit -n is $NOFILE (hard limit $(ulimit -Hn)); $CONNS connections need $((CONNS + 200)): lower CONNS or raise the hard limit"
# HAProxy's startup check assumes a server connection per client (2 fds each); here the
# clients share a few dozen server connections, so relax the check rather than the count.
if ((HAPROXY_MAXCONN < CONNS + 500)); then
    HAPROXY_MAXCONN=$((CONNS + 500))
    HAPROXY_LIMITS="no strict-limits"
fi

ensure_cmd curl curl
ensure_cmd taskset util-linux
ensure_cmd nginx nginx
ensure_cmd haproxy haproxy
ensure_cmd pgrep procps
ensure_cmd ss iproute2
ensure_cmd python3 python3
ensure_nginx_more
check_cpus
build_rampart

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
TSV=$OUT/memory-$STAMP.tsv
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-memory.XXXXXX")
chmod 755 "$BENCH_TMP"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { printf '%s\n' "$*" | tee -a "$OUT/memory-$STAMP.txt"; }

say "rampart memory benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  $(uname -sr)"
say "rampart-proxy built from $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "an unknown revision"): $RAMPART_BIN"
say "$CONNS idle keep-alive connections per proxy, one request each; ulimit -n $NOFILE"
say "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start_origin

# established PORT: client-side sockets in ESTABLISHED state towards PORT.
established() {
    ss -Htn state established "( dport = :$1 )" | wc -l
}

printf 'timestamp\ttarget\tconnections\theld\trss_idle_kib\trss_held_kib\tdelta_kib\tkib_per_conn\tprocesses\n' >"$TSV"
for t in "${TARGETS[@]}"; do
    start_proxy "$t"
    # A few requests first, so that "idle" includes a warmed-up upstream connection.
    for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/json"; done
    sleep 0.5
    idle=$(rss_kib "$PROXY_PID")

    hold_out=$BENCH_TMP/hold.$t.out
    taskset -c "$ORIGIN_CPU" python3 "$PEERS_DIR/hold_conns.py" -n "$CONNS" "$PROXY_PORT" \
        >"$hold_out" 2>"$hold_out.err" &
    hold_pid=$!
    STARTED_PIDS+=("$hold_pid")
    # Bounded wait for "holding N": setup takes a few seconds for 10,000 connections.
    for ((i = 0; i < 1200; i++)); do
        grep -qs '^holding' "$hold_out" && break
        if ! kill -0 "$hold_pid" 2>/dev/null; then
            cat "$hold_out.err" >&2
            die "hold_conns.py failed against $t"
        fi
        sleep 0.1
    done
    grep -q '^holding' "$hold_out" || die "hold_conns.py did not finish its setup against $t in 120 s"
    sleep 1 # let the proxy settle (freed request buffers, lazy allocations)
    held_rss=$(rss_kib "$PROXY_PID")
    held=$(established "$PROXY_PORT")
    procs=$(pid_tree "$PROXY_PID" | wc -l)
    stop_pid "$hold_pid"
    stop_pid "$PROXY_PID"
    PROXY_PID=""

    delta=$((held_rss - idle))
    per=$(awk -v d="$delta" -v n="$CONNS" 'BEGIN { printf "%.2f", d / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$CONNS" "$held" \
        "$idle" "$held_rss" "$delta" "$per" "$procs" >>"$TSV"
    ((held == CONNS)) || say "warning: $t held $held of $CONNS connections at measurement time"
done

say ""
say "$(printf '%-9s %9s %12s %16s %12s %10s' target held 'RSS idle' "RSS $CONNS conns" delta KiB/conn)"
tail -n +2 "$TSV" | while IFS=$'\t' read -r _ t _ held idle held_rss delta per _; do
    say "$(printf '%-9s %9s %9.1f MiB %12.1f MiB %8.1f MiB %10s' "$t" "$held" \
        "$(awk -v k="$idle" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="$held_rss" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="$delta" 'BEGIN { print k / 1024 }')" "$per")"
done
say ""
say "raw results: $TSV"
