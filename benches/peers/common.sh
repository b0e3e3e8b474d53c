# shellcheck shell=bash
# Shared by benches/load.sh and benches/memory.sh (sourced, not run): tool checks, config
# templates, free ports, and starting/stopping the origin and the three proxies, each pinned
# to its core with taskset.
#
# Callers set BENCH_TMP (a scratch directory) and call bench_cleanup from an EXIT trap.

PEERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# nginx and haproxy live in /usr/sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

ORIGIN_CPU=${ORIGIN_CPU:-0}   # the origin and the load generator
PROXY_CPU=${PROXY_CPU:-1}     # the proxy under test, alone
RAMPART_BIN=${RAMPART_BIN:-target/dist/rampart-proxy}

# File descriptors: raise the soft limit as far as the hard one allows (a container may cap
# the hard limit below 65536 even for root); the peers' connection limits follow from it.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=65536
NGINX_CONNS=$((NOFILE - 100))
HAPROXY_MAXCONN=${HAPROXY_MAXCONN:-$(((NOFILE - 200) / 2))}
HAPROXY_LIMITS=${HAPROXY_LIMITS:-"# strict-limits: HAProxy's default"}

STARTED_PIDS=()   # every long-lived process we started, for bench_cleanup
USED_PORTS=()
APT_UPDATED=0
NGINX_MORE_MODULE=""   # path of the headers-more module when available

log() { printf '%s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# apt_install PACKAGE...: root only; runs `apt-get update` once per script run first.
apt_install() {
    [[ $(id -u) -eq 0 ]] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    if ((APT_UPDATED == 0)); then
        log "installing missing packages ($*): apt-get update first"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# ensure_cmd COMMAND PACKAGE: installs PACKAGE (as root) when COMMAND is missing.
ensure_cmd() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ $(id -u) -ne 0 ]]; then
        die "$1 is missing: run as root (the script installs it) or apt-get install -y $2"
    fi
    apt_install "$2" || die "could not install $2"
    command -v "$1" >/dev/null 2>&1 || die "$1 still missing after installing $2"
}

# ensure_nginx_more: sets NGINX_MORE_MODULE to the headers-more module, installing Debian's
# libnginx-mod-http-headers-more-filter as root when missing. Without it nginx still runs,
# but sends "Server: nginx" and cannot remove header prefixes (x-amzn-* ...).
ensure_nginx_more() {
    local so=/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so
    if [[ ! -f $so ]]; then
        apt_install libnginx-mod-http-headers-more-filter ||
            log "warning: headers-more unavailable (needs root and libnginx-mod-http-headers-more-filter): nginx will send 'Server: nginx' and keep unknown x-amzn-* headers"
    fi
    if [[ -f $so ]]; then NGINX_MORE_MODULE=$so; fi
}

# check_cpus: both pinning targets must exist.
check_cpus() {
    local cpu
    for cpu in "$ORIGIN_CPU" "$PROXY_CPU"; do
        taskset -c "$cpu" true 2>/dev/null ||
            die "cannot pin to CPU $cpu (this machine has $(nproc --all) CPUs); set ORIGIN_CPU/PROXY_CPU"
    done
    if [[ $ORIGIN_CPU == "$PROXY_CPU" ]]; then
        log "warning: ORIGIN_CPU == PROXY_CPU ($ORIGIN_CPU): the proxy shares its core with wrk and the origin"
    fi
}

# build_rampart: cargo decides whether anything is stale (a no-op when up to date).
build_rampart() {
    if [[ -n ${SKIP_BUILD:-} ]]; then
        log "SKIP_BUILD set: using $RAMPART_BIN as is"
    elif command -v cargo >/dev/null 2>&1; then
        log "cargo build --profile dist -p rampart-proxy"
        cargo build --profile dist -p rampart-proxy >&2 ||
            die "cargo build failed (SKIP_BUILD=1 measures the existing $RAMPART_BIN as is)"
    fi
    [[ -x $RAMPART_BIN ]] || die "$RAMPART_BIN not found (cargo build --profile dist -p rampart-proxy)"
}

# render_template SRC DST NAME=VALUE...: replaces each @NAME@; fails on any left over
# outside comment lines.
render_template() {
    local src=$1 dst=$2 kv
    shift 2
    local args=()
    for kv in "$@"; do
        args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
    done
    sed "${args[@]}" "$src" >"$dst"
    if grep -n -v '^[[:space:]]*#' "$dst" | grep '@[A-Z_][A-Z_]*@' >&2; then
        die "unfilled placeholder in $dst (from $src)"
    fi
}

