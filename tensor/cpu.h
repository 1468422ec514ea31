#pragma once
// Internal: which x86 core the process runs on, for the kernels whose fastest form differs between cores that
// run the same instructions (tensor/gemm.cpp's broadcast, optim/optim.cpp's Adam width). Results never depend
// on it: each choice is between forms that compute the same bits. An environment variable per choice
// overrides the CPU's pick, for the tests of the other form and for cores not measured yet.
#include <initializer_list>

namespace mt::detail {

struct CpuModel {
  bool amd = false;     // vendor "AuthenticAMD"
  unsigned family = 0;  // cpuid's family, base plus extended: 0x19 Zen 3 and Zen 4, 0x1A Zen 5; 6 most Intel
};

// Read once per process; all zero off x86.
const CpuModel& cpu_model();

// The index in `forms` of the value of environment variable `variable`, or `cpu_pick` where it is unset or
// empty; any other value throws mt::Error naming the variable, its value and the forms.
int tuning_choice(const char* variable, std::initializer_list<const char*> forms, int cpu_pick);

}  // namespace mt::detail
