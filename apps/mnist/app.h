#pragma once
// The three subcommands of apps/mnist. Each returns the process exit code.
#include "apps/mnist/options.h"

namespace mnist_app {

// Exit codes beside 0 (success), 1 (an mt::Error: missing data, a bad file) and 2 (a bad command line).
constexpr int kExitDiverged = 3;
constexpr int kExitInterrupted = 130;

int run_train(const Options& options);
int run_eval(const Options& options);
int run_predict(const Options& options);

}  // namespace mnist_app
