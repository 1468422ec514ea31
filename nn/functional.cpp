#include "nn/functional.h"

#include <string>

namespace mt::nn {

Var linear(const Var& x, const Var& weight, const Var& bias) {
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw Error("linear: input " + x.value().str() + " does not match weight " + weight.value().str() +
                " (expected input [..., " + std::to_string(weight.dim() == 2 ? weight.size(1) : -1) + "])");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw Error("linear: bias " + bias.value().str() + " does not match weight " + weight.value().str());
  // matmul takes 2-D or batched 3-D operands; fold any leading dims into the rows and restore them after.
  const Shape in_shape = x.shape();
  const Var rows = x.dim() == 2 ? x : reshape(x, {-1, x.size(-1)});
  Var y = matmul(rows, transpose(weight, 0, 1));
  if (bias.defined()) y = y + bias;
  if (x.dim() == 2) return y;
  Shape out_shape = in_shape;
  out_shape[out_shape.size() - 1] = weight.size(0);
  return reshape(y, out_shape);
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
