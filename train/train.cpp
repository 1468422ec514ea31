#include "train/train.h"

#include <algorithm>
#include <optional>
#include <string>

#include "optim/optim.h"
#include "train/loop.h"

namespace mt::train {
namespace {

// Rows predict() pushes through the model at once: bounds the memory of the activations.
constexpr int64_t kPredictRows = 4096;

void check_rows(const char* op, const Tensor& x, std::span<const int64_t> y) {
  if (!x.defined() || x.dim() < 1 || x.size(0) == 0) throw Error(std::string(op) + ": x must hold at least one row");
  if (static_cast<int64_t>(y.size()) != x.size(0))
    throw Error(std::string(op) + ": x " + x.str() + " has " + std::to_string(x.size(0)) + " rows but y has " +
                std::to_string(y.size()) + " labels");
}

int64_t count_correct(const std::vector<int64_t>& predicted, std::span<const int64_t> labels) {
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i];
  return correct;
}

}  // namespace

Classifier::Classifier() : model_(std::make_shared<nn::Sequential>()) {}

Classifier& Classifier::add(std::shared_ptr<nn::Module> layer) {
  model_->add(std::move(layer));
  return *this;
}

std::vector<EpochStats> Classifier::fit(const Tensor& x, std::span<const int64_t> y, const FitOptions& options) {
  check_rows("fit", x, y);
  if (options.epochs < 0 || options.batch_size <= 0)
    throw Error("fit: epochs must be >= 0 and batch_size > 0, got " + std::to_string(options.epochs) + " and " +
                std::to_string(options.batch_size));
  datasets::TensorDataLoader loader(datasets::TensorDataset({x}, std::vector<int64_t>(y.begin(), y.end())),
                                    {.batch_size = options.batch_size, .shuffle = true, .seed = options.shuffle_seed});
  Batches batches(loader);
  std::optional<datasets::TensorDataLoader> val_loader;
  std::optional<Batches> validation;
  if (options.val_x.defined()) {
    check_rows("fit (validation)", options.val_x, options.val_y);
    val_loader.emplace(datasets::TensorDataset({options.val_x}, std::vector<int64_t>(options.val_y.begin(), options.val_y.end())),
                       datasets::TensorLoaderOptions{.batch_size = kPredictRows, .shuffle = false});
    validation.emplace(*val_loader);
  }
  optim::Adam optimizer(model_->parameters(), {.lr = options.learning_rate});
  std::vector<EpochStats> history;
  const History run = train::fit(*model_, optimizer, batches,
                                 {.epochs = options.epochs,
                                  .validation = validation ? &*validation : nullptr,
                                  .on_epoch = [&](const EpochMetrics& m) {
                                    history.push_back({m.epoch, m.loss, m.train_acc, m.val_acc});
                                    if (options.on_epoch) options.on_epoch(history.back());
                                  }});
  if (run.outcome == Outcome::Diverged) throw Error("fit: " + run.diverged + ": training diverged; try a smaller learning_rate");
  return history;
}

std::vector<int64_t> Classifier::predict(const Tensor& x) {
  if (!x.defined() || x.dim() < 1) throw Error("predict: x must be a tensor of rows [N, ...]");
  model_->eval();
  NoGradGuard no_grad;
  std::vector<int64_t> labels;
  for (int64_t begin = 0; begin < x.size(0); begin += kPredictRows) {
    const Tensor chunk = x.narrow(0, begin, std::min(kPredictRows, x.size(0) - begin));
    const std::vector<int64_t> predicted = argmax(model_->forward(Var(chunk)).value(), 1);
    labels.insert(labels.end(), predicted.begin(), predicted.end());
  }
  return labels;
}

double Classifier::evaluate(const Tensor& x, std::span<const int64_t> y) {
  check_rows("evaluate", x, y);
  return static_cast<double>(count_correct(predict(x), y)) / static_cast<double>(y.size());
}

}  // namespace mt::train
