#!/usr/bin/env bash
# Builds the rampart-proxy container image (FROM scratch, static binary, uid 65532) with buildah,
# runs it with podman in front of a local origin and checks the strict preset's headers through it.
# With --verify it builds the rampart-verify image instead and runs `rampart-verify --help` in it.
#
# Usage: deploy/container/build-and-test.sh [--proxy] [--verify] [--tag TAG] [--rm-image] [--no-build]
#   --proxy      build and test the proxy image (the default when neither --proxy nor --verify is given)
#   --verify     build the verifier image and run `rampart-verify --help` (and --version) in it
#   --tag TAG    image tag (default: local); images are rampart-proxy:TAG and rampart-verify:TAG
#   --rm-image   remove the built images at the end (the tests use this; by default they are kept)
#   --no-build   use the binaries already built in $CARGO_TARGET_DIR (skip cargo)
#
# Exit codes: 0 every check passed; 1 a check failed (the message names it); 2 a build step failed
# or bad usage; 3 buildah/podman/runc are missing and cannot be installed, or cannot run here
# (the message says which and why). Nothing is ever skipped silently.
#
# How images build and run on a machine without a registry (see the README's Deploy section):
# buildah with the vfs storage driver and chroot isolation; podman with runc, cgroupfs and an
# empty default_ulimits (podman's default ulimits cannot be applied in every environment).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

prog=deploy/container/build-and-test.sh
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
build_error() { say "build error: $*"; exit 2; }
cannot_run() {
    say "cannot build or run containers here: $*"
    say "the container test did NOT run (exit 3)"
    exit 3
}

want_proxy=0
want_verify=0
tag=local
rm_image=0
do_build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --proxy) want_proxy=1 ;;
        --verify) want_verify=1 ;;
        --tag)
            [ $# -ge 2 ] || build_error "--tag needs a value"
            tag=$2
            shift
            ;;
        --rm-image) rm_image=1 ;;
        --no-build) do_build=0 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
            exit 0
            ;;
        *) build_error "unknown argument '$1' (see --help)" ;;
    esac
    shift
done
if [ "$want_proxy" = 0 ] && [ "$want_verify" = 0 ]; then
    want_proxy=1
fi

target=x86_64-unknown-linux-gnu
# A separate target directory: the static build uses other RUSTFLAGS, so it neither invalidates
# nor waits on the regular target/release build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/container}"
# The proxy ships built with the `dist` profile (fat LTO, one codegen unit: Cargo.toml says
# why), the verifier with `release`.
profile_of() { if [ "$1" = rampart-proxy ]; then echo dist; else echo release; fi; }
bindir_of() { echo "$CARGO_TARGET_DIR/$target/$(profile_of "$1")"; }

need() { command -v "$1" >/dev/null 2>&1; }

