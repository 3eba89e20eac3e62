#!/usr/bin/env bash
# Serving benchmark: lamina-serve (batching on and off) and the Python peer (FastAPI +
# uvicorn + PyTorch, Benchmarks/peers/serve_torch.py) serve the MNIST convnet on loopback with
# the same JSON protocol; wrk drives 1, 16 and 64 connections for DURATION seconds each and
# reports requests/s and latency percentiles; peak RSS is read from /proc. Then a SOAK-second
# load at 64 connections checks for errors and flat memory (RSS after 5 s vs at the end).
#
#   bash Benchmarks/serve_bench.sh [DURATION=10] [SOAK=60]
# PEER_WORKERS (default: the number of cores) uvicorn worker processes with one torch thread
# each, as a Python user deploys; PEER_WORKERS=1 is one process with torch's own threads.
# LAMINA_SERVE names another lamina-serve binary (e.g. an older build) and skips the build.
# Needs: wrk (apt-get install -y wrk), the peers venv with fastapi + uvicorn
# (PYTHON=$HOME/peers-venv/bin/python), a release build of lamina-serve.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"; SOAK="${2:-60}"
PYTHON="${PYTHON:-$HOME/peers-venv/bin/python}"
OUT="$(mktemp -d)"
PEER_WORKERS="${PEER_WORKERS:-$(nproc)}"
LAMINA_SERVE="${LAMINA_SERVE:-}"
if [ -z "$LAMINA_SERVE" ]; then
  swift build -c release --product lamina-serve 2>&1 | grep -E "error|Compiling|Build complete" | tail -2
  LAMINA_SERVE=.build/release/lamina-serve
fi
"$PYTHON" Benchmarks/make_serving_model.py "$OUT"
cat > "$OUT/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$OUT/request.json", "r"); wrk.body = f:read("*a"); f:close()
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
LUA
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
# Up to 90 s: uvicorn's worker processes import torch each, slowly on a loaded machine.
wait_up() { for _ in $(seq 450); do curl -sf "http://127.0.0.1:$1/healthz" > /dev/null && return 0; sleep 0.2; done; echo "server on $1 did not start"; exit 1; }
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2> /dev/null || true' EXIT
run_wrk() {  # port connections seconds
  local threads=$(( $2 < 2 ? 1 : 2 ))
  wrk -t"$threads" -c"$2" -d"${3}s" --timeout 10s -s "$OUT/post.lua" "http://127.0.0.1:$1/v1/models/mnist:predict" | grep RESULT
}
echo "machine: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2}'), $(nproc) cores"
echo "server            conns  req/s     p50_ms   p99_ms   mean_ms  errors  requests  peak_rss_MiB"
bench() {  # label port pid
  for c in 1 16 64; do
    read -r _ rps p50 p99 mean errors requests <<< "$(run_wrk "$2" "$c" "$DURATION")"
    printf "%-17s %5d  %8.1f  %7.3f  %7.3f  %7.3f  %6d  %8d  %6.1f\n" "$1" "$c" "$rps" "$p50" "$p99" "$mean" "$errors" "$requests" "$(echo "$(hwm "$3") / 1024" | bc -l)"
  done
}
for mode in batching no-batching; do
  batch=64; [ "$mode" = no-batching ] && batch=0
  "$LAMINA_SERVE" "$OUT/mnist.keras" --name mnist --port 18501 --max-batch "$batch" --batch-timeout 1000 2> "$OUT/lamina-$mode.log" &
  pid=$!; wait_up 18501
  bench "lamina $mode" 18501 "$pid"
  kill -INT "$pid"; wait "$pid" || true
done
"$PYTHON" Benchmarks/peers/serve_torch.py --port 18502 --workers "$PEER_WORKERS" 2> "$OUT/peer.log" &
pid=$!; wait_up 18502
bench "fastapi+torch x$PEER_WORKERS" 18502 "$pid"
kill "$pid"; wait "$pid" 2>/dev/null || true

[ "$SOAK" -gt 0 ] || exit 0
echo "soak: lamina-serve, batching, 64 connections, ${SOAK}s"
"$LAMINA_SERVE" "$OUT/mnist.keras" --name mnist --port 18501 --max-batch 64 --batch-timeout 1000 2> "$OUT/lamina-soak.log" &
pid=$!; wait_up 18501
run_wrk 18501 64 "$SOAK" > "$OUT/soak.txt" &
wrk_pid=$!
sleep 5; early=$(rss "$pid")
wait "$wrk_pid"; late=$(rss "$pid")
read -r _ rps p50 p99 mean errors requests < "$OUT/soak.txt"
printf "soak: %d requests, %.1f req/s, p99 %.3f ms, errors %d; RSS after 5 s %.1f MiB, at the end %.1f MiB (%+.1f%%)\n" \
  "$requests" "$rps" "$p99" "$errors" "$(echo "$early / 1024" | bc -l)" "$(echo "$late / 1024" | bc -l)" "$(echo "($late - $early) * 100 / $early" | bc -l)"
kill -INT "$pid"; wait "$pid" || true
