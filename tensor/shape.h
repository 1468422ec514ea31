#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace mt {

// Sizes (or strides) of a tensor, held inline so that making a tensor never allocates for its shape.
class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> sizes);
  template <class It>
  Shape(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t back() const { return dims_[size_ - 1]; }
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + size_; }
  int64_t* begin() { return dims_.data(); }
  int64_t* end() { return dims_.data() + size_; }

  void push_back(int64_t d);
  void insert(int pos, int64_t d);
  void erase(int pos);

  int64_t numel() const;  // product of the sizes; 1 for a scalar's empty shape; throws on int64 overflow
  std::string str() const;  // "[32, 784]"

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int size_ = 0;
};

// Row-major strides of a contiguous tensor with this shape.
Shape contiguous_strides(const Shape& shape);

// The shape NumPy broadcasting gives two shapes; throws naming `op` and both shapes when they don't broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Turns a possibly negative dim into 0..ndim-1; throws naming `op` when it is out of range.
int normalize_dim(int dim, int ndim, const char* op);

}  // namespace mt
