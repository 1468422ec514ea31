#pragma once
// Named tensors in a file: the one format of model checkpoints (nn::save), optimizer state (optim::save) and
// training checkpoints (train::fit's checkpoint.bin).
//
// File format, version 1. Every integer is little-endian whatever the machine; elements are IEEE-754
// float32 or float64, also little-endian.
//
//   offset  size  field
//   0       8     magic "MTWEIGHT"
//   8       4     u32 version = 1
//   12      8     u64 payload size P in bytes
//   20      P     payload:
//                   u32 tensor count
//                   per tensor, in state_dict() order (parameters and buffers):
//                     u32 name length L, L bytes of name (UTF-8, no terminator)
//                     u8  dtype: 0 = float32, 1 = float64
//                     u8  number of dims D (0..8)
//                     D x u64 sizes
//                     the elements in row-major order
//   20+P    4     u32 CRC-32 of the payload (zlib's crc32)
//
// The payload size comes first so that a truncated file is told apart from a corrupt one before anything
// is parsed, and the CRC is checked before any name or shape is believed.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace mt {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Writes `tensors` to `path` atomically (mt::AtomicFile): streamed into a temporary file beside it, flushed to
// disk, then renamed over `path`, so a crash, a kill or a full disk leaves the old file or the new one; no
// copy of the tensors is made in memory. A failure is an mt::Error naming the file.
void save_tensors(const NamedTensors& tensors, const std::filesystem::path& path);

// The payload size save_tensors() writes for `tensors`: what a reader's TensorFileLimits::payload_bytes is
// measured against.
uint64_t tensor_payload_bytes(const NamedTensors& tensors);

// What a reader of a tensor file can take: its payload in bytes, and its count of tensors (each costs memory
// beyond its bytes in the file: an empty one is 14 bytes there).
struct TensorFileLimits {
  uint64_t payload_bytes;
  uint64_t tensors;
};

// Reads what save_tensors() wrote. Only a regular file is read (a FIFO or device is refused at once); its
// header is checked first, and the payload read only when the file has exactly the announced size and that
// size is within `limits` (else the error says it is more than `holder` could take), so what a file costs is
// set by the reader, not by the file; so is the count of tensors, checked before any is made. The CRC is
// checked before any name or shape is believed. Every mt::Error starts with `where` ("load 'model.bin'").
NamedTensors load_tensors(const std::filesystem::path& path, TensorFileLimits limits, std::string_view holder,
                          const std::string& where);

// The index of the first NaN or infinity in `t` (any layout), or -1.
int64_t first_non_finite(const Tensor& t);

}  // namespace mt
