#pragma once
// Reduction kernels (reduce.cpp) over `dims` (all dims when empty); keepdim leaves them as size 1. Each output
// element is reduced by one thread in a fixed order, so results do not depend on the thread count.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tensor/indexing.h"
#include "tensor/tensor.h"

namespace mt {

Tensor sum(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);   // sum over dims
Tensor mean(const Tensor& x, std::span<const int> dims = {}, bool keepdim = false);  // sum / count
// The same with the dims written in place, sum(x, {1}) (a braced list does not convert to std::span).
inline Tensor sum(const Tensor& x, std::initializer_list<int> dims, bool keepdim = false) {
  return sum(x, std::span<const int>(dims.begin(), dims.size()), keepdim);
}
inline Tensor mean(const Tensor& x, std::initializer_list<int> dims, bool keepdim = false) {
  return mean(x, std::span<const int>(dims.begin(), dims.size()), keepdim);
}
Tensor max(const Tensor& x, int dim, bool keepdim = false);                          // max over dim
std::vector<int64_t> argmax(const Tensor& x, int dim);  // indices in row-major order of the other dims
void argmax(const Tensor& x, int dim, std::vector<int64_t>& indices);  // the same, reusing indices' memory
// Statistics, each row in double. N is the count of reduced elements; a row with N - correction <= 0 divides
// by 0 (NaN or inf), as PyTorch.
Tensor var(const Tensor& x, std::span<const int> dims, double correction, bool keepdim);  // sum (x - mean)^2 / (N - correction)
Tensor std(const Tensor& x, std::span<const int> dims, double correction, bool keepdim);  // var^(1/2)
// m + ln sum e^(x - m), m the row maximum (0 when it is infinite, so inf stays inf and all -inf gives -inf); NaN
// propagates.
Tensor logsumexp(const Tensor& x, std::span<const int> dims, bool keepdim);
Tensor min(const Tensor& x, int dim, bool keepdim = false);  // min over dim; NaN propagates
std::vector<int64_t> argmin(const Tensor& x, int dim);  // the first minimum (or first NaN) of each row, as argmax
// The k largest (or smallest) elements along dim and their indices, both shaped like x with dim of size k:
// largest (smallest) first when sorted, else in the order they stand in x (PyTorch leaves that order to the
// implementation). Equal values keep their index order, and NaN counts as larger than every number, as in
// PyTorch.
template <class V>
struct ValuesIndices {
  V values;
  Indices indices;
};
ValuesIndices<Tensor> topk(const Tensor& x, int64_t k, int dim, bool largest = true, bool sorted = true);
// Sums x over the dims along which `shape` was broadcast to x's shape: the gradient of broadcasting.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace mt