# ---- container tools ------------------------------------------------------------------------
missing=()
for tool in buildah podman runc; do
    need "$tool" || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        cannot_run "${missing[*]} not installed and not running as root, so they cannot be installed (as root: apt-get install -y buildah podman runc)"
    fi
    if ! need apt-get; then
        cannot_run "${missing[*]} not installed and apt-get is not available to install them"
    fi
    say "installing ${missing[*]} with apt-get"
    apt_log=$(mktemp)
    # A fresh machine may have no package lists yet: update once and retry.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y buildah podman runc >"$apt_log" 2>&1 &&
        ! { apt-get update >>"$apt_log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y buildah podman runc >>"$apt_log" 2>&1; }; then
        tail -n 20 "$apt_log" >&2
        rm -f "$apt_log"
        cannot_run "apt-get install -y buildah podman runc failed (output above)"
    fi
    rm -f "$apt_log"
    for tool in buildah podman runc; do
        need "$tool" || cannot_run "$tool is still missing after apt-get install"
    done
fi
for tool in curl python3 readelf strip; do
    need "$tool" || build_error "$tool is needed (curl; python3 for the test origin; readelf and strip from binutils)"
done

# ---- temporary state and cleanup --------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/rampart-container.XXXXXX")
containers=()
origin_pid=
images_to_remove=()
cleanup() {
    local c
    for c in "${containers[@]}"; do
        podman_ rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
    if [ -n "$origin_pid" ]; then
        kill "$origin_pid" 2>/dev/null || true
        wait "$origin_pid" 2>/dev/null || true
    fi
    for c in "${images_to_remove[@]}"; do
        podman_ rmi -f "$c" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# podman's default ulimits (RLIMIT_NOFILE etc.) are refused in some environments: none here.
printf '[containers]\ndefault_ulimits = []\n' >"$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
podman_() { podman --storage-driver vfs --cgroup-manager cgroupfs --runtime runc "$@"; }
buildah_() { buildah --storage-driver vfs "$@"; }

buildah_ info >"$work/buildah-info" 2>&1 || {
    tail -n 5 "$work/buildah-info" >&2
    cannot_run "'buildah --storage-driver vfs info' failed (output above)"
}

# ---- helpers ----------------------------------------------------------------------------------
static_binary() { # PACKAGE -> builds (unless --no-build) and checks it is statically linked
    local package=$1 profile bin
    profile=$(profile_of "$1")
    bin="$(bindir_of "$1")/$1"
    if [ "$do_build" = 1 ]; then
        say "cargo build --profile $profile --target $target -p $package (static glibc, nice 10; CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
        RUSTFLAGS='-C target-feature=+crt-static' nice -n 10 \
            cargo build --profile "$profile" --locked --target "$target" -p "$package" ||
            build_error "cargo build of $package failed (output above)"
    fi
    [ -x "$bin" ] || build_error "$bin does not exist (run without --no-build)"
    if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
        build_error "$bin is dynamically linked; it cannot run in a scratch image (was RUSTFLAGS='-C target-feature=+crt-static' set?)"
    fi
}

build_image() { # NAME CONTAINERFILE CONTEXT
    local name=$1 file=$2 context=$3 old version revision created
    old=$(podman_ image inspect --format '{{.Id}}' "$name:$tag" 2>/dev/null || true)
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
    revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
    created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    say "buildah bud -t $name:$tag -f $file (vfs, chroot isolation)"
    buildah_ bud --isolation chroot --layers=false --quiet \
        --build-arg "VERSION=${version:-0.0.0}" --build-arg "REVISION=$revision" \
        --build-arg "CREATED=$created" \
        -t "$name:$tag" -f "$file" "$context" >"$work/bud.log" 2>&1 || {
        cat "$work/bud.log" >&2
        build_error "buildah bud of $file failed (output above)"
    }
    local new
    new=$(podman_ image inspect --format '{{.Id}}' "$name:$tag" 2>/dev/null) ||
        cannot_run "podman does not see the image $name:$tag that buildah built (different storage configuration?)"
    # A rebuild leaves the previous image untagged; remove it so vfs storage does not pile up.
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        podman_ rmi "$old" >/dev/null 2>&1 || true
    fi
    if [ "$rm_image" = 1 ]; then
        images_to_remove+=("$name:$tag")
    fi
    local size_h size_b
    size_h=$(podman_ images --format '{{.Size}}' "$name:$tag" | head -n 1)
    size_b=$(podman_ image inspect --format '{{.Size}}' "$name:$tag")
    say "image $name:$tag: ${size_h} ($size_b bytes)"
}

check_image_user() { # IMAGE
    local user
    user=$(podman_ image inspect --format '{{.Config.User}}' "$1")
    [ "$user" = "65532:65532" ] || fail "$1: image user is '$user', expected 65532:65532"
    say "ok: $1 is configured to run as 65532:65532"
}

# Runs a one-off command in a container. podman run exits 125 when podman fails, 126 when runc
# cannot start the container (the environment: exit 3 here; unless exec of the entrypoint itself
# was refused, which is the image's fault), 127 when the entrypoint does not exist, otherwise
# with the command's own status.
run_once() { # OUTFILE [PODMAN-RUN-OPTIONS] IMAGE ARGS...
    local out=$1 rc=0
    shift
    podman_ run --rm --network host --read-only --cap-drop ALL \
        --security-opt no-new-privileges "$@" >"$out" 2>&1 || rc=$?
    [ "$rc" = 0 ] && return 0
    cat "$out" >&2
    case "$rc" in
        125) cannot_run "'podman run $*' failed (output above): podman cannot run containers here" ;;
        126)
            if grep -q 'exec: ' "$out"; then
                fail "'podman run $*': the image's entrypoint cannot be executed (output above)"
            fi
            cannot_run "'podman run $*' failed (output above): runc cannot start containers here"
            ;;
        127) fail "'podman run $*': the image's entrypoint does not exist (output above)" ;;
        *) fail "'podman run $*' exited $rc (output above)" ;;
    esac
}

