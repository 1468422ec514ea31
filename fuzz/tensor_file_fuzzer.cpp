// libFuzzer harness for the tensor file reader (tensor/tensor_file.h) and the loaders on top of it: any bytes,
// as a file and as the payload of a correctly framed one (a valid header and CRC, so that the payload's parser
// and the state readers are reached, which a CRC shields from random files), loaded as a model (nn::load) and
// as Adam's state with a cosine schedule (optim::load), must give a result or an mt::Error, never a crash, a
// hang or a huge allocation. Build with -DMT_FUZZ=ON and clang (fuzz/CMakeLists.txt); fuzz/corpus_main.cpp runs
// the same function over the seed corpus (fuzz/tensor_corpus, written by fuzz/make_tensor_corpus.py) in ctest.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fuzz/scratch.h"
#include "nn/nn.h"
#include "optim/checkpoint.h"
#include "tensor/error.h"

namespace {

namespace fs = std::filesystem;

fs::path scratch_path() { return mt::fuzz::scratch_path("mt_tensor_file_fuzzer"); }

// The file every input is written to: named once, removed at exit.
const fs::path& scratch_file() {
  static const fs::path file = [] {
    std::atexit([] {
      std::error_code ignored;
      fs::remove(scratch_path(), ignored);
    });
    return scratch_path();
  }();
  return file;
}

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// The bytes as the payload of a file with a valid header and CRC.
std::vector<uint8_t> framed(std::span<const uint8_t> payload) {
  std::vector<uint8_t> file{'M', 'T', 'W', 'E', 'I', 'G', 'H', 'T'};
  put_le(file, 1, 4);
  put_le(file, payload.size(), 8);
  file.insert(file.end(), payload.begin(), payload.end());
  put_le(file, crc32(0L, payload.data(), static_cast<uInt>(payload.size())), 4);
  return file;
}

// What the files are loaded into: the model of the seed corpus (0.weight [3, 4], 0.bias [3], 2.weight [2, 3],
// 2.bias [2]) and Adam with a cosine schedule over it. A successful load changes them, which later inputs see:
// any state is a valid start.
struct Target {
  mt::Generator gen{1};
  std::shared_ptr<mt::nn::Sequential> model = std::make_shared<mt::nn::Sequential>(
      std::initializer_list<std::shared_ptr<mt::nn::Module>>{std::make_shared<mt::nn::Linear>(4, 3, gen),
                                                             std::make_shared<mt::nn::ReLU>(),
                                                             std::make_shared<mt::nn::Linear>(3, 2, gen)});
  mt::optim::Adam adam{model->parameters(), {.lr = 1e-3}};
  mt::optim::CosineAnnealingLR cosine{adam, {.T_max = 10}};
};

void load_everywhere(Target& t) {
  try {
    mt::nn::load(*t.model, scratch_file());
  } catch (const mt::Error&) {
  }
  try {
    mt::optim::load(t.adam, scratch_file(), &t.cosine);
  } catch (const mt::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Target target;
  const std::span<const uint8_t> bytes(data, size);
  mt::fuzz::write_bytes(scratch_file(), bytes);
  load_everywhere(target);
  mt::fuzz::write_bytes(scratch_file(), framed(bytes));
  load_everywhere(target);
  return 0;
}
