// libFuzzer harness for the IDX reader: any bytes, read as a plain or a gzip file, must give an IdxArray or an
// mt::Error, never a crash, a hang or a huge allocation. Build with -DMT_FUZZ=ON and clang (see fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <span>

#include "datasets/idx.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  // Small limit: the fuzzer's memory cap is 2 GB, and the reader must refuse larger claims cleanly anyway.
  const mt::datasets::IdxReadOptions options{.max_bytes = uint64_t{64} << 20};
  for (const char* name : {"fuzz.idx", "fuzz.idx.gz"}) {
    try {
      const mt::datasets::IdxArray array = mt::datasets::parse_idx(bytes, name, options);
      if (array.type == mt::datasets::IdxType::UInt8) (void)array.u8();
      (void)array.values();
    } catch (const mt::Error&) {
    }
  }
  return 0;
}