# ---- proxy image ------------------------------------------------------------------------------
test_proxy() {
    local image="rampart-proxy:$tag" ctx="$work/proxy-context"
    static_binary rampart-proxy
    mkdir -p "$ctx"
    # Without the debug info (line tables: 50 -> 15 MB); symbols stay for backtraces.
    strip --strip-debug -o "$ctx/rampart-proxy" "$(bindir_of rampart-proxy)/rampart-proxy"
    build_image rampart-proxy deploy/container/Containerfile.proxy "$ctx"
    check_image_user "$image"

    run_once "$work/version.out" "$image" --version
    say "in the image: $(head -n 1 "$work/version.out")"

    # The origin: leaks its stack in Server and X-Powered-By; binds port 0 and reports the port.
    cat >"$work/origin.py" <<'PY'
import http.server
import os
import sys

class Leaky(http.server.BaseHTTPRequestHandler):
    server_version = "nginx/1.18.0"
    sys_version = "(Ubuntu)"

    def do_GET(self):
        body = b"hello from the origin\n"
        self.send_response(200)
        self.send_header("X-Powered-By", "PHP/7.4.3")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Leaky)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
PY
    python3 "$work/origin.py" "$work/origin.port" 2>"$work/origin.log" &
    origin_pid=$!
    local deadline=$((SECONDS + 15))
    until [ -s "$work/origin.port" ]; do
        kill -0 "$origin_pid" 2>/dev/null || {
            cat "$work/origin.log" >&2
            fail "the test origin (python3) exited before listening"
        }
        [ $SECONDS -lt $deadline ] || fail "the test origin did not report its port within 15s"
        sleep 0.1
    done
    local origin_port listen_port
    origin_port=$(cat "$work/origin.port")
    curl -fsS -o /dev/null "http://127.0.0.1:$origin_port/" || fail "the test origin does not answer on 127.0.0.1:$origin_port"
    # A free port for the proxy (the kernel picks it; the proxy binds it a moment later).
    listen_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    local admin_port
    admin_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

    # The configuration goes in as a mounted file, as a ConfigMap would: the image's default
    # command reads /etc/rampart/rampart.toml. `localhost` exercises name resolution in scratch.
    cat >"$work/rampart.toml" <<EOF
[server]
listen = "127.0.0.1:$listen_port"
workers = 1

[admin]
listen = "127.0.0.1:$admin_port"

# The strict preset everywhere; under /hsts-forced HSTS is forced (as behind a TLS-terminating
# load balancer that sends no X-Forwarded-Proto).
[policies.forced]
extends = "strict"
strict_transport_security = { force = true }

[[routes]]
name = "site"
upstream = "http://localhost:$origin_port"

