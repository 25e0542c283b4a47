#!/usr/bin/env bash
# Checks the HTTP examples with a real external client: curl, over HTTP/1.1 and HTTP/2 with
# prior knowledge, once per backend. Every server binds 127.0.0.1:0 and prints the address it
# got; each is stopped with SIGTERM and must exit 0 after a graceful shutdown. Only loopback
# traffic; every step is bounded by a timeout; only processes this script started are killed.
#
# Usage:  scripts/curl_examples.sh
# Env:    BACKENDS        backends to run the examples on (default: "uring epoll")
#         EXAMPLES_DIR    prebuilt example binaries; unset: build them with cargo first (into
#                         $CARGO_TARGET_DIR, or target/ when that is unset)
#         CARGO_FEATURES  features for that build (default: "axum"; "" skips hello_axum)
#         CARGO           the cargo to build with (default: cargo)
set -euo pipefail

BACKENDS=${BACKENDS:-"uring epoll"}
CARGO_FEATURES=${CARGO_FEATURES-axum}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGS=$(mktemp -d)
PIDS=()
FAILURES=0

command -v curl >/dev/null || { echo "curl_examples: curl is not installed" >&2; exit 1; }

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$LOGS"
}
trap cleanup EXIT

if [[ -z ${EXAMPLES_DIR:-} ]]; then
    features=()
    [[ -n $CARGO_FEATURES ]] && features=(--features "$CARGO_FEATURES")
    (cd "$ROOT" && "${CARGO:-cargo}" build --quiet --examples "${features[@]}")
    EXAMPLES_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples
fi

fail() {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

# start NAME ARGS...: runs an example in the background with CORIO_BACKEND=$backend and waits
# until it printed its address; sets PID, LOG and ADDR.
start() {
    local name=$1
    shift
    LOG=$LOGS/$name.$backend.log
    CORIO_BACKEND=$backend "$EXAMPLES_DIR/$name" "$@" >"$LOG" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 200); do
        ADDR=$(grep -om1 'listening on http://[0-9.:]*' "$LOG" | sed 's|.*http://||') || true
        [[ -n $ADDR ]] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "--- $name did not start; its output:" >&2
    cat "$LOG" >&2
    return 1
}

