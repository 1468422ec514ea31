"""Writes the tensor file fuzzer's seed corpus (fuzz/tensor_file_fuzzer.cpp), in the format of tensor/tensor_file.h:
each seed both as a whole file and as a bare payload (which the fuzzer frames with a valid header and CRC):
the fuzzer's model, Adam's state with a cosine schedule over it, and payloads that reach the readers' checks.
Run from the source directory: /usr/bin/python3 fuzz/make_tensor_corpus.py fuzz/tensor_corpus"""
import math
import struct
import sys
import zlib
from pathlib import Path

F32, F64 = 0, 1


def tensor(name, dtype, dims, values):
    body = struct.pack("<I", len(name)) + name.encode() + bytes([dtype, len(dims)])
    body += b"".join(struct.pack("<Q", d) for d in dims)
    return body + struct.pack("<%d%s" % (len(values), "f" if dtype == F32 else "d"), *values)


def payload(tensors):
    return struct.pack("<I", len(tensors)) + b"".join(tensors)


def framed(body):
    return b"MTWEIGHT" + struct.pack("<IQ", 1, len(body)) + body + struct.pack("<I", zlib.crc32(body))


def scalar(name, value):
    return tensor(name, F64, [], [value])


shapes = {"0.weight": [3, 4], "0.bias": [3], "2.weight": [2, 3], "2.bias": [2]}
model = [tensor(name, F32, dims, [0.25 * (i % 5) - 0.5 for i in range(math.prod(dims))])
         for name, dims in shapes.items()]
optimizer = [scalar("optimizer.param_groups.0.lr", 1e-3), scalar("optimizer.param_groups.0.weight_decay", 0),
             scalar("optimizer.param_groups.0.params", 4), scalar("optimizer.param_groups.0.initial_lr", 1e-3),
             scalar("optimizer.momentum", 0.9)]
for k, dims in enumerate(shapes.values()):
    n = math.prod(dims)
    optimizer += [tensor("optimizer.state.%d.exp_avg" % k, F32, dims, [0.01] * n),
                  tensor("optimizer.state.%d.exp_avg_sq" % k, F32, dims, [1e-4] * n),
                  scalar("optimizer.state.%d.step" % k, 1)]
optimizer += [scalar("scheduler.last_epoch", 1), tensor("scheduler.last_lr", F64, [1], [9.755e-4]),
              tensor("scheduler.base_lrs", F64, [1], [1e-3]), scalar("scheduler.T_max", 10),
              scalar("scheduler.eta_min", 0)]
seeds = {
    "model": payload(model),
    "optimizer": payload(optimizer),
    "empty": payload([]),
    "twice": payload(model + model[:1]),
    "nan": payload([tensor("0.weight", F32, [3, 4], [float("nan")] * 12)] + model[1:]),
    "float64": payload([tensor(name, F64, dims, [0.5] * math.prod(dims)) for name, dims in shapes.items()]),
    "empty-tensors": payload([tensor("x%d" % i, F32, [0], []) for i in range(100)]),
    "claims-huge": payload([tensor("0.weight", F32, [1 << 40, 1 << 40], [])]),
}
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for name, body in seeds.items():
    (out / (name + ".payload")).write_bytes(body)
    (out / (name + ".bin")).write_bytes(framed(body))
