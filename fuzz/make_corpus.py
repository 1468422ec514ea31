"""Writes the IDX fuzzer's seed corpus: one small valid file per element type, plain and gzip (mtime 0, so the
output is the same every run), a two-member gzip file, and
files that reach the dataset loaders' header checks.
Run from the source directory: /usr/bin/python3 fuzz/make_corpus.py fuzz/corpus"""
import gzip
import struct
import sys
from pathlib import Path


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def gz(data):
    return gzip.compress(data, mtime=0)


out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
seeds = {
    "images": idx(0x08, [2, 3, 3], bytes(range(18))),
    "labels": idx(0x08, [5], bytes([1, 2, 3, 4, 5])),
    "bytes": idx(0x09, [3], struct.pack(">3b", -1, 0, 127)),
    "shorts": idx(0x0B, [3], struct.pack(">3h", -2, 300, 7)),
    "ints": idx(0x0C, [2], struct.pack(">2i", -(2**31), 65536)),
    "floats": idx(0x0D, [2], struct.pack(">2f", 1.5, -2.0)),
    "doubles": idx(0x0E, [1, 2], struct.pack(">2d", 3.141592653589793, 0.0)),
    "empty-dim": idx(0x08, [0, 28, 28], b""),
    # For the loaders' header checks: an official count, counts that do not match the 3-item partner file,
    # and claims far beyond what the file holds.
    "mnist-labels": idx(0x08, [3], bytes([7, 2, 1])),
    "mnist-images-3": idx(0x08, [3, 28, 28], bytes(3 * 784)),
    "claims-million-images": idx(0x08, [1000000, 28, 28], bytes(784)),
    "claims-billion-labels": idx(0x08, [1000000000], bytes(16)),
    "images-27x29": idx(0x08, [3, 27, 29], bytes(3 * 27 * 29)),
}
for name, data in seeds.items():
    (out / name).write_bytes(data)
    (out / (name + ".gz")).write_bytes(gz(data))
images = seeds["images"]
(out / "members.gz").write_bytes(gz(images[:10]) + gz(images[10:]))
# For IdxDataset's classes.txt (the partner split's labels are all 0: one class).
(out / "classes-one.txt").write_bytes(b"zero\n")
(out / "classes-crlf.txt").write_bytes(b"cat\r\ndog\r\n\r\n")
