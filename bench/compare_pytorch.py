#!/usr/bin/python3
"""Runs apps/mnist and the same recipe in PyTorch (bench/pytorch_mnist.py) side by side, alternating them so that
both see the same machine, and prints median and fastest epoch time, each as % of the machine's FMA peak, speed
ratio (of medians), peak RSS and test accuracy of each.

  /usr/bin/python3 bench/compare_pytorch.py [--app build/apps/mnist/mnist] [--bench build/bench] [--data DIR]
      [--dataset fashion] [--epochs 5] [--rounds 3] [--threads 1,2] [--torch-threads 1,2] [--model mlp|cnn]
      [--train-on-test N --val-size M]

Both are measured at every thread count given; each of our settings is compared with PyTorch's fastest.
PyTorch runs at its best: denormals flushed to zero (as our app does) and OpenBLAS, which it uses for
its matrix products, at its best kernel for this CPU (bench/machine.py); the script prints what it set.
% of peak: an epoch's multiply-adds (forward, weight gradients, input gradients of layers 2-5 over the
54000 training images: 57.4 GFLOP) per second, against bench_peak's FMA peak on that many threads.
--model cnn: the cnn of `mnist --model cnn` in both (PyTorch's convolutions through oneDNN); an epoch is its
convolutions' and fc layers' forward, weight gradients and input gradients but the first conv's (6162 GFLOP).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import machine  # noqa: E402

LAYERS = [784, 256, 128, 64, 32, 10]
TRAIN_IMAGES = 54000
MACS_PER_IMAGE = 2 * sum(a * b for a, b in zip(LAYERS, LAYERS[1:])) + sum(a * b for a, b in zip(LAYERS[1:], LAYERS[2:]))
EPOCH_GFLOP = 2e-9 * MACS_PER_IMAGE * TRAIN_IMAGES
# The cnn: conv 1->32 and 32->32 on 28x28, conv 32->64 and 64->64 on 14x14 (3x3), fc 3136->256, fc 256->10.
CNN_LAYER_MACS = [28 * 28 * 32 * 9, 28 * 28 * 32 * 32 * 9, 14 * 14 * 64 * 32 * 9, 14 * 14 * 64 * 64 * 9, 3136 * 256,
                  256 * 10]
CNN_EPOCH_GFLOP = 2e-9 * (2 * sum(CNN_LAYER_MACS) + sum(CNN_LAYER_MACS[1:])) * TRAIN_IMAGES


def run(cmd, env=None):
    """Runs cmd, returns (stdout, peak RSS in MB of that process)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{text}")
    return text, usage.ru_maxrss / 1024


def subset_args(a):
    """--train-on-test N --val-size M for both programs: the first N test images, the last M of them validating."""
    return ["--train-on-test", str(a.train_on_test), "--val-size", str(a.val_size)] if a.train_on_test else []


def ours(a, out_dir, threads):
    text, rss = run([a.app, "train", "--model", a.model, "--data", a.data, "--dataset", a.dataset, "--epochs",
                     str(a.epochs), "--quiet", "--no-figures", "--threads", str(threads), "--out", out_dir] +
                    subset_args(a))
    with open(os.path.join(out_dir, "metrics.json")) as f:
        metrics = json.load(f)
    return [e["seconds"] for e in metrics["epochs"]], metrics["test_accuracy"], rss


def pytorch(a, threads, blas_env):
    env = dict(blas_env, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    text, rss = run(["/usr/bin/python3", os.path.join(HERE, "pytorch_mnist.py"), "--data", a.data, "--dataset",
                     a.dataset, "--epochs", str(a.epochs), "--threads", str(threads), "--model", a.model] +
                    subset_args(a), env)
    result = json.loads(text.strip().splitlines()[-1])
    return result["epoch_seconds"], result["test_accuracy"], rss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--app", default="build/apps/mnist/mnist")
    p.add_argument("--bench", help="directory with bench_peak (default: the app's build's bench/)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--dataset", default="fashion", choices=["mnist", "fashion"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--torch-threads", default="1,2")
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--train-on-test", type=int, default=0)
    p.add_argument("--val-size", type=int, default=6000)
    a = p.parse_args()
    train_images = a.train_on_test - a.val_size if a.train_on_test else TRAIN_IMAGES
    epoch_gflop = (CNN_EPOCH_GFLOP if a.model == "cnn" else EPOCH_GFLOP) * train_images / TRAIN_IMAGES
    our_threads = [int(t) for t in a.threads.split(",")]
    torch_threads = [int(t) for t in a.torch_threads.split(",")]
    bench_dir = a.bench or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(a.app)))),
                                        "bench")
    peaks = {t: machine.peak_gflops(bench_dir, t) for t in sorted(set(our_threads + torch_threads))}
    blas_env, blas_note = machine.openblas_env()
    print("PyTorch: torch.set_flush_denormal(True) (bench/pytorch_mnist.py --flush-denormal)")
    print(blas_note)
    for t, p in peaks.items():
        print(f"FMA peak on {t} thread(s) (bench_peak): zmm {p.get('zmm', 0):.0f} GFLOP/s, ymm {p.get('ymm', 0):.0f}")
    print(f"one epoch of the {a.model}: {epoch_gflop:.1f} GFLOP", flush=True)

    results = {}
    for t in our_threads:
        results[f"ours-{t}t"] = ([], [], [])
    for t in torch_threads:
        results[f"pytorch-{t}t"] = ([], [], [])
    with tempfile.TemporaryDirectory() as out_dir:
        for r in range(a.rounds):
            runs = [(f"ours-{t}t", lambda t=t: ours(a, out_dir, t)) for t in our_threads]
            runs += [(f"pytorch-{t}t", lambda t=t: pytorch(a, t, blas_env)) for t in torch_threads]
            for name, fn in runs:
                times, acc, rss = fn()
                results[name][0].extend(times)
                results[name][1].append(acc)
                results[name][2].append(rss)
                print(f"round {r + 1}: {name:12s} median epoch {statistics.median(times):6.3f} s, test acc {acc:.4f}, "
                      f"peak RSS {rss:6.1f} MB", flush=True)

    def median_epoch(name):
        return statistics.median(results[name][0])

    ours_best = min((n for n in results if n.startswith("ours")), key=median_epoch)
    torch_best = min((n for n in results if n.startswith("pytorch")), key=median_epoch)
    print()
    def percent_of_peak(name, seconds):
        threads = int(name.rsplit("-", 1)[1][:-1])
        return 100 * epoch_gflop / seconds / max(peaks[threads].values())

    # The fastest epoch beside the median: on a shared machine other processes only ever slow an epoch down.
    print("| run | median epoch (s) | % of FMA peak | fastest epoch (s) | % of FMA peak | peak RSS (MB) | "
          "test accuracy |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (times, accs, rss) in results.items():
        median, fastest = statistics.median(times), min(times)
        print(f"| {name} | {median:.3f} | {percent_of_peak(name, median):.1f}% | {fastest:.3f} | "
              f"{percent_of_peak(name, fastest):.1f}% | {max(rss):.0f} | {statistics.mean(accs):.4f} |")
    print()
    for name in [n for n in results if n.startswith("ours")]:
        ratio = median_epoch(name) / median_epoch(torch_best)
        best = " (our fastest)" if name == ours_best else ""
        print(f"{name} / {torch_best} (PyTorch's fastest) epoch time: {ratio:.3f} ({1 / ratio:.2f}x faster){best}")


if __name__ == "__main__":
    main()
