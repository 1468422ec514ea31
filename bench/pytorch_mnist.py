#!/usr/bin/python3
"""The reference recipe of apps/mnist in PyTorch, for accuracy and speed comparisons.

784-256-128-64-32-10 MLP (ReLU), softmax cross-entropy, Adam, batch 32; the last 6000 training images
validate. Reads the same IDX files. Prints one line per epoch and a final JSON line. --model cnn: the cnn of
`mnist --model cnn` (apps/mnist/models.h), trained on images shifted by up to 1 pixel as the app does.

  /usr/bin/python3 bench/pytorch_mnist.py --data /usr/share/datasets/fashion-mnist --dataset fashion \
      --epochs 5 --threads 1 [--schedule cosine|constant] [--normalize|--no-normalize] [--no-flush-denormal]
"""
import argparse
import gzip
import json
import math
import os
import resource
import time

import numpy as np
import torch

MAX_SHIFT = 1  # the cnn's augmentation, kCnnMaxShift in apps/mnist/models.h

MEAN_STD = {"mnist": (0.1307, 0.3081), "fashion": (0.2860, 0.3530)}


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(directory, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(directory, name)):
            return os.path.join(directory, name)
    raise SystemExit(f"{stem} not found in {directory}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--dataset", choices=["mnist", "fashion"], default="mnist")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--flush-denormal", action=argparse.BooleanOptionalAction, default=True,
                   help="torch.set_flush_denormal, as apps/mnist does: operations on denormals are slow on x86")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-size", type=int, default=6000)
    p.add_argument("--train-on-test", type=int, default=0)
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.flush_denormal and not torch.set_flush_denormal(True):
        raise SystemExit("torch.set_flush_denormal is not supported on this CPU")
    torch.manual_seed(a.seed)

    test_x = read_idx(find(a.data, "t10k-images-idx3-ubyte")).reshape(-1, 784)
    test_y = read_idx(find(a.data, "t10k-labels-idx1-ubyte"))
    if a.train_on_test:
        train_x, train_y = test_x[:a.train_on_test], test_y[:a.train_on_test]
        test_x, test_y = test_x[a.train_on_test:], test_y[a.train_on_test:]
    else:
        train_x = read_idx(find(a.data, "train-images-idx3-ubyte")).reshape(-1, 784)
        train_y = read_idx(find(a.data, "train-labels-idx1-ubyte"))
    mean, std = MEAN_STD[a.dataset] if a.normalize else (0.0, 1.0)

    def tensors(x, y):
        return (torch.from_numpy(x.astype(np.float32) / 255.0) - mean) / std, torch.from_numpy(y.astype(np.int64))

    n = len(train_x) - a.val_size
    tx, ty = tensors(train_x[:n], train_y[:n])
    vx, vy = tensors(train_x[n:], train_y[n:])
    sx, sy = tensors(test_x, test_y)

    if a.model == "cnn":
        nn = torch.nn

        def conv_block(inputs, outputs):
            return nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU()
        model = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            *conv_block(1, 32), *conv_block(32, 32), nn.MaxPool2d(2),
            *conv_block(32, 64), *conv_block(64, 64), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 256), nn.ReLU(), nn.Dropout(0.25), nn.Linear(256, 10))
    else:
        sizes = [784, 256, 128, 64, 32, 10]
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
    background = -mean / std

    def shifted(x):
        """Each image moved by a whole number of pixels in [-MAX_SHIFT, MAX_SHIFT] along each axis, background filled
        in."""
        images = torch.nn.functional.pad(x.view(-1, 28, 28), (MAX_SHIFT,) * 4, value=background)
        offsets = torch.randint(0, 2 * MAX_SHIFT + 1, (len(x), 2))
        return torch.stack([images[i, r:r + 28, c:c + 28] for i, (r, c) in enumerate(offsets.tolist())]).view(-1, 784)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps_per_epoch = math.ceil(n / a.batch_size)
    total = steps_per_epoch * a.epochs

    def accuracy(x, y):
        model.eval()
        with torch.no_grad():
            correct = sum((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item() for i in range(0, len(x), 1000))
        model.train()
        return correct / len(x)

    step = 0
    epoch_times = []
    for epoch in range(1, a.epochs + 1):
        g = torch.Generator().manual_seed(a.seed * 1000 + epoch)
        order = torch.randperm(n, generator=g)
        start = time.perf_counter()
        loss_sum, correct = 0.0, 0
        for b in range(steps_per_epoch):
            idx = order[b * a.batch_size:(b + 1) * a.batch_size]
            if a.schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * step / total))
            logits = model(shifted(tx[idx]) if a.model == "cnn" else tx[idx])
            loss = torch.nn.functional.cross_entropy(logits, ty[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == ty[idx]).sum().item()
        seconds = time.perf_counter() - start
        epoch_times.append(seconds)
        print(f"Epoch {epoch}/{a.epochs}, Loss: {loss_sum / n:.4f}, Train Acc: {correct / n:.4f}, "
              f"Val Acc: {accuracy(vx, vy):.4f} ({seconds:.1f} s)", flush=True)
    test_acc = accuracy(sx, sy)
    print(f"Test accuracy: {test_acc:.4f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"epoch_seconds": epoch_times, "test_accuracy": test_acc, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main()
