#pragma once
// The softmax family and losses. Forward and backward side by side in loss.cpp; the kernels (stable, with the
// row maximum subtracted first) are in tensor/softmax.cpp.
#include <cstdint>
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var softmax(const Var& x, int dim);      // e^x / sum e^x
Var log_softmax(const Var& x, int dim);  // x - log sum e^x

// How a loss reduces its per-element (or per-example) terms: their mean (PyTorch's default), sum, or none.
enum class Reduction { Mean, Sum, None };

// Regression losses of input and target, which broadcast against each other (both may require gradients).
// They are compositions of the elementwise ops, so their results' op() names the last of those.
Var mse_loss(const Var& input, const Var& target, Reduction reduction = Reduction::Mean);  // (x - y)^2
Var l1_loss(const Var& input, const Var& target, Reduction reduction = Reduction::Mean);   // |x - y|
// Huber's loss over beta: d^2 / (2 beta) where |d| < beta, else |d| - beta / 2 (d = x - y); l1_loss for beta 0.
Var smooth_l1_loss(const Var& input, const Var& target, Reduction reduction = Reduction::Mean, double beta = 1.0);

struct BCEWithLogitsOptions {
  Reduction reduction = Reduction::Mean;
  Tensor weight{};      // broadcast against the terms; undefined: 1
  Tensor pos_weight{};  // p, broadcast against the terms (per class, typically [C]); undefined: 1
};
// -w [p y ln sigmoid(x) + (1 - y) ln(1 - sigmoid(x))] for logits x and targets y in [0, 1], computed stably as
// w [(1 - y) x + (1 + (p - 1) y) softplus(-x)].
Var binary_cross_entropy_with_logits(const Var& input, const Var& target, const BCEWithLogitsOptions& options = {});

struct NLLLossOptions {
  Tensor weight{};             // per class [C]; undefined: 1
  int64_t ignore_index = -100;  // examples with this label add nothing, to the loss nor to the mean's count
  Reduction reduction = Reduction::Mean;  // Mean: sum / (sum of w[y_i] over the examples not ignored)
};
// -w[y_i] log_probs[i, y_i] for log-probabilities [N, C] and labels in [0, C) (or ignore_index).
Var nll_loss(const Var& log_probs, std::span<const int64_t> labels, const NLLLossOptions& options = {});

struct CrossEntropyOptions {
  Tensor weight{};              // per class [C]; undefined: 1
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0;   // e in [0, 1]: the target is (1 - e) onehot(y) + e / C
};
// nll_loss(log_softmax(logits, 1), labels) for logits [N, C], with PyTorch's label smoothing:
// (1 - e) nll + e / C sum_c -w_c log_softmax[i, c], both reduced alike (Mean: over the weight of the examples
// not ignored). Probability targets and [N, C, d...] scores are not supported.
// Without weights, ignored labels or smoothing, and with Mean, it is one fused, stable op.
Var cross_entropy(const Var& logits, std::span<const int64_t> labels, const CrossEntropyOptions& options = {});

inline constexpr std::string_view kLossOps[] = {"softmax", "log_softmax", "cross_entropy", "nll_loss",
                                                "mse_loss", "l1_loss", "smooth_l1_loss",
                                                "binary_cross_entropy_with_logits"};

}  // namespace mt
