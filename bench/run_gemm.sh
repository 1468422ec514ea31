#!/bin/sh
# Runs bench_gemm and prints, per layer shape, our GFLOP/s beside OpenBLAS's from the same run and their ratio.
# Usage: bench/run_gemm.sh [build dir, default build] [threads, default 2] [extra Google Benchmark flags...]
# Both libraries get the same thread count: OMP_NUM_THREADS for ours, OPENBLAS_NUM_THREADS for OpenBLAS
# (its pthreads; they and our OpenMP workers would contend if both asked for every core at once, but the
# benchmark never runs the two at the same time). Each row is the median of 5 repetitions.
set -e
build=${1:-build}
threads=${2:-2}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
json=$(mktemp)
trap 'rm -f "$json" "$json.err"' EXIT
OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_gemm" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.1 --benchmark_out="$json" \
  --benchmark_out_format=json "$@" >/dev/null 2>"$json.err" || { cat "$json.err"; exit 1; }
python3 - "$json" "$threads" <<'PY'
import json, sys
runs = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"]
rate = {b["run_name"]: b["GFLOP/s"] for b in runs}
print(f"threads: {sys.argv[2]} (OMP_NUM_THREADS and OPENBLAS_NUM_THREADS), median of 5")
print(f"{'shape (M x N x K)':<24}{'mt GFLOP/s':>12}{'OpenBLAS':>12}{'mt/OpenBLAS':>13}")
for name, value in rate.items():
    if not name.endswith("/mt"):
        continue
    shape = name[: -len("/mt")]
    other = rate.get(shape + "/openblas")
    tail = f"{other:12.1f}{value / other:13.2f}" if other else f"{'-':>12}{'-':>13}"
    print(f"{shape:<24}{value:12.1f}{tail}")
PY
