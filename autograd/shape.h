#pragma once
// Shape ops: views of their input (no copy); the gradient is the inverse view of g. Forward and backward side by
// side in shape.cpp; the views themselves are Tensor's (tensor/tensor.h).
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>
#include <vector>

#include "autograd/var.h"

namespace mt {

Var reshape(const Var& x, const Shape& shape);                     // the same elements in row-major order
Var transpose(const Var& x, int dim0, int dim1);                   // swaps two dims
Var permute(const Var& x, std::span<const int> dims);              // y.dim(i) = x.dim(dims[i])
Var narrow(const Var& x, int dim, int64_t start, int64_t length);  // x[..., start:start+length, ...]

Var select(const Var& x, int dim, int64_t index);                  // x[..., index, ...], dropping dim; index < 0 from the end
// x[..., start:end:step, ...] with Python's rules (negative from the end, clamped; step > 0): x[:, -3:] is
// slice(x, 1, -3).
Var slice(const Var& x, int dim, int64_t start, int64_t end = Tensor::kEnd, int64_t step = 1);
Var unsqueeze(const Var& x, int dim);  // a new dim of size 1 before dim (dim may be x.dim(), or negative)
Var squeeze(const Var& x);             // drops every dim of size 1
Var squeeze(const Var& x, int dim);    // drops dim if its size is 1, else returns x (as PyTorch)
Var expand(const Var& x, const Shape& shape);  // broadcast view; -1 keeps a size; the gradient sums back
Var flatten(const Var& x, int start_dim = 0, int end_dim = -1);  // dims start_dim..end_dim into one (a reshape)
Var cat(std::span<const Var> xs, int dim);    // joined along dim; the others' sizes equal
Var stack(std::span<const Var> xs, int dim);  // joined along a new dim; all shapes equal
// Views of consecutive parts along dim (narrow ops): of split_size each (the last may be smaller), of the
// given sizes, or chunks of ceil(size / chunks) (so possibly fewer than `chunks`), as PyTorch.
std::vector<Var> split(const Var& x, int64_t split_size, int dim = 0);
std::vector<Var> split(const Var& x, std::span<const int64_t> sizes, int dim = 0);
std::vector<Var> chunk(const Var& x, int64_t chunks, int dim = 0);
// The same with the list written in place, permute(x, {2, 0, 1}), cat({a, b}, 0).
inline Var permute(const Var& x, std::initializer_list<int> dims) {
  return permute(x, std::span<const int>(dims.begin(), dims.size()));
}
inline Var cat(std::initializer_list<Var> xs, int dim) { return cat(std::span<const Var>(xs.begin(), xs.size()), dim); }
inline Var stack(std::initializer_list<Var> xs, int dim) { return stack(std::span<const Var>(xs.begin(), xs.size()), dim); }

inline constexpr std::string_view kShapeOps[] = {"reshape", "transpose", "permute", "narrow", "select", "slice",
                                                 "unsqueeze", "squeeze", "expand", "cat", "stack"};

}  // namespace mt
