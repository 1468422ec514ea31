#pragma once
// Shape ops: views of their input (no copy); the gradient is the inverse view of g. Forward and backward side by
// side in shape.cpp; the views themselves are Tensor's (tensor/tensor.h).
#include <cstdint>
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var reshape(const Var& x, const Shape& shape);                     // the same elements in row-major order
Var transpose(const Var& x, int dim0, int dim1);                   // swaps two dims
Var permute(const Var& x, std::span<const int> dims);              // y.dim(i) = x.dim(dims[i])
Var narrow(const Var& x, int dim, int64_t start, int64_t length);  // x[..., start:start+length, ...]

inline constexpr std::string_view kShapeOps[] = {"reshape", "transpose", "permute", "narrow"};

}  // namespace mt