[[routes]]
name = "forced"
path_prefix = "/hsts-forced"
upstream = "http://localhost:$origin_port"
policy = "forced"
EOF
    chmod 0644 "$work/rampart.toml"
    local mount="$work/rampart.toml:/etc/rampart/rampart.toml:ro"

    run_once "$work/check.out" -v "$mount" "$image" check --config /etc/rampart/rampart.toml
    say "ok: 'rampart-proxy check' accepts the mounted config inside the container"

    local ctr="rampart-proxy-test-$$"
    containers+=("$ctr")
    podman_ run -d --name "$ctr" --network host --read-only --cap-drop ALL \
        --security-opt no-new-privileges -v "$mount" "$image" >"$work/run.out" 2>&1 || {
        cat "$work/run.out" >&2
        cannot_run "'podman run -d $image' failed (output above)"
    }

    # Readiness: poll until the proxy answers (deadline 30s), failing fast if the container exits.
    local url="http://127.0.0.1:$listen_port/" state
    deadline=$((SECONDS + 30))
    until curl -sS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        state=$(podman_ inspect --format '{{.State.Status}}' "$ctr" 2>/dev/null || echo gone)
        if [ "$state" != running ] && [ "$state" != created ]; then
            podman_ logs "$ctr" >&2 2>&1 || true
            fail "the proxy container stopped ($state) before answering on $url (logs above)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            podman_ logs "$ctr" >&2 2>&1 || true
            fail "the proxy did not answer on $url within 30s (logs above)"
        fi
        sleep 0.2
    done
    say "ok: the proxy answers on $url"

    curl -sS -D "$work/headers" -o "$work/body" --max-time 10 "$url" || fail "curl $url failed"
    tr -d '\r' <"$work/headers" >"$work/h"
    header() { grep -i "^$1:" "$work/h" | sed 's/^[^:]*:[[:space:]]*//'; }
    local status
    status=$(head -n 1 "$work/h")
    case "$status" in
        "HTTP/1.1 200"*) ;;
        *) cat "$work/h" >&2; fail "expected 200 through the proxy, got: $status" ;;
    esac
    grep -q 'hello from the origin' "$work/body" || fail "the origin's body did not come through the proxy"

    local errors=0
    expect_header() { # NAME EXPECTED-VALUE-REGEX
        local got
        got=$(header "$1")
        if [ -z "$got" ]; then
            say "FAIL: $1 missing"
            errors=$((errors + 1))
        elif ! grep -Eq "$2" <<<"$got"; then
            say "FAIL: $1: '$got' does not match /$2/"
            errors=$((errors + 1))
        else
            say "ok: $1: $got"
        fi
    }
    absent() { # NAME WHY
        if grep -qi "^$1:" "$work/h"; then
            say "FAIL: $1 present ($2): $(header "$1")"
            errors=$((errors + 1))
        else
            say "ok: no $1 ($2)"
        fi
    }
    expect_header X-Content-Type-Options '^nosniff$'
    expect_header X-Frame-Options '^DENY$'
    expect_header Content-Security-Policy "default-src 'self'"
    expect_header Referrer-Policy '^no-referrer$'
    expect_header Permissions-Policy '.'
    expect_header Cross-Origin-Opener-Policy '^same-origin$'
    # Server: exactly one line, rampart's, not the origin's nginx banner.
    local servers
    servers=$(grep -ci '^server:' "$work/h" || true)
    if [ "$servers" = 1 ]; then
        expect_header Server '^rampart$'
    else
        say "FAIL: $servers Server lines (expected exactly one)"
        errors=$((errors + 1))
    fi
    absent X-Powered-By "the origin sent PHP/7.4.3"
    # Plain HTTP without force = true: HSTS must not be sent.
    absent Strict-Transport-Security "plain HTTP and HSTS not forced"

    # ... and sent where the policy forces it.
    curl -sS -D "$work/headers" -o /dev/null --max-time 10 "${url}hsts-forced/" ||
        fail "curl ${url}hsts-forced/ failed"
    tr -d '\r' <"$work/headers" >"$work/h"
    expect_header Strict-Transport-Security '^max-age=63072000; includeSubDomains$'

    # The admin listener: liveness, readiness (the origin passed the TCP check), metrics.
    local admin="http://127.0.0.1:$admin_port" ready
    curl -fsS --max-time 5 "$admin/healthz" | grep -qx ok || {
        say "FAIL: GET /healthz on the admin listener did not answer ok"
        errors=$((errors + 1))
    }
    deadline=$((SECONDS + 15))
    until ready=$(curl -fsS --max-time 5 "$admin/readyz" 2>/dev/null); do
        if [ $SECONDS -ge $deadline ]; then
            say "FAIL: /readyz not ready within 15s: $(curl -sS --max-time 5 "$admin/readyz")"
            errors=$((errors + 1))
            break
        fi
        sleep 0.2
    done
    [ -n "${ready:-}" ] && say "ok: /readyz: $(tr '\n' ';' <<<"$ready")"
    local metrics
    metrics=$(curl -fsS --max-time 5 "$admin/metrics" || true)
    if grep -q '^rampart_responses_total{route="site",class="2xx"} [1-9]' <<<"$metrics"; then
        say "ok: /metrics counts the responses by route"
    else
        say "FAIL: /metrics has no 2xx count for route site"
        errors=$((errors + 1))
    fi

    # The process in the container runs as 65532:65532.
    local pid uid gid
    pid=$(podman_ inspect --format '{{.State.Pid}}' "$ctr")
    uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
    gid=$(awk '/^Gid:/ {print $2}' "/proc/$pid/status")
    if [ "$uid" = 65532 ] && [ "$gid" = 65532 ]; then
        say "ok: the proxy process (host pid $pid) runs as uid $uid gid $gid"
    else
        say "FAIL: the proxy process runs as uid $uid gid $gid, expected 65532/65532"
        errors=$((errors + 1))
    fi

    # SIGTERM: a clean drain and exit 0 (podman stop sends the image's STOPSIGNAL).
    podman_ stop -t 40 "$ctr" >/dev/null
    local code
    code=$(podman_ inspect --format '{{.State.ExitCode}}' "$ctr")
    if [ "$code" = 0 ]; then
        say "ok: exit code 0 after SIGTERM"
    else
        podman_ logs "$ctr" >&2 2>&1 || true
        say "FAIL: exit code $code after SIGTERM (logs above)"
        errors=$((errors + 1))
    fi

    [ "$errors" = 0 ] || fail "$errors check(s) failed for $image"
    say "PASS: $image"
}

