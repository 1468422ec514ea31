"""Reference values for tests/datasets_test.cpp, read with Python's gzip and NumPy (not our reader).
Run: /usr/bin/python3 tests/data_reference/pixel_sums.py ../shared/data/mnist /usr/share/datasets/fashion-mnist"""
import gzip
import sys

import numpy as np


def load(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


mnist, fashion = sys.argv[1], sys.argv[2]
images = load(f"{mnist}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)
labels = load(f"{mnist}/t10k-labels-idx1-ubyte.gz", 8)
print("mnist test labels[:10]", labels[:10].tolist(), "labels[9999]", int(labels[9999]))
print("mnist test pixel sums 0, 1, 9999:", [int(images[i].sum(dtype=np.int64)) for i in (0, 1, 9999)])
print("mnist test image 0 pixel (row 7, col 6..9):", images[0].reshape(28, 28)[7, 6:10].tolist())
f_images = load(f"{fashion}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
f_labels = load(f"{fashion}/train-labels-idx1-ubyte.gz", 8)
print("fashion train count", len(f_labels), "labels[:5]", f_labels[:5].tolist())
print("fashion train pixel sums 0, 59999:", [int(f_images[i].sum(dtype=np.int64)) for i in (0, 59999)])
