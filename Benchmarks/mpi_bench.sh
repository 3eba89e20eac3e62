#!/usr/bin/env bash
# Data-parallel overhead on this machine: one epoch of the MNIST convnet (lamina-bench
# cnn_data_parallel: Adam, global batch 128) as one plain process, and under mpirun with 1 and
# 2 ranks. On 2 cores the point is the overhead (allreduce time per step, its share of the
# step), not the speed-up. Writes Benchmarks/results/data_parallel_<date>.jsonl.
#   bash Benchmarks/mpi_bench.sh [SAMPLES]      (default 60000; needs openmpi-bin, MNIST in ../shared/data/mnist or $LAMINA_DATA)
set -euo pipefail
cd "$(dirname "$0")/.."
SAMPLES="${1:-60000}"
DATA="${LAMINA_DATA:-../shared/data/mnist}"
OUT="Benchmarks/results/data_parallel_$(date +%Y%m%d).jsonl"
swift build -c release --product lamina-bench 2>&1 | tail -1
B=.build/release/lamina-bench
# --allow-run-as-root: containers run as root; --oversubscribe: more ranks than cores is allowed;
# single-copy off: containers usually forbid the ptrace-based CMA that Open MPI's shared memory tries.
M=(mpirun --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none)
run() { local label="$1"; shift; "$@" --workloads cnn_data_parallel --data-dir "$DATA" --samples "$SAMPLES" 2>/dev/null \
        | python3 -c "import json,sys; [print(json.dumps({**json.loads(l), 'config': '$label'}, sort_keys=True)) for l in sys.stdin]"; }
{
  run "plain process" "$B"
  # mpirun binds one rank to one core by default; --bind-to none lets it use both.
  run "mpirun -np 1 --bind-to none" "${M[@]}" -np 1 --bind-to none "$B"
  run "mpirun -np 2 (bound to a core each)" "${M[@]}" -np 2 "$B"
  run "mpirun -np 2 --bind-to none" "${M[@]}" -np 2 --bind-to none "$B"
} | tee "$OUT"
echo "wrote $OUT"
