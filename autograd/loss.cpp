// The softmax family and losses: the forward on tensors, then record() with the backward; the regression
// losses as compositions of elementwise ops.
#include "autograd/loss.h"

#include <algorithm>
#include <string>

#include "autograd/elementwise.h"
#include "autograd/reduce.h"

namespace mt {

Var softmax(const Var& x, int dim) {
  Tensor y = softmax(x.value(), dim);
  return record("softmax", y, {x}, [y, dim](const Tensor& g) { return Grads{softmax_backward(g, y, dim)}; });
}

Var log_softmax(const Var& x, int dim) {
  Tensor y = log_softmax(x.value(), dim);
  return record("log_softmax", y, {x},
                [y, dim](const Tensor& g) { return Grads{log_softmax_backward(g, y, dim)}; });
}

namespace {

Var reduce(const Var& terms, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return mean(terms);
    case Reduction::Sum: return sum(terms);
    case Reduction::None: break;
  }
  return terms;
}

// -mean_i log_softmax(logits)[i, labels[i]], in one stable kernel: the reference model's loss.
Var fused_cross_entropy(const Var& logits, std::span<const int64_t> labels) {
  Tensor row_stats;
  Tensor loss = cross_entropy(logits.value(), labels, &row_stats);
  return record("cross_entropy", std::move(loss), {logits},
                [xv = logits.value(), kept = PoolVector<int64_t>(labels.begin(), labels.end()),
                 row_stats = std::move(row_stats)](const Tensor& g) {
                  return Grads{cross_entropy_backward(xv, kept, g.item(), row_stats)};
                });
}

}  // namespace

Var mse_loss(const Var& input, const Var& target, Reduction reduction) {
  return reduce(square(input - target), reduction);
}

Var l1_loss(const Var& input, const Var& target, Reduction reduction) {
  return reduce(abs(input - target), reduction);
}

Var smooth_l1_loss(const Var& input, const Var& target, Reduction reduction, double beta) {
  if (!(beta >= 0)) throw Error("smooth_l1_loss: beta must be >= 0, got " + std::to_string(beta));
  if (beta == 0) return l1_loss(input, target, reduction);
  // With a = min(|d|, beta): a^2 / (2 beta) + (|d| - a) is both branches at once, and its gradient is the
  // piecewise one (clamp passes it at |d| == beta, where both sides agree).
  const Var d = abs(input - target);
  const Var a = clamp(d, std::nullopt, beta);
  return reduce(square(a) * (0.5 / beta) + (d - a), reduction);
}

Var binary_cross_entropy_with_logits(const Var& input, const Var& target, const BCEWithLogitsOptions& options) {
  const Var& x = input;
  const Var& y = target;
  Var terms = options.pos_weight.defined()
                  ? (-y + 1.0) * x + (Var(options.pos_weight - 1.0) * y + 1.0) * softplus(-x)
                  : (-y + 1.0) * x + softplus(-x);
  if (options.weight.defined()) terms = terms * Var(options.weight);
  return reduce(terms, options.reduction);
}

Var nll_loss(const Var& log_probs, std::span<const int64_t> labels, const NLLLossOptions& options) {
  double total_weight = 0;
  const Tensor terms = nll_loss_terms(log_probs.value(), labels, options.weight, options.ignore_index, total_weight);
  // Mean divides by the weight of the examples counted: NaN when every example is ignored, as in PyTorch.
  const double scale = options.reduction == Reduction::Mean ? 1.0 / total_weight : 1.0;
  const Tensor value = options.reduction == Reduction::None ? terms : sum(terms) * scale;
  return record("nll_loss", value, {log_probs},
                [shape = log_probs.shape(), kept = PoolVector<int64_t>(labels.begin(), labels.end()),
                 weight = options.weight, ignore = options.ignore_index, scale](const Tensor& g) {
                  return Grads{nll_loss_backward(g * scale, shape, kept, weight, ignore)};
                });
}

Var cross_entropy(const Var& logits, std::span<const int64_t> labels, const CrossEntropyOptions& options) {
  const double e = options.label_smoothing;
  if (!(e >= 0 && e <= 1))
    throw Error("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(e));
  const bool ignores = std::find(labels.begin(), labels.end(), options.ignore_index) != labels.end();
  if (!options.weight.defined() && !ignores && options.reduction == Reduction::Mean && e == 0)
    return fused_cross_entropy(logits, labels);
  const Var log_probs = log_softmax(logits, 1);
  const Var nll = nll_loss(log_probs, labels, {options.weight, options.ignore_index, options.reduction});
  if (e == 0) return nll;
  // PyTorch's smoothing term: -sum_c w_c log_probs[i, c], zero for ignored examples; its Mean divides by the
  // weight (without weights: the number) of the examples not ignored, as nll_loss's does.
  const int one[] = {1};
  const int64_t n = logits.size(0), classes = logits.size(1);
  Var smooth = options.weight.defined() ? -sum(log_probs * Var(options.weight.reshape({1, classes})), one)
                                        : -sum(log_probs, one);
  double counted_weight = static_cast<double>(n);
  if (ignores || options.weight.defined()) {
    counted_weight = 0;
    std::vector<double> keep(static_cast<size_t>(n));
    const std::vector<double> w = options.weight.defined() ? options.weight.to_vector() : std::vector<double>();
    for (size_t i = 0; i < keep.size(); ++i) {
      keep[i] = labels[i] == options.ignore_index ? 0.0 : 1.0;
      if (keep[i] != 0) counted_weight += w.empty() ? 1.0 : w[static_cast<size_t>(labels[i])];
    }
    smooth = smooth * Var(Tensor::from_vector(keep, {n}).to(logits.dtype()));
  }
  Var reduced = smooth;
  if (options.reduction == Reduction::Sum) reduced = sum(smooth);
  if (options.reduction == Reduction::Mean) reduced = sum(smooth) * (1.0 / counted_weight);
  return nll * (1 - e) + reduced * (e / static_cast<double>(classes));
}


}  // namespace mt