# free_port VAR: a loopback port nobody listens on and we have not handed out yet, taken
# below the ephemeral range so that no client connection (wrk's, a proxy's to the origin)
# can hold it as its local port.
free_port() {
    local p tries low
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    ((low > 12000)) || low=32768
    for ((tries = 0; tries < 500; tries++)); do
        p=$((10000 + RANDOM % (low - 10000)))
        [[ " ${USED_PORTS[*]} " == *" $p "* ]] && continue
        if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
            USED_PORTS+=("$p")
            printf -v "$1" '%s' "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}

# wait_ready NAME PORT PID LOG: polls the port until an HTTP answer comes (10 s at most).
wait_ready() {
    local name=$1 port=$2 pid=$3 logf=$4 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during startup; last lines of $logf:"
            tail -n 20 "$logf" >&2 || true
            die "$name did not start"
        fi
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/json"; then
            return 0
        fi
        sleep 0.1
    done
    tail -n 20 "$logf" >&2 || true
    die "$name not answering on 127.0.0.1:$port after 10 s"
}

# stop_pid PID: TERM, up to 5 s grace, then KILL; reaps it.
stop_pid() {
    local pid=$1 i
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${STARTED_PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    STARTED_PIDS=("${keep[@]}")
}

bench_cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        stop_pid "$pid"
    done
    if [[ -n ${BENCH_TMP:-} && -d $BENCH_TMP && -z ${KEEP_TMP:-} ]]; then
        rm -rf "$BENCH_TMP"
    fi
}

# nginx_prefix DIR: the scratch layout one nginx instance needs (never /etc/nginx, /var/lib).
nginx_prefix() {
    mkdir -p "$1"/{www,client_body,proxy,fastcgi,uwsgi,scgi}
}

# start_origin: the origin nginx on ORIGIN_CPU; sets ORIGIN_PORT and ORIGIN_PID.
start_origin() {
    local prefix=$BENCH_TMP/origin
    nginx_prefix "$prefix"
    head -c 65536 /dev/urandom >"$prefix/www/64k.bin"
    free_port ORIGIN_PORT
    render_template "$PEERS_DIR/origin.nginx.conf" "$prefix/nginx.conf" \
        "USER=$(id -un)" "PREFIX=$prefix" "ORIGIN_PORT=$ORIGIN_PORT" \
        "NOFILE=$NOFILE" "NGINX_CONNS=$NGINX_CONNS"
    taskset -c "$ORIGIN_CPU" nginx -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" \
        >"$prefix/stdout.log" 2>&1 &
    ORIGIN_PID=$!
    STARTED_PIDS+=("$ORIGIN_PID")
    wait_ready "origin nginx" "$ORIGIN_PORT" "$ORIGIN_PID" "$prefix/error.log"
}

# render_proxy_config NAME DIR: writes DIR/<config> for proxy NAME (needs PROXY_PORT,
# ORIGIN_PORT); prints the config path.
render_proxy_config() {
    local name=$1 dir=$2
    case $name in
    rampart | rampart-pass)
        render_template "$PEERS_DIR/rampart.toml" "$dir/rampart.toml" \
            "PROXY_PORT=$PROXY_PORT" "ORIGIN_PORT=$ORIGIN_PORT"
        if [[ $name == rampart-pass ]]; then
            # The same proxy passing error bodies through: the baseline of the rewrite target.
            printf 'error_bodies = "off"\n' >>"$dir/rampart.toml"
        fi
        echo "$dir/rampart.toml"
        ;;
    nginx)
        nginx_prefix "$dir"
        local load="# headers-more module not available" drop='#@more$'
        if [[ -n $NGINX_MORE_MODULE ]]; then
            load="load_module $NGINX_MORE_MODULE;"
            drop='#@stock$'
        fi
        render_template "$PEERS_DIR/nginx.conf" "$dir/nginx.conf.tmp" \
            "LOAD_MORE=$load" "USER=$(id -un)" "PREFIX=$dir" \
            "PROXY_PORT=$PROXY_PORT" "ORIGIN_PORT=$ORIGIN_PORT" \
            "NOFILE=$NOFILE" "NGINX_CONNS=$NGINX_CONNS"
        grep -v -- "$drop" "$dir/nginx.conf.tmp" >"$dir/nginx.conf"
        echo "$dir/nginx.conf"
        ;;
    haproxy)
        render_template "$PEERS_DIR/haproxy.cfg" "$dir/haproxy.cfg" \
            "PROXY_PORT=$PROXY_PORT" "ORIGIN_PORT=$ORIGIN_PORT" \
            "HAPROXY_MAXCONN=$HAPROXY_MAXCONN" "HAPROXY_LIMITS=$HAPROXY_LIMITS"
        echo "$dir/haproxy.cfg"
        ;;
    *) die "unknown proxy $name" ;;
    esac
}

# start_proxy NAME: starts rampart | rampart-pass | nginx | haproxy alone on PROXY_CPU, one worker, in front
# of the origin; sets PROXY_PORT, PROXY_PID and PROXY_LOG.
start_proxy() {
    local name=$1 dir cfg
    dir=$BENCH_TMP/$name.$RANDOM
    mkdir -p "$dir"
    free_port PROXY_PORT
    cfg=$(render_proxy_config "$name" "$dir")
    PROXY_LOG=$dir/$name.log
    case $name in
    rampart | rampart-pass)
        taskset -c "$PROXY_CPU" "$RAMPART_BIN" --config "$cfg" --workers 1 >"$PROXY_LOG" 2>&1 &
        ;;
    nginx)
        PROXY_LOG=$dir/error.log
        taskset -c "$PROXY_CPU" nginx -p "$dir" -e "$PROXY_LOG" -c "$cfg" >"$dir/stdout.log" 2>&1 &
        ;;
    haproxy)
        taskset -c "$PROXY_CPU" haproxy -db -f "$cfg" >"$PROXY_LOG" 2>&1 &
        ;;
    esac
    PROXY_PID=$!
    STARTED_PIDS+=("$PROXY_PID")
    wait_ready "$name" "$PROXY_PORT" "$PROXY_PID" "$PROXY_LOG"
}

# pid_tree PID: PID and all its descendants (nginx: master and worker).
pid_tree() {
    local pid=$1 child
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null || true); do
        pid_tree "$child"
    done
}

# rss_kib PID: VmRSS summed over PID's process tree, in KiB.
rss_kib() {
    local total=0 p kib
    for p in $(pid_tree "$1"); do
        kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}
