#include "tensor/cpu.h"

#include <cstdlib>
#include <string>

#include "tensor/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace mt::detail {

const CpuModel& cpu_model() {
  static const CpuModel model = [] {
    CpuModel found;
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return found;
    found.amd = ebx == 0x68747541 && edx == 0x69746e65 && ecx == 0x444d4163;  // "Auth" "enti" "cAMD"
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return found;
    const unsigned base = (eax >> 8) & 0xF;
    found.family = base + (base == 0xF ? (eax >> 20) & 0xFF : 0);
#endif
    return found;
  }();
  return model;
}

int tuning_choice(const char* variable, std::initializer_list<const char*> forms, int cpu_pick) {
  const char* value = std::getenv(variable);
  if (!value || !*value) return cpu_pick;
  std::string names;
  int index = 0;
  for (const char* form : forms) {
    if (std::string(value) == form) return index;
    names += (index++ ? ", '" : "'") + std::string(form) + "'";
  }
  throw Error(std::string(variable) + " is '" + value + "': it must be one of " + names + " (or unset)");
}

}  // namespace mt::detail
