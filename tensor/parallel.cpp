#include "tensor/parallel.h"

#include "tensor/error.h"

namespace mt {

void set_num_threads(int threads) {
  if (threads < 1) throw Error("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace mt
