#pragma once
// Reductions over dims. Forward and backward side by side in reduce.cpp; the kernels are in tensor/reduce.cpp.
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var sum(const Var& x, std::span<const int> dims = {}, bool keepdim = false);   // sum over dims (all when empty)
Var mean(const Var& x, std::span<const int> dims = {}, bool keepdim = false);  // sum / count (all when empty)
// The same with the dims written in place, sum(x, {1}) (a braced list does not convert to std::span).
inline Var sum(const Var& x, std::initializer_list<int> dims, bool keepdim = false) {
  return sum(x, std::span<const int>(dims.begin(), dims.size()), keepdim);
}
inline Var mean(const Var& x, std::initializer_list<int> dims, bool keepdim = false) {
  return mean(x, std::span<const int>(dims.begin(), dims.size()), keepdim);
}
Var max(const Var& x, int dim, bool keepdim = false);  // max over dim; the gradient goes to the first maximum


// Statistics over dims (all when empty) of N elements each. The correction is subtracted from N: 1 (unbiased,
// the default) or 0 (biased, unbiased = false), or any other as Correction{c}.
struct Correction {
  double value;
};
Var var(const Var& x, std::span<const int> dims = {}, bool unbiased = true, bool keepdim = false);  // sum (x - mean)^2 / (N - 1 or N)
Var var(const Var& x, std::span<const int> dims, Correction correction, bool keepdim = false);      // sum (x - mean)^2 / (N - c)
Var std(const Var& x, std::span<const int> dims = {}, bool unbiased = true, bool keepdim = false);  // var^(1/2); gradient 0 where it is 0
Var std(const Var& x, std::span<const int> dims, Correction correction, bool keepdim = false);
// The same with the dims written in place, var(x, {1}).
inline Var var(const Var& x, std::initializer_list<int> dims, bool unbiased = true, bool keepdim = false) {
  return var(x, std::span<const int>(dims.begin(), dims.size()), unbiased, keepdim);
}
inline Var var(const Var& x, std::initializer_list<int> dims, Correction correction, bool keepdim = false) {
  return var(x, std::span<const int>(dims.begin(), dims.size()), correction, keepdim);
}
inline Var std(const Var& x, std::initializer_list<int> dims, bool unbiased = true, bool keepdim = false) {
  return std(x, std::span<const int>(dims.begin(), dims.size()), unbiased, keepdim);
}
inline Var std(const Var& x, std::initializer_list<int> dims, Correction correction, bool keepdim = false) {
  return std(x, std::span<const int>(dims.begin(), dims.size()), correction, keepdim);
}
// ln sum e^x, stably (m + ln sum e^(x - m)); gradient e^(x - y). inf stays inf, all -inf gives -inf, NaN propagates.
Var logsumexp(const Var& x, std::span<const int> dims, bool keepdim = false);
inline Var logsumexp(const Var& x, std::initializer_list<int> dims, bool keepdim = false) {
  return logsumexp(x, std::span<const int>(dims.begin(), dims.size()), keepdim);
}
Var min(const Var& x, int dim, bool keepdim = false);  // min over dim; the gradient goes to the first minimum (or NaN)

// Positions, never differentiated: of the first maximum / minimum along dim (NaN counts as both), or over all
// elements flattened when dim is not given (then of shape [], or all ones with keepdim), as torch.argmax.
Indices argmax(const Var& x, std::optional<int> dim = std::nullopt, bool keepdim = false);
Indices argmin(const Var& x, std::optional<int> dim = std::nullopt, bool keepdim = false);
// The k largest (or smallest) along dim and their indices: largest (smallest) first when sorted, else in index
// order (PyTorch leaves that order to the implementation). The values' gradient goes back to those indices.
// Ties keep index order; NaN counts as the largest.
ValuesIndices<Var> topk(const Var& x, int64_t k, int dim = -1, bool largest = true, bool sorted = true);

inline constexpr std::string_view kReduceOps[] = {"sum", "mean", "max", "var", "std", "logsumexp", "min", "topk"};

}  // namespace mt
