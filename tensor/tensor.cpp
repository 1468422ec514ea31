#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <ostream>

#include "tensor/random.h"
#include "tensor/strided.h"

namespace mt {

std::size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? sizeof(float) : sizeof(double); }

const char* dtype_name(DType dtype) { return dtype == DType::Float32 ? "float32" : "float64"; }

Storage::Storage(std::size_t bytes) : data_(allocate(bytes)), bytes_(bytes) {}

Storage::~Storage() { deallocate(data_, bytes_); }

namespace {

// dst[i] = src[i] over dst's shape, src broadcast to it, converting the element type.
template <class D, class S>
void copy_elements(const Tensor& dst, const Tensor& src, const Shape& src_strides) {
  D* d = dst.mutable_data<D>();
  const S* s = src.data<S>();
  detail::for_each_row<2>(dst.shape(), {dst.strides(), src_strides},
                          [&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> inc) {
                            D* dp = d + off[0];
                            const S* sp = s + off[1];
                            if (inc[0] == 1 && inc[1] == 1) {
                              for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
                            } else {
                              for (int64_t i = 0; i < n; ++i) dp[i * inc[0]] = static_cast<D>(sp[i * inc[1]]);
                            }
                          });
}

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw Error(std::string(op) + ": the tensor is undefined");
}

}  // namespace

namespace {

// How every element of one printed tensor is written, chosen from all its finite values as PyTorch does:
// whole numbers as "3.", others with 4 decimals, scientific past 1e8 or when the magnitudes span more than 1e3.
struct ValueFormat {
  bool whole = true, scientific = false;
  int width = 1;

  std::string operator()(double v) const {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    if (scientific) std::snprintf(buf, sizeof buf, "%.4e", v);
    else if (whole) std::snprintf(buf, sizeof buf, "%.0f.", v);
    else std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
  }
};

// PyTorch's print options: summarise past 1000 elements, to 3 at each end of a dim; lines of 80 characters.
constexpr int64_t kSummaryThreshold = 1000, kEdgeItems = 3;
constexpr int kLineWidth = 80;

// The indices of a dim that are printed; -1 stands for the "..." of a summarised dim.
std::vector<int64_t> shown_indices(int64_t size, bool summarise) {
  std::vector<int64_t> shown;
  if (summarise && size > 2 * kEdgeItems) {
    for (int64_t i = 0; i < kEdgeItems; ++i) shown.push_back(i);
    shown.push_back(-1);
    for (int64_t i = size - kEdgeItems; i < size; ++i) shown.push_back(i);
  } else {
    for (int64_t i = 0; i < size; ++i) shown.push_back(i);
  }
  return shown;
}

void print_values(std::string& out, const double* p, const Shape& shape, const Shape& strides, int dim,
                  int indent, bool summarise, const ValueFormat& format) {
  const std::vector<int64_t> shown = shown_indices(shape[dim], summarise);
  out += '[';
  if (dim == shape.size() - 1) {
    const int per_line = std::max(1, (kLineWidth - indent - 1) / (format.width + 2));
    for (size_t k = 0; k < shown.size(); ++k) {
      if (k > 0) out += k % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : ", ";
      if (shown[k] < 0) {
        out += " ...";
        continue;
      }
      const std::string v = format(p[shown[k] * strides[dim]]);
      out += std::string(std::max<size_t>(format.width, v.size()) - v.size(), ' ') + v;
    }
  } else {
    // Rows on their own lines, a blank line between 2-D blocks.
    const std::string separator = "," + std::string(shape.size() - 1 - dim, '\n') + std::string(indent + 1, ' ');
    for (size_t k = 0; k < shown.size(); ++k) {
      if (k > 0) out += separator;
      if (shown[k] < 0) {
        out += "...";
        continue;
      }
      print_values(out, p + shown[k] * strides[dim], shape, strides, dim + 1, indent + 1, summarise, format);
    }
  }
  out += ']';
}

}  // namespace

std::string to_string(const Tensor& t, const std::string& suffix) {
  if (!t.defined()) return "tensor(undefined)";
  const Tensor values = t.to(DType::Float64);
  const bool summarise = t.numel() > kSummaryThreshold;
  ValueFormat format;
  double max_abs = 0, min_abs = INFINITY;
  for (double v : values.to_vector()) {
    if (!std::isfinite(v)) continue;
    format.whole = format.whole && v == std::nearbyint(v);
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
  }
  format.scientific = min_abs != INFINITY && (max_abs > 1e8 || max_abs / min_abs > 1e3 || (!format.whole && min_abs < 1e-4));
  for (double v : values.to_vector()) format.width = std::max<int>(format.width, static_cast<int>(format(v).size()));
  std::string out = "tensor(";
  if (t.dim() == 0) {
    out += format(values.item());
  } else if (t.numel() == 0) {
    out += "[], size=" + t.shape().str();
  } else {
    print_values(out, values.data<double>(), values.shape(), values.strides(), 0, 7, summarise, format);
  }
  if (t.dtype() != DType::Float32) out += std::string(", dtype=") + dtype_name(t.dtype());
  return out + suffix + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

Shape detail::broadcast_strides(const Tensor& t, const Shape& shape, const char* op) {
  if (broadcast_shapes(t.shape(), shape, op) != shape)
    throw Error(std::string(op) + ": cannot broadcast " + t.shape().str() + " to " + shape.str());
  Shape strides;
  const int lead = shape.size() - t.dim();
  for (int d = 0; d < shape.size(); ++d) {
    const int td = d - lead;
    strides.push_back(td < 0 || t.shape()[td] == 1 ? 0 : t.strides()[td]);
  }
  return strides;
}

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype)
    : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset), dtype_(dtype) {}

