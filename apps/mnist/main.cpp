// apps/mnist: trains, evaluates and applies the reference MNIST model. `mnist --help` lists the options.
#include <cstdio>
#include <exception>

#include "apps/mnist/app.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  try {
    const mnist_app::Options options = mnist_app::parse_options(argc, argv);
    if (options.command == "eval") return mnist_app::run_eval(options);
    if (options.command == "predict") return mnist_app::run_predict(options);
    return mnist_app::run_train(options);
  } catch (const mnist_app::UsageError& e) {
    std::fprintf(stderr, "mnist: %s\n", e.message.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist: error: %s\n", e.what());
    return 1;
  }
}
