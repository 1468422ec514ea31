#include "train/train.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "optim/optim.h"

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

// The rows of x (contiguous) listed in `rows`, as a new tensor [rows.size(), ...].
Tensor gather_rows(const Tensor& x, std::span<const int64_t> rows) {
  Shape shape = x.shape();
  shape[0] = static_cast<int64_t>(rows.size());
  Tensor out = Tensor::empty(shape, x.dtype());
  const size_t row_bytes = static_cast<size_t>(x.numel() / x.size(0)) * dtype_size(x.dtype());
  auto copy = [&](const auto* src, auto* dst) {
    const auto* from = reinterpret_cast<const char*>(src);
    auto* to = reinterpret_cast<char*>(dst);
    for (size_t i = 0; i < rows.size(); ++i) std::memcpy(to + i * row_bytes, from + rows[i] * row_bytes, row_bytes);
  };
  if (x.dtype() == DType::Float32) {
    copy(x.data<float>(), out.mutable_data<float>());
  } else {
    copy(x.data<double>(), out.mutable_data<double>());
  }
  return out;
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
  if (options.val_x.defined()) check_rows("fit (validation)", options.val_x, options.val_y);
  const Tensor rows = x.contiguous();
  const int64_t n = rows.size(0);
  optim::Adam optimizer(model_->parameters(), {.lr = options.learning_rate});
  Generator gen(options.shuffle_seed);
  std::vector<int64_t> order(static_cast<size_t>(n)), batch_labels, predicted;
  std::iota(order.begin(), order.end(), 0);

  std::vector<EpochStats> history;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    model_->train();
    gen.shuffle(order);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t begin = 0; begin < n; begin += options.batch_size) {
      const std::span<const int64_t> batch(order.data() + begin, static_cast<size_t>(std::min(options.batch_size, n - begin)));
      batch_labels.clear();
      for (int64_t i : batch) batch_labels.push_back(y[static_cast<size_t>(i)]);
      const Var logits = model_->forward(Var(gather_rows(rows, batch)));
      const Var loss = nn::cross_entropy(logits, batch_labels);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item() * static_cast<double>(batch.size());
      argmax(logits.value(), 1, predicted);
      correct += count_correct(predicted, batch_labels);
    }
    EpochStats stats{epoch, loss_sum / static_cast<double>(n), static_cast<double>(correct) / static_cast<double>(n),
                     std::nullopt};
    if (options.val_x.defined()) stats.val_accuracy = evaluate(options.val_x, options.val_y);
    if (options.on_epoch) options.on_epoch(stats);
    history.push_back(stats);
  }
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
