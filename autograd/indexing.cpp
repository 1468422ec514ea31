// Indexing ops: the forward on tensors, then record() with the backward.
#include "autograd/indexing.h"

#include <string>

namespace mt {
namespace {

Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype()); }

}  // namespace

Var index_select(const Var& x, int dim, const Indices& index) {
  if (index.dim() != 1) throw Error("index_select: the index must be 1-D, got " + index.shape.str());
  const int d = normalize_dim(dim, x.dim(), "index_select");
  return record("index_select", index_select(x.value(), d, index.values), {x},
                [xv = x.value(), d, index](const Tensor& g) { return Grads{index_add(zeros_like(xv), d, index.values, g)}; });
}

Var gather(const Var& x, int dim, const Indices& index) {
  const int d = normalize_dim(dim, x.dim(), "gather");
  return record("gather", gather(x.value(), d, index), {x},
                [xv = x.value(), d, index](const Tensor& g) { return Grads{scatter_add(zeros_like(xv), d, index, g)}; });
}

Var scatter_add(const Var& x, int dim, const Indices& index, const Var& src) {
  const int d = normalize_dim(dim, x.dim(), "scatter_add");
  return record("scatter_add", scatter_add(x.value(), d, index, src.value()), {x, src},
                [sv = src.value(), d, index](const Tensor& g) {
                  if (sv.shape() == index.shape) return Grads{g, gather(g, d, index)};
                  Tensor grad_src = zeros_like(sv);
                  Tensor part = grad_src;
                  for (int k = 0; k < index.dim(); ++k) part = part.narrow(k, 0, index.size(k));
                  part.copy_(gather(g, d, index));
                  return Grads{g, grad_src};
                });
}

Var masked_fill(const Var& x, const Tensor& mask, double value) {
  return record("masked_fill", masked_fill(x.value(), mask, value), {x}, [xs = x.shape(), mask](const Tensor& g) {
    return Grads{sum_to(masked_fill(g, mask, 0), xs)};
  });
}

Var where(const Tensor& cond, const Var& a, const Var& b) {
  return record("where", where(cond, a.value(), b.value()), {a, b},
                [cond, as = a.shape(), bs = b.shape()](const Tensor& g) {
                  const Tensor zero = Tensor::scalar(0, g.dtype());
                  return Grads{sum_to(where(cond, g, zero), as), sum_to(where(cond, zero, g), bs)};
                });
}

Var embedding(const Indices& indices, const Var& weight, std::optional<int64_t> padding_idx) {
  if (weight.dim() != 2) throw Error("embedding: the weight must be 2-D [num_embeddings, dim], got " + weight.value().str());
  const int64_t rows = weight.size(0);
  std::optional<int64_t> padding;
  if (padding_idx) {
    if (*padding_idx < -rows || *padding_idx >= rows)
      throw Error("embedding: padding_idx " + std::to_string(*padding_idx) + " is out of range for " +
                  std::to_string(rows) + " embeddings");
    padding = *padding_idx < 0 ? *padding_idx + rows : *padding_idx;
  }
  Shape shape = indices.shape;
  shape.push_back(weight.size(1));
  for (int64_t i : indices.values)
    if (i < 0 || i >= rows)
      throw Error("embedding: index " + std::to_string(i) + " is out of range for " + std::to_string(rows) +
                  " embeddings");
  return record("embedding", index_select(weight.value(), 0, indices.values).reshape(shape), {weight},
                [wv = weight.value(), indices, padding](const Tensor& g) {
                  const Tensor grad = index_add(zeros_like(wv), 0, indices.values, g.reshape({indices.numel(), wv.size(1)}));
                  if (padding) grad.select(0, *padding).fill_(0);
                  return Grads{grad};
                });
}

}  // namespace mt
