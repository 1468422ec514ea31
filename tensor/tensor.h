#pragma once
// A CPU tensor: a shape, strides and an offset over shared, 64-byte aligned storage.
// Views (reshape of contiguous data, transpose, permute, narrow, expand) share the storage;
// contiguous() and clone() copy. The math on tensors is declared in tensor/kernels.h.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/error.h"
#include "tensor/shape.h"

namespace mt {

enum class DType { Float32, Float64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "float64"
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }

// Calls fn(T{}) with T the C++ element type of `dtype`: how a kernel is written once for float and double.
template <class Fn>
decltype(auto) dispatch_dtype(DType dtype, Fn&& fn) {
  if (dtype == DType::Float32) return fn(float{});
  return fn(double{});
}

// Bytes shared by all the tensors that view them, from tensor/allocator.h: aligned to kAllocationAlignment.
class Storage {
 public:
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  // Counts the writes through any tensor viewing these bytes (Tensor::mutable_data): the tape compares it
  // with the count at the forward, so an in-place edit between forward and backward is an error, not a
  // silently wrong gradient. Atomic: kernels take their output pointers on several threads at once.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  std::size_t bytes_;
  std::atomic<uint64_t> version_{0};
};

class Generator;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: no storage, defined() is false

  // Factories. Everything defaults to float32.
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32);  // uninitialised
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
  static Tensor scalar(double value, DType dtype = DType::Float32);  // 0-dimensional
  static Tensor arange(double start, double end, double step = 1, DType dtype = DType::Float32);
  static Tensor from_vector(std::span<const float> values, const Shape& shape);
  static Tensor from_vector(std::span<const double> values, const Shape& shape);
  // from_vector({1.f, 2.f}, {2}): a braced list does not convert to std::span.
  static Tensor from_vector(std::initializer_list<float> values, const Shape& shape) {
    return from_vector(std::span<const float>(values.begin(), values.size()), shape);
  }
  static Tensor from_vector(std::initializer_list<double> values, const Shape& shape) {
    return from_vector(std::span<const double>(values.begin(), values.size()), shape);
  }
  static Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::Float32);
  static Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype = DType::Float32);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }  // in elements, not bytes
  int64_t offset() const { return offset_; }          // in elements, into the storage
  int dim() const { return shape_.size(); }
  int64_t size(int dim) const;  // dim may be negative
  int64_t numel() const { return shape_.numel(); }
  bool is_contiguous() const;
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }
  // How many tensors (this one and its views) hold the storage: 1 when nothing else can see these elements.
  long storage_use_count() const { return storage_.use_count(); }
  std::string str() const;  // "float32[32, 784]"

  // Pointer to the first element; T must match dtype(). Elements are at data<T>()[sum(index * stride)].
  // data() reads; mutable_data() is for writing and counts as a write to the storage (version()).
  template <class T> const T* data() const;
  template <class T> T* mutable_data() const;
  uint64_t version() const { return storage_ ? storage_->version() : 0; }

  // Element access for tests, printing and small loops; converts to double.
  double item() const;  // requires exactly one element
  double at(std::initializer_list<int64_t> index) const;
  std::vector<double> to_vector() const;  // all elements in row-major order

  // Views sharing storage.
  Tensor reshape(const Shape& shape) const;  // one size may be -1; copies when the layout does not allow a view
  Tensor view(const Shape& shape) const;     // like reshape, but throws instead of copying
  Tensor flatten() const { return reshape({numel()}); }
  Tensor transpose(int dim0, int dim1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor permute(std::initializer_list<int> dims) const;
  Tensor permute(std::span<const int> dims) const;
  Tensor narrow(int dim, int64_t start, int64_t length) const;
  Tensor select(int dim, int64_t index) const;  // drops `dim`; a negative index counts from the end
  // x[..., start:end:step, ...] by Python's rules: negative start and end count from the end, both are clamped to
  // the dim, step > 0. The end defaults to the dim's end.
  static constexpr int64_t kEnd = INT64_MAX;
  Tensor slice(int dim, int64_t start, int64_t end = kEnd, int64_t step = 1) const;
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor expand(const Shape& shape) const;  // broadcast view: stride 0 along expanded dims

  // Copies.
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // itself when already of that dtype

  // In place: a Tensor is a handle, so these write through a const one to the shared elements (and count as
  // a write, see version()).
  const Tensor& fill_(double value) const;
  const Tensor& copy_(const Tensor& src) const;  // src broadcasts to this shape; dtypes may differ

 private:
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);
  Tensor with_layout(Shape shape, Shape strides, int64_t offset) const;

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::Float32;
};

// The values as PyTorch prints them, "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]], dtype=float64)": 4
// decimals (whole numbers as "3."; scientific when magnitudes span more than 1e3), a dtype other than float32
// named, more than 1000 elements summarised to 3 at each end of every dim. `suffix` goes before the ")".
std::string to_string(const Tensor& t, const std::string& suffix = "");
std::ostream& operator<<(std::ostream& os, const Tensor& t);

template <class T>
const T* Tensor::data() const {
  if (!defined()) throw Error("data: the tensor is undefined");
  if (dtype_of<T>() != dtype_)
    throw Error(std::string("data: asked for ") + dtype_name(dtype_of<T>()) + " elements of a " + str() + " tensor");
  return static_cast<const T*>(storage_->data()) + offset_;
}

template <class T>
T* Tensor::mutable_data() const {
  T* p = const_cast<T*>(data<T>());
  storage_->bump_version();
  return p;
}

}  // namespace mt
