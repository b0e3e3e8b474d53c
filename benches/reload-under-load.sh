#!/usr/bin/env bash
# Hot reload under load: wrk keeps 64 keep-alive connections busy through rampart-proxy while
# the configuration is reloaded RELOADS times (odd ones by SIGHUP, even ones only by rewriting
# the file, which the proxy's watcher picks up), plus one broken file in the middle that must
# be rejected while the running configuration keeps serving. Each reload changes the Server
# header the policy sets, and the script waits until /metrics shows the new generation and a
# request shows the new header before the next one.
#
# Passes (exit 0) when wrk saw no socket error and no non-2xx response, every reload took
# effect and the broken file was counted as a failed reload; prints the figures.
#
# Usage: benches/reload-under-load.sh [--quick] [-h|--help]
#   --quick   RELOADS=5 DURATION=8
# Environment:
#   RELOADS=20  PAUSE=0.3 (seconds between reloads)  DURATION=20 (wrk seconds; must outlast
#   the reloads)  CONNS=64  ORIGIN_CPU=0 PROXY_CPU=1  SKIP_BUILD=1  KEEP_TMP=1
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
if ((QUICK)); then
    RELOADS=${RELOADS:-5}
    DURATION=${DURATION:-8}
fi
RELOADS=${RELOADS:-20}
PAUSE=${PAUSE:-0.3}
DURATION=${DURATION:-20}
CONNS=${CONNS:-64}

ensure_cmd curl curl
ensure_cmd taskset util-linux
ensure_cmd nginx nginx
ensure_cmd wrk wrk
build_rampart

BENCH_TMP=$(mktemp -d /tmp/rampart-reload.XXXXXX)
trap bench_cleanup EXIT
start_origin

free_port PROXY_PORT
free_port ADMIN_PORT
CFG=$BENCH_TMP/rampart.toml
# write_config GEN [broken]: the bench policy with Server "gen-GEN".
write_config() {
    local tmp=$CFG.tmp
    cat >"$tmp" <<EOF
[server]
listen = "127.0.0.1:$PROXY_PORT"
access_log = false
config_watch_interval = "100ms"

[admin]
listen = "127.0.0.1:$ADMIN_PORT"

[policies.bench]
extends = "strict"
server = "gen-$1"
strict_transport_security = { force = true }

[[routes]]
upstream = "http://127.0.0.1:$ORIGIN_PORT"
policy = "bench"
EOF
    if [[ ${2:-} == broken ]]; then
        printf '[policies.bench.error_bodies]\nmode = "sometimes"\n' >>"$tmp"
    fi
    # Renamed into place, as editors and the kubelet do: the watcher never sees half a file.
    mv "$tmp" "$CFG"
}
write_config 0
PROXY_LOG=$BENCH_TMP/rampart.log
taskset -c "$PROXY_CPU" "$RAMPART_BIN" --config "$CFG" --workers 1 >"$PROXY_LOG" 2>&1 &
PROXY_PID=$!
STARTED_PIDS+=("$PROXY_PID")
wait_ready rampart "$PROXY_PORT" "$PROXY_PID" "$PROXY_LOG"

metric() { # metric SERIES: its value on /metrics (empty when absent)
    curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/metrics" |
        awk -v s="$1" '$1 == s { print $2; exit }'
}
server_header() {
    curl -s -o /dev/null -D - --max-time 2 "http://127.0.0.1:$PROXY_PORT/json" |
        tr -d '\r' | awk -F': ' 'tolower($1) == "server" { print $2 }'
}
now_ms() { date +%s%3N; }

log "wrk -t1 -c$CONNS -d${DURATION}s on CPU $ORIGIN_CPU; rampart-proxy on CPU $PROXY_CPU; $RELOADS reloads"
WRK_OUT=$BENCH_TMP/wrk.txt
taskset -c "$ORIGIN_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
    "http://127.0.0.1:$PROXY_PORT/json" >"$WRK_OUT" 2>&1 &
WRK_PID=$!
# Load first, then reloads: wait for the first requests to be counted.
for ((i = 0; i < 100; i++)); do
    served=$(metric 'rampart_responses_total{route="route-1",class="2xx"}')
    awk -v v="${served:-0}" 'BEGIN { exit !(v > 0) }' && break
    sleep 0.05
done

LATENCIES=()
generation=0
for ((n = 1; n <= RELOADS; n++)); do
    start=$(now_ms)
    write_config "$n"
    how=file
    if ((n % 2 == 1)); then
        kill -HUP "$PROXY_PID"
        how=SIGHUP
    fi
    # Visible when the generation moved and a request carries the new Server value.
    for ((i = 0; i < 200; i++)); do
        g=$(metric rampart_config_generation)
        if [[ -n $g ]] && ((g > generation)) && [[ $(server_header) == "gen-$n" ]]; then
            break
        fi
        sleep 0.02
    done
    ((i < 200)) || die "reload $n ($how) did not take effect within 4 s; see $PROXY_LOG"
    generation=$g
    LATENCIES+=("$(($(now_ms) - start))")
    log "reload $n by $how: generation $generation, visible after ${LATENCIES[-1]} ms"
    if ((n == RELOADS / 2)); then
        write_config "$n" broken
        for ((i = 0; i < 200; i++)); do
            [[ $(metric 'rampart_config_reloads_total{result="failed"}') == 1 ]] && break
            sleep 0.02
        done
        ((i < 200)) || die "the broken file was not rejected; see $PROXY_LOG"
        [[ $(server_header) == "gen-$n" ]] || die "a rejected file changed the running configuration"
        log "broken file rejected, generation $generation still serving"
    fi
    sleep "$PAUSE"
done
kill -0 "$WRK_PID" 2>/dev/null ||
    die "wrk finished before the reloads did: raise DURATION (now $DURATION s)"
wait "$WRK_PID" || die "wrk failed: $(cat "$WRK_OUT")"

cat "$WRK_OUT" >&2
requests=$(awk '/requests in/ { print $1 }' "$WRK_OUT")
rps=$(awk '/^Requests\/sec/ { print $2 }' "$WRK_OUT")
non2xx=$(awk -F': ' '/Non-2xx or 3xx responses/ { print $2 }' "$WRK_OUT")
socket_errors=$(awk '/Socket errors/ { sub(/.*Socket errors: /, ""); print }' "$WRK_OUT")
ok=$(metric 'rampart_config_reloads_total{result="ok"}')
failed=$(metric 'rampart_config_reloads_total{result="failed"}')
sorted=$(printf '%s\n' "${LATENCIES[@]}" | sort -n)
lat_min=$(head -1 <<<"$sorted")
lat_med=$(sed -n "$(((${#LATENCIES[@]} + 1) / 2))p" <<<"$sorted")
lat_max=$(tail -1 <<<"$sorted")

echo "reloads: $RELOADS applied (generation $generation; reloads ok=$ok failed=$failed, the broken file), each visible after min/median/max $lat_min/$lat_med/$lat_max ms"
echo "wrk: $requests requests, $rps req/s, non-2xx: ${non2xx:-0}, socket errors: ${socket_errors:-none}"
[[ -z $non2xx && -z $socket_errors ]] || die "requests failed during the reloads"
((generation >= RELOADS)) || die "only $generation reloads took effect"
[[ $failed == 1 ]] || die "expected exactly one failed reload (the broken file), got $failed"
echo "PASS: 0 failed requests across $RELOADS reloads and one rejected file"
