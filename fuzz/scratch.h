#pragma once
// What the fuzz harnesses share: a path of their own in the temporary directory, and writing an input there.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>

namespace mt::fuzz {

// <temp>/<prefix>_<pid>: one per process, so that parallel fuzzing jobs (-jobs=N) do not share files.
inline std::filesystem::path scratch_path(const std::string& prefix) {
  return std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(getpid()));
}

inline void write_bytes(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

}  // namespace mt::fuzz