# stop [SIGNAL]: SIGTERM (or SIGNAL) to the last started example; it must shut down cleanly
# and exit 0 within 10 s.
stop() {
    local pid=$PID status=0
    kill "-${1:-TERM}" "$pid"
    for _ in $(seq 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$(basename "$LOG"): still running 10 s after SIG${1:-TERM}"
        kill -KILL "$pid"
    fi
    wait "$pid" || status=$?
    [[ $status == 0 ]] || fail "$(basename "$LOG"): exit status $status after SIG${1:-TERM}"
    grep -q 'shut down cleanly' "$LOG" || fail "$(basename "$LOG"): no clean shutdown reported"
}

# check WHAT WANT GOT: GOT must be WANT.
check() {
    if [[ $3 == "$2" ]]; then
        echo "ok: $1 [$backend]"
    else
        fail "$1 [$backend]: expected '$2', got '$3'"
    fi
}

# expect WHAT WANT CURL_ARGS...: curl's output must be WANT.
expect() {
    local what=$1 want=$2 got
    shift 2
    got=$(curl --silent --show-error --max-time 5 "$@" 2>&1) || true
    if [[ $got == "$want" ]]; then
        echo "ok: $what [$backend]"
    else
        fail "$what [$backend]: expected '$want', got '$got'"
    fi
}

for backend in $BACKENDS; do
    start hello_hyper 127.0.0.1:0
    expect "hello_hyper HTTP/1.1" "Hello, World!" "http://$ADDR/"
    expect "hello_hyper keeps connections alive" "Hello, World!Hello, World!" \
        "http://$ADDR/" "http://$ADDR/"
    stop

    CORIO_WORKERS=2 start hello_hyper 127.0.0.1:0 --spread
    expect "hello_hyper --spread" "Hello, World!" "http://$ADDR/"
    stop

    start hello_auto 127.0.0.1:0
    expect "hello_auto HTTP/1.1" "Hello, World! (HTTP/1.1)" "http://$ADDR/"
    expect "hello_auto HTTP/2" "Hello, World! (HTTP/2.0)" --http2-prior-knowledge "http://$ADDR/"
    expect "hello_auto HTTP/2 version" "2" --http2-prior-knowledge -o /dev/null \
        -w '%{http_version}' "http://$ADDR/"
    stop INT # ctrl-c

    if [[ -x $EXAMPLES_DIR/hello_axum && -n $CARGO_FEATURES ]]; then
        start hello_axum 127.0.0.1:0
        expect "hello_axum /" "Hello, World!" "http://$ADDR/"
        expect "hello_axum JSON" '{"id":7,"name":"user-7"} 200' -w ' %{http_code}' \
            "http://$ADDR/users/7"
        expect "hello_axum POST" '{"id":1,"name":"ada"} 201' -w ' %{http_code}' \
            -H 'content-type: application/json' -d '{"name":"ada"}' "http://$ADDR/users"
        expect "hello_axum bad id" "400" -o /dev/null -w '%{http_code}' "http://$ADDR/users/x"
        expect "hello_axum HTTP/2" '{"id":8,"name":"user-8"}' --http2-prior-knowledge \
            "http://$ADDR/users/8"
        stop
    fi

    CORIO_WORKERS=2 start sharded 127.0.0.1:0
    for _ in $(seq 100); do
        [[ $(grep -c 'listening on' "$LOG") == 2 ]] && break
        sleep 0.05
    done
    [[ $(grep -c "listening on http://$ADDR" "$LOG") == 2 ]] ||
        fail "sharded [$backend]: the workers did not bind one address: $(cat "$LOG")"
    workers=$(for _ in $(seq 32); do
        curl --silent --max-time 5 -D - -o /dev/null "http://$ADDR/" |
            tr -d '\r' | sed -n 's/^x-corio-worker: //p'
    done | sort -u | tr '\n' ' ')
    if [[ $workers == "0 1 " ]]; then
        echo "ok: sharded, both workers answered [$backend]"
    else
        fail "sharded [$backend]: answers came from workers '$workers', expected '0 1 '"
    fi
    stop

    start hello_hyper 127.0.0.1:0
    upstream_pid=$PID upstream_log=$LOG upstream=$ADDR
    if got=$(CORIO_BACKEND=$backend timeout 10 "$EXAMPLES_DIR/client" "http://$upstream/" 3 2>/dev/null) &&
        [[ $got == $'Hello, World!\nHello, World!\nHello, World!' ]]; then
        echo "ok: client [$backend]"
    else
        fail "client [$backend]: got '${got:-}'"
    fi
    start proxy 127.0.0.1:0 "$upstream"
    expect "proxy" "Hello, World!" "http://$ADDR/"
    expect "proxy keeps connections alive" "Hello, World!Hello, World!" \
        "http://$ADDR/" "http://$ADDR/"
    stop
    PID=$upstream_pid LOG=$upstream_log
    stop

    # file_server on a tree with a 1 MiB file, a subdirectory, and a secret outside it.
    files=$LOGS/files
    if [[ ! -d $files ]]; then
        mkdir -p "$files/root/sub"
        head -c 1048576 /dev/urandom >"$files/root/big.bin"
        echo inner >"$files/root/sub/inner.txt"
        echo "TOP SECRET" >"$files/secret.txt"
    fi
    start file_server "$files/root" 127.0.0.1:0
    url=http://$ADDR/big.bin
    check "file_server GET checksum" "$(sha256sum <"$files/root/big.bin")" \
        "$(curl --silent --show-error --max-time 5 "$url" | sha256sum)"
    expect "file_server HEAD" "200 0" -I -o /dev/null -w '%{http_code} %{size_download}' "$url"
    check "file_server HEAD length" "content-length: 1048576" \
        "$(curl --silent --max-time 5 -I "$url" | tr -d '\r' | grep -i '^content-length:')"
    check "file_server Range" "$(tail -c +1001 "$files/root/big.bin" | head -c 100 | sha256sum)" \
        "$(curl --silent --max-time 5 -r 1000-1099 --fail "$url" | sha256sum)"
    expect "file_server Range status" "206" -r 1000-1099 -o /dev/null -w '%{http_code}' "$url"
    etag=$(curl --silent --max-time 5 -I "$url" | tr -d '\r' | sed -n 's/^etag: //Ip')
    expect "file_server 304" "304" -H "If-None-Match: $etag" -o /dev/null -w '%{http_code}' "$url"
    expect "file_server index redirect" "301" -o /dev/null -w '%{http_code}' "http://$ADDR/sub"
    check "file_server index" '<li><a href="inner.txt">inner.txt</a></li>' \
        "$(curl --silent --max-time 5 "http://$ADDR/sub/" | grep -F inner.txt)"
    for target in /../secret.txt /%2e%2e/secret.txt /sub/..%2f..%2fsecret.txt; do
        expect "file_server refuses $target" "403" --path-as-is -o /dev/null -w '%{http_code}' \
            "http://$ADDR$target"
    done
    stop
done

if [[ $FAILURES != 0 ]]; then
    echo "curl_examples: $FAILURES check(s) failed" >&2
    exit 1
fi
echo "curl_examples: all checks passed"
