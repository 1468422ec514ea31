#include "nn/functional.h"

#include <string>

namespace mt::nn {

Var linear(const Var& x, const Var& weight, const Var& bias) {
  if (x.dim() == 2) return bias.defined() ? mt::linear(x, weight, bias) : mt::linear(x, weight);
  // The fused op takes rows [N, in]: fold any leading dims into the rows and restore them after.
  if (x.dim() < 1 || weight.dim() != 2)
    throw Error("linear: input " + x.value().str() + " and weight " + weight.value().str() +
                " do not fit: expected input [..., in] and weight [out, in]");
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = weight.size(0);
  return reshape(nn::linear(reshape(x, {-1, x.size(-1)}), weight, bias), out_shape);
}

Var dropout(const Var& x, double p, Generator& gen, bool training) {
  if (!(p >= 0 && p <= 1)) throw Error("dropout: p must be in [0, 1], got " + std::to_string(p));
  if (!training || p == 0) return x;
  // Scaling the kept elements at training time lets evaluation use the layer as the identity.
  const double scale = p == 1 ? 0 : 1 / (1 - p);
  const Tensor u = Tensor::uniform(x.shape(), 0, 1, gen, x.dtype());
  return x * Var(ge(u, Tensor::scalar(p, x.dtype())) * scale);
}

}  // namespace mt::nn
