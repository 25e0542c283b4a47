#!/usr/bin/env bash
# User-space instructions and simulated cache misses per 64 B echo message of one corio-ab
# bundled echo server, counted by callgrind: the server runs under callgrind on CPU 0, a
# Python client (echo_client.py, CPU 1) opens C connections and warms them up, the counters
# are zeroed, N messages are echoed (one in flight per connection), and the counters dumped.
# The cache is simulated as a 48 KiB L1d and a 1 MiB last level, so per-connection state
# that no longer fits shows as misses; the kernel's own use of the cache is not simulated.
#
#   tools/ab/scripts/callgrind-echo.sh raw-uring
#   tools/ab/scripts/callgrind-echo.sh corio CORIO_BACKEND=uring
#
# Needs valgrind and python3, and a release build: cargo build --release -p corio-ab.
# N (20000), C (1000) and SIZE (64) come from the environment.
set -euo pipefail
runtime=$1
shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${BIN:-$root/target/release/corio-ab}
n=${N:-20000}
c=${C:-1000}
size=${SIZE:-64}
out=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
env "$@" taskset -c 0 valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 \
    --LL=1048576,16,64 --callgrind-out-file="$out/cg.out" \
    "$bin" serve --runtime "$runtime" --port "$port" --workers 1 --mode echo \
    >"$out/server.log" 2>&1 &
pid=$!
client=
# SIGKILL: a server under valgrind waiting in io_uring_enter can sit out a SIGTERM.
trap 'kill -9 $pid $client 2>/dev/null || true' EXIT
for _ in $(seq 150); do
    ss -ltn | grep -q "127.0.0.1:$port " && break
    sleep 0.2
done
mkfifo "$out/go"
taskset -c 1 python3 "$root/tools/ab/scripts/echo_client.py" "$port" "$c" "$n" "$size" \
    <"$out/go" >"$out/client.log" &
client=$!
exec 3>"$out/go"
until grep -q ready "$out/client.log"; do sleep 0.2; done
callgrind_control -z "$pid" >/dev/null 2>&1
echo >&3
wait "$client"
client=
callgrind_control -d "$pid" >/dev/null 2>&1
tail -1 "$out/client.log"
awk -v n="$n" -v rt="$runtime $*" '
    /^events:/ { for (i = 2; i <= NF; i++) name[i] = $i }
    /^summary:/ {
        for (i = 2; i <= NF; i++) per[name[i]] = $i / n
        printf "%s per message: %.0f instructions, %.2f L1d misses, %.2f LL misses\n", rt,
            per["Ir"], per["D1mr"] + per["D1mw"], per["DLmr"] + per["DLmw"]
        exit
    }' "$out/cg.out.1"
echo "profile: $out/cg.out.1"
