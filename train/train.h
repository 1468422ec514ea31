#pragma once
// train::Classifier: a Keras-like helper for classification, built on train::fit (train/loop.h), the loop
// every program here trains with.
// Add layers (their last one producing logits [N, classes]), fit on rows of X with integer labels, then
// evaluate or predict. The model is an nn::Sequential, so it prints, saves and loads like any module:
//
//   mt::Generator gen(42);
//   mt::train::Classifier clf;
//   clf.add(std::make_shared<mt::nn::Linear>(2, 32, gen)).add(std::make_shared<mt::nn::ReLU>())
//      .add(std::make_shared<mt::nn::Linear>(32, 2, gen));
//   auto history = clf.fit(X, y, {.epochs = 100, .batch_size = 32, .learning_rate = 1e-2});
//   mt::nn::save(clf.model(), "spirals.mtw");
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "nn/nn.h"

namespace mt::train {

struct EpochStats {
  int epoch = 0;                        // from 1
  double loss = 0;                      // mean cross-entropy over the epoch's batches, weighted by size
  double train_accuracy = 0;            // on the epoch's batches, as the model was trained (like Keras)
  std::optional<double> val_accuracy;   // after the epoch, when a validation set is given
};

struct FitOptions {
  int epochs = 10;
  int64_t batch_size = 32;
  double learning_rate = 1e-3;  // for Adam (PyTorch's defaults otherwise); each fit() starts a fresh Adam
  uint64_t shuffle_seed = 0;    // the batches' order, reshuffled every epoch from this seed
  Tensor val_x{};               // optional validation rows, used when defined
  std::span<const int64_t> val_y{};
  std::function<void(const EpochStats&)> on_epoch{};  // optional, e.g. to print progress
};

class Classifier {
 public:
  Classifier();

  Classifier& add(std::shared_ptr<nn::Module> layer);

  // Trains on x [N, ...] (float32 or float64, like the model) with labels y [N] in [0, classes), minimising
  // the mean softmax cross-entropy with Adam on mini-batches shuffled by (shuffle_seed, epoch), through
  // train::fit. Returns one entry per epoch; a diverging loss (NaN, or logits 10^4 apart) is an mt::Error.
  std::vector<EpochStats> fit(const Tensor& x, std::span<const int64_t> y, const FitOptions& options = {});

  double evaluate(const Tensor& x, std::span<const int64_t> y);  // accuracy in [0, 1], in eval mode
  std::vector<int64_t> predict(const Tensor& x);                 // the argmax class of each row

  nn::Sequential& model() { return *model_; }

 private:
  std::shared_ptr<nn::Sequential> model_;
};

}  // namespace mt::train
