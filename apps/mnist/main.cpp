// apps/mnist: trains, evaluates and applies the reference MNIST model. `mnist --help` lists the options.
// Under `mpirun -np N` training is data-parallel (apps/mnist/parallel.h); eval and predict run on rank 0.
#include <cstdio>
#include <exception>
#include <new>
#include <string>

#include "apps/mnist/app.h"
#include "apps/mnist/parallel.h"
#include "tensor/error.h"
#include "tensor/version.h"

int main(int argc, char** argv) {
  mnist_app::Ranks ranks(argc, argv);
  // A failing rank says so and, under mpirun, ends the others, which may be waiting for it.
  const std::string who = mnist_app::rank_count() > 1 ? "rank " + std::to_string(mnist_app::rank()) + ": " : "";
  try {
    const mnist_app::Options options = mnist_app::parse_options(argc, argv);
    if (options.command != "train" && mnist_app::rank() != 0) return 0;
    if (options.command == "help") {
      std::fputs(mnist_app::help_text().c_str(), stdout);
      return 0;
    }
    if (options.command == "version") {
      std::printf("mnist (microtorch) %s\n", std::string(mt::version()).c_str());
      return 0;
    }
    if (options.command == "eval") return mnist_app::run_eval(options);
    if (options.command == "predict") return mnist_app::run_predict(options);
    return mnist_app::run_train(options);
  } catch (const mnist_app::UsageError& e) {
    std::fprintf(stderr, "mnist: %s%s\n", who.c_str(), e.message.c_str());
    return mnist_app::fail_all(2);
  } catch (const std::bad_alloc&) {
    // Where the app knows what was being allocated it says so (an mt::Error); this is everything else.
    std::fprintf(stderr, "mnist: %serror: out of memory\n", who.c_str());
    return mnist_app::fail_all(1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist: %serror: %s\n", who.c_str(), e.what());
    return mnist_app::fail_all(1);
  }
}
