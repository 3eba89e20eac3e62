#!/usr/bin/env bash
# Serving benchmark: lamina-serve (REST and gRPC with batching on and off; gRPC also on
# grpc-swift's transport, --grpc-transport grpc-swift, for comparison) and the Python peer
# (FastAPI + uvicorn + PyTorch, Benchmarks/peers/serve_torch.py, REST only) serve the MNIST
# convnet on loopback, one image per request; wrk (REST, the same JSON body for both) and h2load
# (gRPC: TF Serving's Predict with tensor_content; ghz is not packaged here; see run_grpc) drive
# 1, 16 and 64 connections for DURATION seconds each and report requests/s and latency
# percentiles; peak RSS is read from /proc. Then a SOAK-second load at 64 connections, REST and
# then gRPC, reports errors and the server's RSS every 5 s (flat: no growth beyond noise).
#
#   bash Benchmarks/serve_bench.sh [DURATION=10] [SOAK=60]
# PEER_WORKERS (default: the number of cores) uvicorn worker processes with one torch thread
# each, as a Python user deploys; PEER_WORKERS=1 is one process with torch's own threads.
# LAMINA_SERVE names another lamina-serve binary (e.g. an older build) and skips the build
# (GRPC_LOAD then names lamina-grpc-load; default: next to it).
# Needs: wrk and h2load (apt-get install -y wrk nghttp2-client), the peers venv with fastapi + uvicorn
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
  swift build -c release --product lamina-grpc-load 2>&1 | grep -E "error|Compiling|Build complete" | tail -2
  LAMINA_SERVE=.build/release/lamina-serve
fi
GRPC_LOAD="${GRPC_LOAD:-$(dirname "$LAMINA_SERVE")/lamina-grpc-load}"
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
# gRPC: h2load (nghttp2-client, in C, as wrk is for REST) when present: N connections with one
# call in flight each, the body written by lamina-grpc-load --write-body; the gRPC status of
# every call is checked afterwards in the server's /metrics (h2load sees HTTP statuses only).
# Without h2load (or with GRPC_CLIENT=lamina-grpc-load): lamina-grpc-load, a grpc-swift client
# that takes much more of the CPU the server shares with it.
GRPC_CLIENT="${GRPC_CLIENT:-$(command -v h2load > /dev/null && echo h2load || echo lamina-grpc-load)}"
run_grpc() {  # port connections seconds
  if [ "$GRPC_CLIENT" = h2load ]; then
    [ -f "$OUT/grpc-body.bin" ] || "$GRPC_LOAD" --write-body "$OUT/grpc-body.bin" mnist
    rm -f "$OUT/h2load.log"
    h2load -D "$3" -c "$2" -m 1 -t $(( $2 < 2 ? 1 : 2 )) -d "$OUT/grpc-body.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
      --log-file="$OUT/h2load.log" "http://127.0.0.1:$1/tensorflow.serving.PredictionService/Predict" > "$OUT/h2load.out" 2>&1
    sort -n -k3 "$OUT/h2load.log" | awk -v rps="$(grep -oP 'finished in .*?, \K[0-9.]+(?= req/s)' "$OUT/h2load.out")" '
      { t[NR] = $3 / 1000; sum += $3 / 1000; if ($2 != 200) bad++ }
      END { printf "RESULT %s %.3f %.3f %.3f %d %d\n", rps, t[int(NR * 0.5) + 1], t[int(NR * 0.99) + 1], sum / NR, bad, NR }'
  else
    "$GRPC_LOAD" "$1" mnist "$2" "$3" | grep RESULT
  fi
}
# Predict calls answered with a gRPC error so far (the server counts them by HTTP status).
grpc_errors() {
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^lamina_requests_total/ && /code="[0-9]+"/ && !/code="200"/ { n += $NF } END { print n + 0 }'
}
echo "BLAS: $(OPENBLAS_VERBOSE=2 "$LAMINA_SERVE" --help 2>&1 | grep -i "core:" | head -1 || true) (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
echo "server            conns  req/s     p50_ms   p99_ms   mean_ms  errors  requests  peak_rss_MiB"
bench() {  # label port pid [runner]
  local runner="${4:-run_wrk}"
  for c in 1 16 64; do
    read -r _ rps p50 p99 mean errors requests <<< "$("$runner" "$2" "$c" "$DURATION")"
    printf "%-17s %5d  %8.1f  %7.3f  %7.3f  %7.3f  %6d  %8d  %6.1f\n" "$1" "$c" "$rps" "$p50" "$p99" "$mean" "$errors" "$requests" "$(echo "$(hwm "$3") / 1024" | bc -l)"
  done
}
for mode in batching no-batching grpc-swift; do
  batch=64; [ "$mode" = no-batching ] && batch=0
  transport=direct; [ "$mode" = grpc-swift ] && transport=grpc-swift
  "$LAMINA_SERVE" "$OUT/mnist.keras" --name mnist --port 18501 --grpc-port 18500 --max-batch "$batch" --batch-timeout 1000 \
    --grpc-transport "$transport" 2> "$OUT/lamina-$mode.log" &
  pid=$!; wait_up 18501
  if [ "$mode" = grpc-swift ]; then   # the gRPC server before the direct transport, for comparison
    bench "gRPC on grpc-swift" 18500 "$pid" run_grpc
  else
    bench "lamina $mode" 18501 "$pid"
    bench "lamina gRPC $mode" 18500 "$pid" run_grpc
  fi
  echo "  (gRPC calls answered with an error status, from /metrics: $(grpc_errors 18501))"
  kill -INT "$pid"; wait "$pid" || true
done
"$PYTHON" Benchmarks/peers/serve_torch.py --port 18502 --workers "$PEER_WORKERS" 2> "$OUT/peer.log" &
pid=$!; wait_up 18502
bench "fastapi+torch x$PEER_WORKERS" 18502 "$pid"
kill "$pid"; wait "$pid" 2>/dev/null || true

[ "$SOAK" -gt 0 ] || exit 0
soak() {  # label runner port
  echo "soak: lamina-serve $1, batching, 64 connections, ${SOAK}s; RSS (MiB) every 5 s:"
  "$LAMINA_SERVE" "$OUT/mnist.keras" --name mnist --port 18501 --grpc-port 18500 --max-batch 64 --batch-timeout 1000 2> "$OUT/lamina-soak.log" &
  pid=$!; wait_up 18501
  "$2" "$3" 64 "$SOAK" > "$OUT/soak.txt" &
  local load=$! samples=""
  while kill -0 "$load" 2> /dev/null; do
    sleep 5
    kill -0 "$load" 2> /dev/null && samples="$samples $(echo "scale=1; $(rss "$pid") / 1024" | bc -l)"
  done
  wait "$load"
  read -r _ rps p50 p99 mean errors requests < "$OUT/soak.txt"
  echo "  RSS:$samples"
  local first last
  first=$(echo "$samples" | awk '{print $1}'); last=$(echo "$samples" | awk '{print $NF}')
  printf "soak %s: %d requests, %.1f req/s, p99 %.3f ms, errors %d; RSS first sample %.1f MiB, last %.1f MiB (%+.1f%%)\n" \
    "$1" "$requests" "$rps" "$p99" "$errors" "$first" "$last" "$(echo "($last - $first) * 100 / $first" | bc -l)"
  echo "  requests answered with an error status, from /metrics: $(grpc_errors 18501)"
  kill -INT "$pid"; wait "$pid" || true
}
soak REST run_wrk 18501
soak gRPC run_grpc 18500
