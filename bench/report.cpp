#include "bench/report.h"

#include <string>

#include "bench/peak.h"
#include "optim/optim.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace mt::bench {

void set_flop_counters(benchmark::State& state, double flops_per_iteration, int threads, bool double_precision) {
  const double total = flops_per_iteration * static_cast<double>(state.iterations());
  const double peak = peak_gflops(threads > 0 ? threads : num_threads()) / (double_precision ? 2 : 1);
  state.counters["GFLOP/s"] = benchmark::Counter(1e-9 * total, benchmark::Counter::kIsRate);
  state.counters["%peak"] = benchmark::Counter(100e-9 * total / peak, benchmark::Counter::kIsRate);
}

void use_library_clock(benchmark::internal::Benchmark* benchmark) { clock_for_threads(benchmark, num_threads()); }

int run_benchmarks(int argc, char** argv, const std::function<void()>& context) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("mt_threads", std::to_string(num_threads()));
  benchmark::AddCustomContext("peak", describe_peak(num_threads()));
  benchmark::AddCustomContext("peak_gflops", std::to_string(peak_gflops(num_threads())));  // for scripts
  benchmark::AddCustomContext("gemm_broadcast",
                              detail::broadcast_form() == detail::BroadcastForm::Embedded ? "embedded" : "register");
  benchmark::AddCustomContext("adam_vector_bits", std::to_string(optim::adam_vector_bits()));
  if (context) context();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace mt::bench
