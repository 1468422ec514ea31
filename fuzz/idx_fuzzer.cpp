// libFuzzer harness for the IDX reader and the dataset loaders' header checks: any bytes, read as a plain or a
// gzip file, as the images or the labels of an MNIST split beside a valid partner file (by MNIST and by
// IdxDataset), and as an IdxDataset's classes.txt, must give a result or an mt::Error, never a crash, a hang or a
// huge allocation. Build with -DMT_FUZZ=ON and clang (see
// fuzz/CMakeLists.txt); fuzz/corpus_main.cpp runs the same function over the seed corpus in ctest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "datasets/datasets.h"
#include "fuzz/scratch.h"
#include "tensor/error.h"

namespace {

namespace fs = std::filesystem;

fs::path scratch_path() { return mt::fuzz::scratch_path("mt_idx_fuzzer"); }

// One directory per process for the loader's files: created once, rewritten by every input, removed at exit.
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::create_directories(scratch_path());
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(scratch_path(), ignored);
    });
    return scratch_path();
  }();
  return dir;
}

// A valid IDX file of `count` blank images or labels 0.
std::string partner(bool images, uint32_t count) {
  std::string idx = {0, 0, 8, images ? '\3' : '\1'};
  const std::vector<uint32_t> dims = images ? std::vector<uint32_t>{count, 28, 28} : std::vector<uint32_t>{count};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) idx.push_back(static_cast<char>((d >> shift) & 0xff));
  idx.resize(idx.size() + (images ? count * 784u : count), '\0');
  return idx;
}

void load_split(std::span<const uint8_t> bytes, bool as_images) {
  const fs::path& dir = scratch_dir();
  const fs::path images = dir / "t10k-images-idx3-ubyte", labels = dir / "t10k-labels-idx1-ubyte";
  const std::string other = partner(!as_images, 3);
  mt::fuzz::write_bytes(as_images ? images : labels, bytes);
  std::ofstream(as_images ? labels : images, std::ios::binary) << other;
  for (const bool verify : {true, false}) {
    try {
      const mt::datasets::MNIST split(mt::datasets::Split::Test, {.dir = dir.string(), .verify = verify});
      if (split.size() > 0) (void)split.image(0);
    } catch (const mt::Error&) {
    }
  }
  try {
    const mt::datasets::IdxDataset split(mt::datasets::Split::Test, {.dir = dir.string()});
    if (split.size() > 0) (void)split.image(0);
  } catch (const mt::Error&) {
  }
}

// The bytes as the class names of a valid split of three images labelled 0.
void load_class_names(std::span<const uint8_t> bytes) {
  const fs::path dir = scratch_dir() / "named";
  fs::create_directories(dir);
  std::ofstream(dir / "t10k-images-idx3-ubyte", std::ios::binary) << partner(true, 3);
  std::ofstream(dir / "t10k-labels-idx1-ubyte", std::ios::binary) << partner(false, 3);
  mt::fuzz::write_bytes(dir / "classes.txt", bytes);
  try {
    (void)mt::datasets::IdxDataset(mt::datasets::Split::Test, {.dir = dir.string()}).class_names();
  } catch (const mt::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  // Small limit: the fuzzer's memory cap is 2 GB, and the reader must refuse larger claims cleanly anyway.
  mt::datasets::IdxReadOptions options;
  options.max_bytes = uint64_t{64} << 20;
  for (const char* name : {"fuzz.idx", "fuzz.idx.gz"}) {
    try {
      const mt::datasets::IdxArray array = mt::datasets::parse_idx(bytes, name, options);
      if (array.type == mt::datasets::IdxType::UInt8) (void)array.u8();
      (void)array.values();
    } catch (const mt::Error&) {
    }
  }
  load_split(bytes, true);
  load_split(bytes, false);
  load_class_names(bytes);
  return 0;
}
