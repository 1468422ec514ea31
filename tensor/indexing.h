#pragma once
// Indexing kernels (indexing.cpp): selecting, gathering and scattering by integer indices, and choosing by a
// mask. An index out of range throws an Error naming the op, the index and the size of the dim it indexes.
// Masks are tensors of any floating dtype: nonzero is true (PyTorch's bool tensors).
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/tensor.h"

namespace mt {

// Integer indices with a shape, row-major: what PyTorch holds in an int64 tensor (microtorch's tensors are
// floating point). gather, scatter_add, embedding and topk take or give them.
struct Indices {
  Indices() = default;
  Indices(const std::vector<int64_t>& list);  // NOLINT: a 1-D list of indices converts on purpose
  Indices(const std::vector<int64_t>& list, const Shape& sizes);  // list.size() must be sizes.numel()
  Indices(std::initializer_list<int64_t> list) : Indices(adopt(PoolVector<int64_t>(list), Shape{int64_t(list.size())})) {}
  // Takes `values` (values.size() must be sizes.numel()) without copying them.
  static Indices adopt(PoolVector<int64_t> values, const Shape& sizes);
  // The values of a tensor holding whole numbers (a batch of token ids from a TensorDataLoader); throws otherwise.
  static Indices from_tensor(const Tensor& t, const char* op);

  int dim() const { return shape.size(); }
  int64_t size(int d) const { return shape[d]; }
  int64_t numel() const { return shape.numel(); }
  std::vector<int64_t> to_vector() const { return {values.begin(), values.end()}; }

  Shape shape;
  // In the tensor memory cache like a tensor's storage, so that a steady-state training step through gather,
  // index_select or an embedding allocates nothing (their backward closures keep a copy).
  PoolVector<int64_t> values;
};

// y = x[..., index[i], ...] along dim: y.size(dim) = index.size(), the other dims as x's.
Tensor index_select(const Tensor& x, int dim, std::span<const int64_t> index);
// y = x, then y[..., index[i], ...] += source[..., i, ...] along dim (repeated indices add up).
Tensor index_add(const Tensor& x, int dim, std::span<const int64_t> index, const Tensor& source);
// y[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for other dims); y is shaped like index, which has
// x's dims and sizes no larger than x's except along dim.
Tensor gather(const Tensor& x, int dim, const Indices& index);
// y = x, then y[index[i][j][k]][j][k] += src[i][j][k] for dim 0 (likewise for other dims), over index's
// shape, which is no larger than src's, nor than x's except along dim.
Tensor scatter_add(const Tensor& x, int dim, const Indices& index, const Tensor& src);
// y = cond != 0 ? a : b, all three broadcast to one shape; cond may be of any dtype, a and b of one.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// y = mask != 0 ? value : x, mask and x broadcast.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

}  // namespace mt
