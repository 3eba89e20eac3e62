#!/usr/bin/env bash
# Builds the libFuzzer harness and fuzzes each reader for SECONDS (default 60) from the seed
# corpora in Fuzz/corpus (copied to a scratch folder, so the seeds stay as committed).
#   bash Fuzz/run.sh [SECONDS] [targets...]      e.g. bash Fuzz/run.sh 120 npy safetensors
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"; shift || true
TARGETS=("${@:-idx npy npz csv safetensors model keras_config predict_request png jpeg bmp gif pickle tar}")
mkdir -p .deps && ln -sfn ../.. .deps/Lamina
swift build -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library 2>&1 | grep -E "error|Compiling lamina-fuzz|Build complete" || true
WORK="$(mktemp -d)"
for t in ${TARGETS[@]}; do
  mkdir -p "$WORK/$t" "$WORK/crashes-$t"
  cp corpus/$t/* "$WORK/$t/"
  echo "== $t (${SECONDS_EACH}s)"
  LSAN_OPTIONS=suppressions=$PWD/lsan.supp LAMINA_FUZZ_TARGET=$t .build/debug/lamina-fuzz "$WORK/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 \
      -artifact_prefix="$WORK/crashes-$t/" -print_final_stats=1 2>&1 \
    | grep -E "^Done|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Test unit written" || true
  echo "crashes: $(ls "$WORK/crashes-$t" | wc -l)  corpus now: $(ls "$WORK/$t" | wc -l) inputs"
done
echo "scratch: $WORK"
