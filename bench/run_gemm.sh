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
# needs (our 2-thread rows then stall for whole scheduler quanta). The pair runs $ROUNDS times (default 3),
# each a median of 5 repetitions, and each library's figure is its best round: on a shared machine another
# process only ever slows a run down, and a single pair of runs put the same shape anywhere from 0.87 to 1.07
# of OpenBLAS. % of peak is against one peak for the whole table, the highest that any of its processes
# measured at start (bench/peak.h): a process that started while the host held a core measured half of it.
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
rounds = int(os.environ.get("ROUNDS", "3"))
context = {}
peaks = []

def median_gflops(name, env=None):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([binary, f"--benchmark_filter=^{name}(/real_time)?$", "--benchmark_repetitions=5",
                        "--benchmark_report_aggregates_only=true", "--benchmark_min_time=0.1",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       check=True, capture_output=True, env=env)
        report = json.load(open(out.name))
    context["openblas" if env else "mt"] = report["context"]
    peak = float(report["context"]["peak_gflops"])
    peaks.append(peak)
    row = next(b for b in report["benchmarks"] if b.get("aggregate_name") == "median")
    # The share of this process's peak that its %peak counter was computed against: 1, or 1/2 for float64.
    return row["GFLOP/s"], row["GFLOP/s"] / (row["%peak"] / 100) / peak

rows = []
for name in names:
    if not name.endswith("/mt"):
        continue
    shape = name[: -len("/mt")]
    blas = shape + "/openblas" if shape + "/openblas" in names else None
    ours = theirs = 0.0
    for _ in range(rounds):
        gflops, scale = median_gflops(name)
        ours = max(ours, gflops)
        if blas:
            theirs = max(theirs, median_gflops(blas, blas_env)[0])
    rows.append((shape, ours, theirs, scale))

peak = max(peaks)
print(f"threads: {threads} (OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = {threads}), GFLOP/s (best of {rounds} "
      f"interleaved rounds, each a median of 5) and % of the FMA peak {peak:.1f} GFLOP/s (float64: half of it)")
print(blas_note)
print(f"{'shape (M x N x K)':<24}{'mt':>9}{'%peak':>7}{'OpenBLAS':>10}{'%peak':>7}{'mt/OpenBLAS':>13}")
for shape, ours, theirs, scale in rows:
    limit = peak * scale
    if theirs:
        print(f"{shape:<24}{ours:9.1f}{100 * ours / limit:6.0f}%{theirs:10.1f}{100 * theirs / limit:6.0f}%"
              f"{ours / theirs:13.2f}")
    else:
        print(f"{shape:<24}{ours:9.1f}{100 * ours / limit:6.0f}%{'-':>10}{'-':>7}{'-':>13}")
print(f"peaks measured by its processes: {min(peaks):.1f}-{peak:.1f} GFLOP/s; "
      f"{context.get('openblas', {}).get('openblas', 'OpenBLAS: not built in')}")
PY
