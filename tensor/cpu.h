#pragma once
// Internal: which x86 core the process runs on, for the kernels whose fastest form differs between cores that
// run the same instructions (tensor/gemm.cpp's broadcast, optim/optim.cpp's Adam width). Results never depend
// on it: each choice is between forms that compute the same bits.

namespace mt::detail {

struct CpuModel {
  bool amd = false;     // vendor "AuthenticAMD"
  unsigned family = 0;  // cpuid's family, base plus extended: 0x19 Zen 3 and Zen 4, 0x1A Zen 5; 6 most Intel
};

// Read once per process; all zero off x86.
const CpuModel& cpu_model();

}  // namespace mt::detail
