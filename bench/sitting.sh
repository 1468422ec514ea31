#!/bin/bash
# Every figure of the README's performance section in one sitting, in this order: the FMA peak, the app against
# PyTorch (compare_pytorch.py), the GEMM against OpenBLAS at 1 and 2 threads (run_gemm.sh), bench_train at 1 and
# 2 threads in 2 interleaved rounds, and an AVX2-only build's step, epoch and inference GEMM.
# Usage: bench/sitting.sh [build dir, default build] [AVX2 build dir, default build-avx2; skipped if missing]
# Each program runs under `flock /tmp/bench.lock chrt -f 50` (SCHED_FIFO: needs root), so that other processes
# on a shared machine do not take its cores and two sittings never overlap.
set -u
cd "$(dirname "$0")/.."
build=${1:-build} avx2=${2:-build-avx2}
run() { flock /tmp/bench.lock chrt -f 50 "$@" 2>&1; }
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }
stamp "commit $(git rev-parse --short HEAD); $(grep -m1 'model name' /proc/cpuinfo);" \
      "family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2)"
stamp bench_peak
run "$build/bench/bench_peak" | grep -E "^Peak"
stamp "compare_pytorch.py --rounds 1"
run /usr/bin/python3 bench/compare_pytorch.py --app "$build/apps/mnist/mnist" --rounds 1
for threads in 1 2; do
  stamp "run_gemm.sh $build $threads"
  run bash bench/run_gemm.sh "$build" "$threads"
done
for round in 1 2; do
  for threads in 1 2; do
    stamp "bench_train OMP_NUM_THREADS=$threads, round $round"
    OMP_NUM_THREADS=$threads run "$build/bench/bench_train" --benchmark_repetitions=3 | grep -E "^BM_.*_median"
  done
done
[ -x "$avx2/bench/bench_train" ] || { stamp "no AVX2 build in $avx2: done"; exit 0; }
for threads in 1 2; do
  stamp "AVX2 build ($avx2): bench_train and the inference GEMM, OMP_NUM_THREADS=$threads"
  OMP_NUM_THREADS=$threads run "$avx2/bench/bench_train" --benchmark_repetitions=3 \
    --benchmark_filter='TrainStep/32|TrainEpoch|Inference' | grep -E "^BM_.*_median"
  OMP_NUM_THREADS=$threads run "$avx2/bench/bench_gemm" --benchmark_repetitions=5 \
    --benchmark_filter='infer/10000x256x784/mt' | grep -E "_median"
done
stamp done