Tensor Tensor::with_layout(Shape shape, Shape strides, int64_t offset) const {
  return Tensor(storage_, shape, strides, offset, dtype_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    if (d < 0) throw Error("empty: negative size in shape " + shape.str());
  if (shape.numel() > PTRDIFF_MAX / static_cast<int64_t>(dtype_size(dtype)))
    throw Error("empty: shape " + shape.str() + " needs more bytes than memory can address");
  auto storage = make_pooled<Storage>(static_cast<std::size_t>(shape.numel()) * dtype_size(dtype));
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) { return full(shape, 0, dtype); }

Tensor Tensor::ones(const Shape& shape, DType dtype) { return full(shape, 1, dtype); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype) { return empty(shape, dtype).fill_(value); }

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(double start, double end, double step, DType dtype) {
  if (step == 0) throw Error("arange: step is zero");
  const double count = std::ceil((end - start) / step);
  Tensor t = empty({count > 0 ? static_cast<int64_t>(count) : 0}, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

template <class T>
static Tensor tensor_from_values(std::span<const T> values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw Error("from_vector: " + std::to_string(values.size()) + " values do not fill shape " + shape.str());
  Tensor t = Tensor::empty(shape, dtype_of<T>());
  std::copy(values.begin(), values.end(), t.mutable_data<T>());
  return t;
}

Tensor Tensor::from_vector(std::span<const float> values, const Shape& shape) {
  return tensor_from_values(values, shape);
}

Tensor Tensor::from_vector(std::span<const double> values, const Shape& shape) {
  return tensor_from_values(values, shape);
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(gen.uniform(low, high));
  });
  return t;
}

Tensor Tensor::normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(mean + stddev * gen.normal());
  });
  return t;
}

int64_t Tensor::size(int dim) const { return shape_[normalize_dim(dim, this->dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape_[d] != 1 && strides_[d] != expected) return false;
    expected *= shape_[d];
  }
  return true;
}

std::string Tensor::str() const { return std::string(dtype_name(dtype_)) + shape_.str(); }

double Tensor::item() const {
  check_defined(*this, "item");
  if (numel() != 1) throw Error("item: a " + str() + " tensor does not hold exactly one element");
  return at({});
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  check_defined(*this, "at");
  int64_t offset = 0;
  int d = 0;
  if (static_cast<int>(index.size()) != dim() && !(index.size() == 0 && numel() == 1))
    throw Error("at: " + std::to_string(index.size()) + " indices for a " + str() + " tensor");
  for (int64_t i : index) {
    if (i < 0 || i >= shape_[d]) throw Error("at: index " + std::to_string(i) + " out of range for " + str());
    offset += i * strides_[d++];
  }
  return dispatch_dtype(dtype_, [&](auto tag) { return static_cast<double>(data<decltype(tag)>()[offset]); });
}

std::vector<double> Tensor::to_vector() const {
  check_defined(*this, "to_vector");
  Tensor c = to(DType::Float64).contiguous();
  const double* p = c.data<double>();
  return std::vector<double>(p, p + c.numel());
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined(*this, "reshape");
  Shape target = shape;
  int infer = -1;
  int64_t known = 1;
  for (int d = 0; d < target.size(); ++d) {
    if (target[d] == -1) {
      if (infer >= 0) throw Error("reshape: more than one -1 in " + shape.str());
      infer = d;
    } else if (target[d] < 0) {
      throw Error("reshape: negative size in " + shape.str());
    } else {
      known *= target[d];
    }
  }
  if (infer >= 0 && known != 0 && numel() % known == 0) target[infer] = numel() / known;
  if (target.numel() != numel() || (infer >= 0 && known == 0))
    throw Error("reshape: cannot reshape " + shape_.str() + " (" + std::to_string(numel()) + " elements) to " +
                shape.str());
  if (is_contiguous()) return with_layout(target, contiguous_strides(target), offset_);
  return contiguous().with_layout(target, contiguous_strides(target), 0);
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous()) throw Error("view: " + str() + " is not contiguous; use reshape() or contiguous()");
  return reshape(shape);
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  const int a = normalize_dim(dim0, dim(), "transpose"), b = normalize_dim(dim1, dim(), "transpose");
  Shape shape = shape_, strides = strides_;
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return with_layout(shape, strides, offset_);
}

