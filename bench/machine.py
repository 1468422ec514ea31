"""What the comparison scripts need to know about the machine and the OpenBLAS they compare against.

openblas_env(): the environment that runs OpenBLAS (and PyTorch, which uses it) at its best on this CPU, and
a line saying what was done. OpenBLAS picks its kernels by CPU at load time. A machine may preset
OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for the sake of older builds; both are removed here, together.
Where the OpenBLAS that loads then falls back to a generic kernel for this CPU (0.3.21 knows no Zen 5 nor
Sapphire Rapids by model, for instance), OPENBLAS_CORETYPE names the best kernel that the CPU's instruction
set runs: SkylakeX with AVX-512, Haswell with AVX2.

peak_gflops(bench_dir, threads): the machine's float32 FMA peak measured by bench_peak (bench/peak.h).
"""
import json
import os
import re
import subprocess

# OpenBLAS core names whose kernels use AVX-512 or AVX2, best first.
AVX512_CORES = ["SapphireRapids", "Cooperlake", "SkylakeX"]
AVX2_CORES = ["Zen", "Haswell"]


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def openblas_core(env):
    """The kernel name OpenBLAS reports for itself under env (OPENBLAS_VERBOSE=2), or None."""
    probe = subprocess.run(["/usr/bin/python3", "-c", "import numpy"], env=dict(env, OPENBLAS_VERBOSE="2"),
                           capture_output=True, text=True)
    found = re.search(r"Core: (\w+)", probe.stdout + probe.stderr)
    return found.group(1) if found else None


def openblas_env(base=None):
    env = dict(os.environ if base is None else base)
    removed = [f"{k}={env.pop(k)}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in env]
    core = openblas_core(env)
    flags = cpu_flags()
    wanted = AVX512_CORES if "avx512f" in flags else AVX2_CORES if "avx2" in flags else []
    note = (f"OpenBLAS: removed {' '.join(removed)} from the environment; " if removed else "OpenBLAS: ")
    if core is None:
        return env, note + "no OpenBLAS kernel reported (is numpy on OpenBLAS?)"
    if not wanted or core in wanted:
        return env, note + f"it picks its {core} kernel on this CPU"
    env["OPENBLAS_CORETYPE"] = wanted[-1]
    chosen = openblas_core(env)
    return env, note + f"it fell back to {core} on this CPU, so OPENBLAS_CORETYPE={wanted[-1]} (runs {chosen})"


def peak_gflops(bench_dir, threads):
    """{"zmm": GFLOP/s, "ymm": GFLOP/s} on `threads` threads, from bench_peak in bench_dir."""
    out = subprocess.run([os.path.join(bench_dir, "bench_peak"), f"--benchmark_filter=/threads:{threads}/",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    return {b["name"].split("/")[1]: b["GFLOP/s"] for b in json.loads(out)["benchmarks"] if "GFLOP/s" in b}
