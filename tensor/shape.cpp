#include "tensor/shape.h"

#include <algorithm>

#include "tensor/error.h"

namespace mt {

Shape::Shape(std::initializer_list<int64_t> sizes) : Shape(sizes.begin(), sizes.end()) {}

void Shape::push_back(int64_t d) {
  if (size_ == kMaxDims) throw Error("Shape: more than " + std::to_string(kMaxDims) + " dimensions");
  dims_[size_++] = d;
}

void Shape::insert(int pos, int64_t d) {
  push_back(0);
  for (int i = size_ - 1; i > pos; --i) dims_[i] = dims_[i - 1];
  dims_[pos] = d;
}

void Shape::erase(int pos) {
  for (int i = pos; i + 1 < size_; ++i) dims_[i] = dims_[i + 1];
  --size_;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : *this)
    if (__builtin_mul_overflow(n, d, &n)) throw Error("Shape " + str() + ": more elements than an int64_t holds");
  return n;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < size_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.size_ != b.size_) return false;
  for (int i = 0; i < a.size_; ++i)
    if (a.dims_[i] != b.dims_[i]) return false;
  return true;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides = shape;
  int64_t stride = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= shape[d];
  }
  return strides;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.size()), ib = i - (n - b.size());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw Error(std::string(op) + ": shapes " + a.str() + " and " + b.str() + " do not broadcast (dimension " +
                  std::to_string(i) + ": " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int normalize_dim(int dim, int ndim, const char* op) {
  const int d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim)
    throw Error(std::string(op) + ": dim " + std::to_string(dim) + " is out of range for a " + std::to_string(ndim) +
                "-dimensional tensor");
  return d;
}

}  // namespace mt