Tensor Tensor::t() const {
  if (dim() != 2) throw Error("t: expects a 2-D tensor, got " + str());
  return transpose(0, 1);
}

Tensor Tensor::permute(std::initializer_list<int> dims) const {
  return permute(std::span<const int>(dims.begin(), dims.size()));
}

Tensor Tensor::permute(std::span<const int> dims) const {
  if (static_cast<int>(dims.size()) != dim())
    throw Error("permute: " + std::to_string(dims.size()) + " dims given for " + str());
  Shape shape, strides;
  bool seen[Shape::kMaxDims] = {};
  for (int d : dims) {
    const int n = normalize_dim(d, dim(), "permute");
    if (seen[n]) throw Error("permute: dim " + std::to_string(d) + " repeated");
    seen[n] = true;
    shape.push_back(shape_[n]);
    strides.push_back(strides_[n]);
  }
  return with_layout(shape, strides, offset_);
}

Tensor Tensor::narrow(int dim, int64_t start, int64_t length) const {
  const int d = normalize_dim(dim, this->dim(), "narrow");
  if (start < 0 || length < 0 || start + length > shape_[d])
    throw Error("narrow: [" + std::to_string(start) + ", " + std::to_string(start + length) + ") is outside dim " +
                std::to_string(d) + " of " + str());
  Shape shape = shape_;
  shape[d] = length;
  return with_layout(shape, strides_, offset_ + start * strides_[d]);
}

Tensor Tensor::select(int dim, int64_t index) const {
  const int d = normalize_dim(dim, this->dim(), "select");
  if (index < -shape_[d] || index >= shape_[d])
    throw Error("select: index " + std::to_string(index) + " is outside dim " + std::to_string(d) + " of " + str());
  Tensor t = narrow(d, index < 0 ? index + shape_[d] : index, 1);
  Shape shape = t.shape_, strides = t.strides_;
  shape.erase(d);
  strides.erase(d);
  return with_layout(shape, strides, t.offset_);
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end, int64_t step) const {
  const int d = normalize_dim(dim, this->dim(), "slice");
  if (step <= 0) throw Error("slice: step must be > 0, got " + std::to_string(step));
  const int64_t n = shape_[d];
  auto clamp_index = [n](int64_t i) { return i < 0 ? std::max<int64_t>(i + n, 0) : std::min(i, n); };
  const int64_t first = clamp_index(start), last = clamp_index(end);
  const int64_t length = last > first ? (last - first + step - 1) / step : 0;
  Shape shape = shape_, strides = strides_;
  shape[d] = length;
  strides[d] = strides_[d] * step;
  return with_layout(shape, strides, offset_ + first * strides_[d]);
}

Tensor Tensor::unsqueeze(int dim) const {
  const int d = normalize_dim(dim, this->dim() + 1, "unsqueeze");
  Shape shape = shape_, strides = strides_;
  shape.insert(d, 1);
  strides.insert(d, d < this->dim() ? strides_[d] * shape_[d] : 1);
  return with_layout(shape, strides, offset_);
}

Tensor Tensor::squeeze(int dim) const {
  const int d = normalize_dim(dim, this->dim(), "squeeze");
  if (shape_[d] != 1) throw Error("squeeze: dim " + std::to_string(dim) + " of " + str() + " is not 1");
  Shape shape = shape_, strides = strides_;
  shape.erase(d);
  strides.erase(d);
  return with_layout(shape, strides, offset_);
}

Tensor Tensor::expand(const Shape& shape) const {
  check_defined(*this, "expand");
  return with_layout(shape, detail::broadcast_strides(*this, shape, "expand"), offset_);
}

Tensor Tensor::contiguous() const {
  check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone");
  Tensor out = empty(shape_, dtype_);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType dtype) const {
  check_defined(*this, "to");
  if (dtype == dtype_) return *this;
  Tensor out = empty(shape_, dtype);
  out.copy_(*this);
  return out;
}

const Tensor& Tensor::fill_(double value) const {
  check_defined(*this, "fill_");
  dispatch_dtype(dtype_, [&](auto tag) {
    using T = decltype(tag);
    T* p = mutable_data<T>();
    const T v = static_cast<T>(value);
    detail::for_each_row<1>(shape_, {strides_}, [&](std::array<int64_t, 1> off, int64_t n, std::array<int64_t, 1> inc) {
      for (int64_t i = 0; i < n; ++i) p[off[0] + i * inc[0]] = v;
    });
  });
  return *this;
}

const Tensor& Tensor::copy_(const Tensor& src) const {
  check_defined(*this, "copy_");
  check_defined(src, "copy_");
  const Shape src_strides = detail::broadcast_strides(src, shape_, "copy_");
  dispatch_dtype(dtype_, [&](auto dst_tag) {
    dispatch_dtype(src.dtype_, [&](auto src_tag) {
      copy_elements<decltype(dst_tag), decltype(src_tag)>(*this, src, src_strides);
    });
  });
  return *this;
}

}  // namespace mt
