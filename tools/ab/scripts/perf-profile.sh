#!/usr/bin/env bash
# Where one corio-ab bundled server spends its CPU, kernel included: the server runs on CPU 0,
# h2load (nghttp2-client) loads it from CPU 1 (2 s warm-up, then D seconds), and
# `perf record -e cpu-clock` samples the server for the middle D-2 seconds. Prints h2load's
# request count and the top symbols; the profile stays in the printed directory.
#
#   tools/ab/scripts/perf-profile.sh tokio-ct
#   tools/ab/scripts/perf-profile.sh corio CORIO_BACKEND=uring
#
# Needs perf (linux-perf) and h2load, and a release build: cargo build --release -p corio-ab.
# C (1000 connections) and D (6 s) come from the environment.
set -euo pipefail
runtime=$1
shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$root/target/release/corio-ab
c=${C:-1000}
d=${D:-6}
out=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
env "$@" taskset -c 0 "$bin" serve --runtime "$runtime" --port "$port" --workers 1 \
    >"$out/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    ss -ltn | grep -q "127.0.0.1:$port " && break
    sleep 0.1
done
taskset -c 1 h2load --h1 -D 2 -c "$c" -t 1 "http://127.0.0.1:$port/" >/dev/null
taskset -c 1 h2load --h1 -D "$d" -c "$c" -t 1 "http://127.0.0.1:$port/" >"$out/h2load.txt" &
load=$!
sleep 1
perf record -q -e cpu-clock -F 2000 -p "$pid" -o "$out/perf.data" -- sleep $((d - 2))
wait $load
grep -E '^requests:' "$out/h2load.txt"
perf report -i "$out/perf.data" --no-children --sort dso -q | head -5
perf report -i "$out/perf.data" --no-children --sort sym -q | head -30
echo "profile: $out/perf.data"
