"""Reference values for tests/datasets_test.cpp, read with Python's gzip and NumPy (not our reader).
Run from the source directory:
  /usr/bin/python3 tests/data_reference/pixel_sums.py ../shared/data/mnist /usr/share/datasets/fashion-mnist
Output of the last run (MNIST t10k files with the official MD5s, Debian's dataset-fashion-mnist 0.0~git20200523):
  mnist test labels[:10] [7, 2, 1, 0, 4, 1, 4, 9, 5, 9] labels[9999] 6
  mnist test pixel sums 0, 1, 9999: [18454, 28850, 41833]
  mnist test image 0 pixel (row 7, col 6..9): [84, 185, 159, 151]
  mnist test all pixels sum 264923200 label counts [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
  mnist test mean 0.132515 std 0.310480 (on the [0, 1] scale)
  fashion train count 60000 labels[:5] [9, 0, 0, 3, 0]
  fashion train pixel sums 0, 59999: [76247, 16684]
  fashion train mean 0.286041 std 0.353024 (on the [0, 1] scale)
  fashion train all pixels sum 3431114169"""
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
print("mnist test all pixels sum", int(images.sum(dtype=np.int64)), "label counts", np.bincount(labels).tolist())
print("mnist test mean %.6f std %.6f (on the [0, 1] scale)" % ((images / 255.0).mean(), (images / 255.0).std()))
f_images = load(f"{fashion}/train-images-idx3-ubyte.gz", 16).reshape(-1, 784)
f_labels = load(f"{fashion}/train-labels-idx1-ubyte.gz", 8)
print("fashion train count", len(f_labels), "labels[:5]", f_labels[:5].tolist())
print("fashion train pixel sums 0, 59999:", [int(f_images[i].sum(dtype=np.int64)) for i in (0, 59999)])
scaled = f_images.astype(np.float64) / 255.0
print("fashion train mean %.6f std %.6f (on the [0, 1] scale)" % (scaled.mean(), scaled.std()))
print("fashion train all pixels sum", int(f_images.sum(dtype=np.int64)))
