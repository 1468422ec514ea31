// train::fit from a user's program: an MLP with dropout learns which of three rings a 2-D point lies on.
//
//   training_loop DIR [EPOCHS] [--resume]
//
// writes DIR/model.bin, metrics.csv, metrics.json and checkpoint.bin after every epoch; Ctrl-C stops after the
// current step (saving), and running it again with --resume (and as many or more EPOCHS) goes on from there,
// to the same weights an uninterrupted run ends with.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <string>
#include <vector>

#include "train/loop.h"

namespace {

// `n` points on three noisy rings of radius 1, 2 and 3; the label is the ring.
mt::datasets::TensorDataset rings(int64_t n, uint64_t seed) {
  mt::Generator gen(seed);
  std::vector<float> points;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ring = static_cast<int64_t>(gen.below(3));
    const double angle = gen.uniform(0, 2 * std::numbers::pi), radius = static_cast<double>(ring + 1) + 0.2 * gen.normal();
    points.push_back(static_cast<float>(radius * std::cos(angle)));
    points.push_back(static_cast<float>(radius * std::sin(angle)));
    labels.push_back(ring);
  }
  return mt::datasets::TensorDataset({mt::Tensor::from_vector(points, {n, 2})}, labels);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: training_loop DIR [EPOCHS] [--resume]\n");
    return 2;
  }
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 10;
  const bool resume = argc > 3 && std::string(argv[3]) == "--resume";
  try {
    mt::Generator gen(1);
    auto model = std::make_shared<mt::nn::Sequential>(std::initializer_list<std::shared_ptr<mt::nn::Module>>{
        std::make_shared<mt::nn::Linear>(2, 64, gen), std::make_shared<mt::nn::ReLU>(),
        std::make_shared<mt::nn::Dropout>(0.1, 2), std::make_shared<mt::nn::Linear>(64, 3, gen)});

    mt::datasets::TensorDataLoader train_loader(rings(2000, 3), {.batch_size = 32, .seed = 4});
    mt::datasets::TensorDataLoader val_loader(rings(500, 5), {.batch_size = 500, .shuffle = false});
    mt::train::Batches train(train_loader), validation(val_loader);

    mt::optim::AdamW adamw(model->parameters(), {.lr = 1e-2});
    // Stepped every batch. Its rates do not depend on the run's length, so a resumed run may go on for more
    // epochs (a CosineAnnealingLR over the run's steps would refuse a checkpoint made for another length).
    mt::optim::ExponentialLR decay(adamw, {.gamma = 0.999});
    const mt::train::StopSignals signals;  // Ctrl-C: finish the step, save, return Interrupted

    const mt::train::History history = mt::train::fit(*model, adamw, train,
                                                      {.epochs = epochs,
                                                       .scheduler = &decay,
                                                       .validation = &validation,
                                                       .out = argv[1],
                                                       .resume = resume,
                                                       .print = true,
                                                       .progress = true,
                                                       .signals = &signals});
    if (history.outcome == mt::train::Outcome::Diverged) {
      std::fprintf(stderr, "diverged: %s\n", history.diverged.c_str());
      return 3;
    }
    if (history.outcome == mt::train::Outcome::Interrupted) return signals.exit_code();
    std::printf("validation accuracy %.4f after %zu epochs\n", *history.epochs.back().val_acc, history.epochs.size());
    return 0;
  } catch (const mt::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
