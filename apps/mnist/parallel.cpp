#include "apps/mnist/parallel.h"

#ifdef MNIST_WITH_DIST
#include "dist/dist.h"
#endif

namespace mnist_app {

#ifdef MNIST_WITH_DIST

struct Ranks::Impl {
  mt::dist::Environment environment;
  Impl(int& argc, char**& argv) : environment(argc, argv) {}
};
struct StepAverager::Impl {
  mt::dist::GradientReducer reducer;
};

Ranks::Ranks(int& argc, char**& argv) : impl_(std::make_unique<Impl>(argc, argv)) {}
int rank() { return mt::dist::rank(); }
int rank_count() { return mt::dist::world_size(); }
int fail_all(int exit_code) {
  if (rank_count() > 1) mt::dist::abort(exit_code);
  return exit_code;
}
void broadcast(const mt::nn::Module& model) { mt::dist::broadcast(model); }
void sum(std::span<double> values) { mt::dist::all_reduce_sum(values); }

StepAverager::StepAverager(std::vector<mt::Var> parameters)
    : impl_(std::make_unique<Impl>(Impl{mt::dist::GradientReducer(std::move(parameters), {.extra_values = 2})})) {}

void StepAverager::average(double& loss, bool& stop) {
  if (rank_count() == 1) return;
  float shared[2] = {static_cast<float>(loss), stop ? 1.0f : 0.0f};
  impl_->reducer.reduce(shared);
  loss = shared[0];
  stop = shared[1] > 0;
}

#else

struct Ranks::Impl {};
struct StepAverager::Impl {};

Ranks::Ranks(int&, char**&) {}
int rank() { return 0; }
int rank_count() { return 1; }
int fail_all(int exit_code) { return exit_code; }
void broadcast(const mt::nn::Module&) {}
void sum(std::span<double>) {}

StepAverager::StepAverager(std::vector<mt::Var>) {}
void StepAverager::average(double&, bool&) {}

#endif

Ranks::~Ranks() = default;
StepAverager::~StepAverager() = default;

}  // namespace mnist_app
