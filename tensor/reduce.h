#pragma once
// Reduction kernels (reduce.cpp) over `dims` (all dims when empty); keepdim leaves them as size 1. Each output
// element is reduced by one thread in a fixed order, so results do not depend on the thread count.
#include <cstdint>
#include <span>
#include <vector>

#include "tensor/tensor.h"

namespace mt {

Tensor sum(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);   // sum over dims
Tensor mean(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);  // sum / count
Tensor max(const Tensor& x, int dim, bool keepdim = false);                          // max over dim
std::vector<int64_t> argmax(const Tensor& x, int dim);  // indices in row-major order of the other dims
void argmax(const Tensor& x, int dim, std::vector<int64_t>& indices);  // the same, reusing indices' memory
// Sums x over the dims along which `shape` was broadcast to x's shape: the gradient of broadcasting.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace mt