# ---- verifier image ---------------------------------------------------------------------------
test_verify() {
    local image="rampart-verify:$tag" ctx="$work/verify-context"
    local bundle=/etc/ssl/certs/ca-certificates.crt
    [ -s "$bundle" ] || build_error "$bundle is missing; the verifier image needs a CA bundle (apt-get install -y ca-certificates)"
    static_binary rampart-verify
    mkdir -p "$ctx"
    strip --strip-debug -o "$ctx/rampart-verify" "$(bindir_of rampart-verify)/rampart-verify"
    cp "$bundle" "$ctx/ca-certificates.crt"
    build_image rampart-verify deploy/container/Containerfile.verify "$ctx"
    check_image_user "$image"
    local env
    env=$(podman_ image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image")
    grep -qx 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' <<<"$env" ||
        fail "$image does not set SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
    say "ok: SSL_CERT_FILE names the bundle in the image"

    run_once "$work/help.out" "$image" --help
    grep -q 'probe' "$work/help.out" || {
        cat "$work/help.out" >&2
        fail "rampart-verify --help in the image does not list the probe command"
    }
    sed 's/^/    /' "$work/help.out" >&2
    run_once "$work/version.out" "$image" --version
    say "in the image: $(head -n 1 "$work/version.out")"
    say "PASS: $image"
}

if [ "$want_proxy" = 1 ]; then
    test_proxy
fi
if [ "$want_verify" = 1 ]; then
    test_verify
fi
