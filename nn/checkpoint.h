#pragma once
// Saving and loading a module's parameters and buffers (its state_dict()).
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
#include <filesystem>

#include "nn/module.h"

namespace mt::nn {

// Writes the parameters of `module` to `path` atomically (mt::AtomicFile): streamed into a temporary file in
// the same directory, flushed to disk, then renamed over `path`, so a crash, a kill or a full disk leaves
// either the old file or the new one; no copy of the model is made in memory.
void save(const Module& module, const std::filesystem::path& path);

// Reads `path` into the parameters of `module`. Only a regular file is read (a FIFO or device is refused at
// once); its header is checked first, and the payload read only when the file has exactly the announced
// size and that size is at most twice what the module's tensors take. Then everything is checked (CRC,
// every name, dtype and shape against the module, every element finite) before any parameter is written:
// on an error the module is unchanged and the mt::Error names the file and what was wrong.
void load(Module& module, const std::filesystem::path& path);

}  // namespace mt::nn
