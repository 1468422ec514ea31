#include "tensor/loss.h"

#include <string>

namespace mt {
namespace {

void check_nll(const char* op, const Shape& shape, std::span<const int64_t> labels, const Tensor& weight,
               DType dtype, int64_t ignore_index) {
  if (shape.size() != 2)
    throw Error(std::string(op) + ": needs scores [N, C], got " + shape.str());
  const int64_t n = shape[0], classes = shape[1];
  if (static_cast<int64_t>(labels.size()) != n)
    throw Error(std::string(op) + ": " + std::to_string(labels.size()) + " labels for " + shape.str() + " scores");
  if (weight.defined() && (weight.shape() != Shape({classes}) || weight.dtype() != dtype))
    throw Error(std::string(op) + ": class weights " + weight.str() + " must be [" + std::to_string(classes) + "] of " +
                dtype_name(dtype));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] != ignore_index && (labels[i] < 0 || labels[i] >= classes))
      throw Error(std::string(op) + ": label " + std::to_string(labels[i]) + " of example " + std::to_string(i) +
                  " is outside [0, " + std::to_string(classes) + ")");
}

}  // namespace

Tensor nll_loss_terms(const Tensor& log_probs, std::span<const int64_t> labels, const Tensor& weight,
                      int64_t ignore_index, double& total_weight) {
  check_nll("nll_loss", log_probs.shape(), labels, weight, log_probs.dtype(), ignore_index);
  const int64_t n = log_probs.size(0);
  Tensor terms = Tensor::empty({n}, log_probs.dtype());
  total_weight = 0;
  dispatch_dtype(log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
    const T* w = wc.defined() ? wc.data<T>() : nullptr;
    const T* x = log_probs.data<T>();
    T* l = terms.mutable_data<T>();
    const int64_t s0 = log_probs.strides()[0], s1 = log_probs.strides()[1];
    for (int64_t i = 0; i < n; ++i) {
      const int64_t y = labels[static_cast<size_t>(i)];
      if (y == ignore_index) {
        l[i] = T(0);
        continue;
      }
      const T wy = w ? w[y] : T(1);
      l[i] = -wy * x[i * s0 + y * s1];
      total_weight += static_cast<double>(wy);
    }
  });
  return terms;
}

Tensor nll_loss_backward(const Tensor& g, const Shape& log_probs_shape, std::span<const int64_t> labels,
                         const Tensor& weight, int64_t ignore_index) {
  check_nll("nll_loss_backward", log_probs_shape, labels, weight, g.dtype(), ignore_index);
  Tensor out = Tensor::zeros(log_probs_shape, g.dtype());
  const int64_t n = log_probs_shape[0], classes = log_probs_shape[1];
  const Tensor gc = g.contiguous();
  const bool per_example = g.numel() != 1;
  if (per_example && g.numel() != n)
    throw Error("nll_loss_backward: gradient " + g.str() + " for " + log_probs_shape.str() + " scores");
  dispatch_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
    const T* w = wc.defined() ? wc.data<T>() : nullptr;
    const T* gp = gc.data<T>();
    T* o = out.mutable_data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t y = labels[static_cast<size_t>(i)];
      if (y == ignore_index) continue;
      o[i * classes + y] = -(w ? w[y] : T(1)) * gp[per_example ? i : 0];
    }
  });
  return out;
}

}  // namespace mt
