#!/bin/sh
# Runs bench_gemm and prints, per layer shape, our GFLOP/s beside OpenBLAS's and their ratio.
# Usage: bench/run_gemm.sh [build dir, default build] [threads, default 2] [extra Google Benchmark flags...]
#
# Both libraries get the same thread count: OMP_NUM_THREADS for ours, OPENBLAS_NUM_THREADS for OpenBLAS.
# Each shape runs ours and then OpenBLAS in two separate processes, one right after the other, so the pair
# sees the same machine, and neither library's idle threads compete with the other's: OpenBLAS's pthreads
# busy-wait for a long while after each call, and in one process they would hold a core our OpenMP worker
# needs (our 2-thread rows then stall for whole scheduler quanta). Each number is the median of 5
# repetitions.
set -e
build=${1:-build}
threads=${2:-2}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
exec python3 - "$build/bench/bench_gemm" "$threads" "$@" <<'PY'
import json, os, subprocess, sys, tempfile

binary, threads, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
names = subprocess.run([binary, "--benchmark_list_tests"] + extra, check=True, capture_output=True,
                       text=True).stdout.split()

def median_rate(name):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_filter=^{name}$", "--benchmark_repetitions=5",
                        "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.1",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       check=True, capture_output=True)
        runs = json.load(open(out.name))["benchmarks"]
    return next(b["GFLOP/s"] for b in runs if b.get("aggregate_name") == "median")

print(f"threads: {threads} (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = {threads}), GFLOP/s, median of 5")
print(f"{'shape (M x N x K)':<24}{'mt':>10}{'OpenBLAS':>10}{'mt/OpenBLAS':>13}")
for name in names:
    if not name.endswith("/mt"):
        continue
    shape = name[: -len("/mt")]
    ours = median_rate(name)
    if shape + "/openblas" in names:
        theirs = median_rate(shape + "/openblas")
        print(f"{shape:<24}{ours:10.1f}{theirs:10.1f}{ours / theirs:13.2f}", flush=True)
    else:
        print(f"{shape:<24}{ours:10.1f}{'-':>10}{'-':>13}", flush=True)
PY
