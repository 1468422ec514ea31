// Shape ops: the view, then record() with the inverse view of the gradient.
#include "autograd/shape.h"

#include <array>

namespace mt {

Var reshape(const Var& x, const Shape& shape) {
  return record("reshape", x.value().reshape(shape), {x},
                [xs = x.shape()](const Tensor& g) { return Grads{g.reshape(xs)}; });
}

Var transpose(const Var& x, int dim0, int dim1) {
  return record("transpose", x.value().transpose(dim0, dim1), {x},
                [dim0, dim1](const Tensor& g) { return Grads{g.transpose(dim0, dim1)}; });
}

Var permute(const Var& x, std::span<const int> dims) {
  Tensor y = x.value().permute(dims);  // checks `dims` before they index `inverse`
  std::array<int, Shape::kMaxDims> inverse{};
  for (size_t i = 0; i < dims.size(); ++i) inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int>(i);
  return record("permute", y, {x}, [inverse, n = dims.size()](const Tensor& g) {
    return Grads{g.permute(std::span<const int>(inverse.data(), n))};
  });
}

Var narrow(const Var& x, int dim, int64_t start, int64_t length) {
  return record("narrow", x.value().narrow(dim, start, length), {x},
                [xv = x.value(), dim, start, length](const Tensor& g) {
                  Tensor grad = Tensor::zeros(xv.shape(), xv.dtype());
                  grad.narrow(dim, start, length).copy_(g);
                  return Grads{grad};
                });
}

}  // namespace mt
