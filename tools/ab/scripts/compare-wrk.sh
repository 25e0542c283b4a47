#!/usr/bin/env bash
# Compares corio-ab's load generator with `wrk -t1` on the same server process and pinning.
#
# usage: tools/ab/scripts/compare-wrk.sh [tokio-ct|tokio-mt] [ROUNDS]
#
# One bundled server (`corio-ab serve`, pinned to CPU 0) is loaded alternately by
# `wrk -t1 -c100 -d5s` and by corio-ab's own generator (`corio-ab load`: 100 connections,
# 5 s, no warm-up), both pinned to CPU 1 with taskset. Before each round the script waits
# (at most 60 s) for 4 quiet seconds, since other work on a small machine swamps the numbers.
# Per round it prints req/s, the generator's own CPU time (user, sys) and the server's CPU
# time; the summary gives medians and the corio-ab/wrk ratio.
# Needs: wrk, taskset, python3, and `cargo build --release -p corio-ab`.
set -euo pipefail
RT=${1:-tokio-ct}
ROUNDS=${2:-10}
PORT=${PORT:-18090}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BIN=$ROOT/target/release/corio-ab
OUT=$(mktemp)

taskset -c 0 "$BIN" serve --runtime "$RT" --port "$PORT" --workers 1 &
SRV=$!
trap 'kill $SRV 2>/dev/null || true; rm -f "$OUT"' EXIT
sleep 0.5

SPEC='{"addr":"127.0.0.1:'$PORT'","connections":100,"warmup_secs":0.0,"duration_secs":5.0,
"requests":null,"pipeline":1,"rate":null,"timeout_secs":5.0,
"proto":{"mode":"http","path":"/","body":0,"expect_status":200,"expect_len":"auto"}}'
busy() { awk '/^cpu / {print $2+$3+$4+$9}' /proc/stat; }
server_ns() { cat /proc/$SRV/task/*/schedstat | awk '{s+=$1} END {printf "%.0f\n", s}'; }
wait_quiet() {
    for _ in $(seq 15); do
        local b0; b0=$(busy); sleep 4
        [ $(( $(busy) - b0 )) -lt 20 ] && return 0
    done
    echo "(machine not quiet)"
}
rps_of_ab() { tail -1 | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_sec"]))'; }

for i in $(seq "$ROUNDS"); do
    wait_quiet
    c0=$(server_ns)
    w=$( { /usr/bin/time -f "%U %S" taskset -c 1 timeout 20 wrk -t1 -c100 -d5s "http://127.0.0.1:$PORT/" \
        | awk '/Requests\/sec/ {print $2}'; } 2>&1 | tr '\n' ' ')
    c1=$(server_ns)
    a=$( { /usr/bin/time -f "%U %S" taskset -c 1 timeout 20 "$BIN" load --spec "$SPEC" | rps_of_ab; } 2>&1 | tr '\n' ' ')
    c2=$(server_ns)
    echo "$i wrk $w corio-ab $a server_ms $(( (c1 - c0) / 1000000 )) $(( (c2 - c1) / 1000000 ))" | tee -a "$OUT"
done

python3 - "$OUT" <<'PY'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1]) if " wrk " in l]
rows = [r for r in rows if len(r) >= 12]
w = [float(r[4]) for r in rows]; a = [float(r[8]) for r in rows]
wcpu = [(float(r[2]) + float(r[3])) / (x * 5) * 1e6 for r, x in zip(rows, w)]
acpu = [(float(r[6]) + float(r[7])) / (x * 5) * 1e6 for r, x in zip(rows, a)]
wsrv = [float(r[10]) * 1e3 / (x * 5) for r, x in zip(rows, w)]
asrv = [float(r[11]) * 1e3 / (x * 5) for r, x in zip(rows, a)]
ratio = [y / x for x, y in zip(w, a)]
print(f"rounds: {len(rows)}")
print(f"wrk -t1:  median {st.median(w):,.0f} req/s (min {min(w):,.0f}, max {max(w):,.0f}); "
      f"generator {st.median(wcpu):.1f} us CPU/req; server {st.median(wsrv):.1f} us CPU/req")
print(f"corio-ab: median {st.median(a):,.0f} req/s (min {min(a):,.0f}, max {max(a):,.0f}); "
      f"generator {st.median(acpu):.1f} us CPU/req; server {st.median(asrv):.1f} us CPU/req")
print(f"corio-ab / wrk: median of per-round ratios {st.median(ratio):.3f} "
      f"(min {min(ratio):.3f}, max {max(ratio):.3f}); ratio of medians {st.median(a) / st.median(w):.3f}")
PY
