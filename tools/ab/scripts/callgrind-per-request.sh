#!/usr/bin/env bash
# User-space instructions per request of one corio-ab bundled server, counted by callgrind
# (repeatable where wall-clock CPU time is not): the server runs under callgrind on CPU 0,
# h2load (nghttp2-client) sends a warm-up, the counters are zeroed, then N requests over C
# keep-alive connections, then the counters are dumped. Kernel time is not counted.
#
#   tools/ab/scripts/callgrind-per-request.sh tokio-ct
#   tools/ab/scripts/callgrind-per-request.sh corio CORIO_BACKEND=uring CORIO_RECV=multishot
#
# Needs valgrind and h2load, and a release build: cargo build --release -p corio-ab.
# N (20000) and C (100) come from the environment.
#
# Under valgrind the server runs ~50x slower, so many more requests land between two reaps.
# With incremental provided buffers (the default on Linux 6.12+) C=1000 is still
# representative (1.11 task polls per request, tokio-ct 1.08). With whole buffers (older
# kernels, or `serve --recv-whole-buffers`) keep C at 100: at C=1000 ~0.6 receives
# per request end with ENOBUFS and re-arm, with an extra task poll each (corio-ab counts none
# at full speed).

set -euo pipefail
runtime=$1
shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$root/target/release/corio-ab
n=${N:-20000}
c=${C:-100}
out=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
env "$@" taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
    "$bin" serve --runtime "$runtime" --port "$port" --workers 1 >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 150); do
    ss -ltn | grep -q "127.0.0.1:$port " && break
    sleep 0.2
done
taskset -c 1 h2load --h1 -n 2000 -c "$c" -t 1 "http://127.0.0.1:$port/" >/dev/null
callgrind_control -z "$pid" >/dev/null 2>&1
taskset -c 1 h2load --h1 -n "$n" -c "$c" -t 1 "http://127.0.0.1:$port/" | grep -E '^requests:'
callgrind_control -d "$pid" >/dev/null 2>&1
ir=$(awk '/^summary:/ { print $2; exit }' "$out/cg.out.1")
echo "$runtime $* instructions/request: $((ir / n))"
