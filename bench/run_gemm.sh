#!/bin/sh
# Runs bench_gemm and prints, per layer shape, our GFLOP/s and % of the machine's FMA peak beside OpenBLAS's,
# and their ratio.
# Usage: bench/run_gemm.sh [build dir, default build] [threads, default 2] [extra Google Benchmark flags...]
#
# Both libraries get the same thread count: OMP_NUM_THREADS for ours, OPENBLAS_NUM_THREADS for OpenBLAS.
# OpenBLAS runs at its best kernel for this CPU (bench/machine.py: a preset OPENBLAS_CORETYPE is removed, and
# set to SkylakeX or Haswell only where OpenBLAS falls back to a generic kernel); the script says what it did.
# Each shape runs ours and then OpenBLAS in two separate processes, one right after the other, so the pair
# sees the same machine, and neither library's idle threads compete with the other's: OpenBLAS's pthreads
# busy-wait for a long while after each call, and in one process they would hold a core our OpenMP worker
# needs (our 2-thread rows then stall for whole scheduler quanta). Each number is the median of 5
# repetitions; % of peak is against the peak that bench_gemm measures at start (bench/peak.h).
set -e
build=${1:-build}
threads=${2:-2}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
exec python3 - "$build/bench/bench_gemm" "$threads" "$(dirname "$0")" "$@" <<'PY'
import json, os, subprocess, sys, tempfile

binary, threads, here, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
sys.path.insert(0, here)
import machine

blas_env, blas_note = machine.openblas_env()
names = subprocess.run([binary, "--benchmark_list_tests"] + extra, check=True, capture_output=True,
                       text=True).stdout.replace("/real_time", "").split()
context = {}

def median(name, env=None):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_filter=^{name}(/real_time)?$", "--benchmark_repetitions=5",
                        "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.1",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       check=True, capture_output=True, env=env)
        report = json.load(open(out.name))
    context["openblas" if env else "mt"] = report["context"]
    row = next(b for b in report["benchmarks"] if b.get("aggregate_name") == "median")
    return row["GFLOP/s"], row["%peak"]

print(f"threads: {threads} (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = {threads}), GFLOP/s and % of FMA peak, "
      "median of 5")
print(blas_note)
print(f"{'shape (M x N x K)':<24}{'mt':>9}{'%peak':>7}{'OpenBLAS':>10}{'%peak':>7}{'mt/OpenBLAS':>13}")
for name in names:
    if not name.endswith("/mt"):
        continue
    shape = name[: -len("/mt")]
    ours, ours_peak = median(name)
    if shape + "/openblas" in names:
        theirs, theirs_peak = median(shape + "/openblas", blas_env)
        print(f"{shape:<24}{ours:9.1f}{ours_peak:6.0f}%{theirs:10.1f}{theirs_peak:6.0f}%{ours / theirs:13.2f}",
              flush=True)
    else:
        print(f"{shape:<24}{ours:9.1f}{ours_peak:6.0f}%{'-':>10}{'-':>7}{'-':>13}", flush=True)
print(f"peak: {context.get('mt', {}).get('peak', '?')}; "
      f"{context.get('openblas', {}).get('openblas', 'OpenBLAS: not built in')}")
PY
