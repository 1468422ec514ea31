// Shape ops: the view, then record() with the inverse view of the gradient.
#include "autograd/shape.h"

#include <algorithm>
#include <array>
#include <string>

namespace mt {

Var reshape(const Var& x, const Shape& shape) {
  return record("reshape", x.value().reshape(shape), {x},
                [xs = x.shape()](const Tensor& g) { return Grads{g.reshape(xs)}; });
}

Var transpose(const Var& x, int dim0, int dim1) {
  return record("transpose", x.value().transpose(dim0, dim1), {x},
                [dim0, dim1](const Tensor& g) { return Grads{g.transpose(dim0, dim1)}; });
}

Var permute(const Var& x, std::span<const int> dims) {
  Tensor y = x.value().permute(dims);  // checks `dims` before they index `inverse`
  std::array<int, Shape::kMaxDims> inverse{};
  for (size_t i = 0; i < dims.size(); ++i) inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int>(i);
  return record("permute", y, {x}, [inverse, n = dims.size()](const Tensor& g) {
    return Grads{g.permute(std::span<const int>(inverse.data(), n))};
  });
}

Var narrow(const Var& x, int dim, int64_t start, int64_t length) {
  return record("narrow", x.value().narrow(dim, start, length), {x},
                [xv = x.value(), dim, start, length](const Tensor& g) {
                  Tensor grad = Tensor::zeros(xv.shape(), xv.dtype());
                  grad.narrow(dim, start, length).copy_(g);
                  return Grads{grad};
                });
}

Var select(const Var& x, int dim, int64_t index) {
  Tensor y = x.value().select(dim, index);
  const int d = normalize_dim(dim, x.dim(), "select");
  const int64_t i = index < 0 ? index + x.size(d) : index;
  return record("select", y, {x}, [xv = x.value(), d, i](const Tensor& g) {
    Tensor grad = Tensor::zeros(xv.shape(), xv.dtype());
    grad.select(d, i).copy_(g);
    return Grads{grad};
  });
}

Var slice(const Var& x, int dim, int64_t start, int64_t end, int64_t step) {
  return record("slice", x.value().slice(dim, start, end, step), {x},
                [xv = x.value(), dim, start, end, step](const Tensor& g) {
                  Tensor grad = Tensor::zeros(xv.shape(), xv.dtype());
                  grad.slice(dim, start, end, step).copy_(g);
                  return Grads{grad};
                });
}

Var unsqueeze(const Var& x, int dim) {
  const int d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  return record("unsqueeze", x.value().unsqueeze(d), {x}, [d](const Tensor& g) { return Grads{g.squeeze(d)}; });
}

Var squeeze(const Var& x) {
  Tensor y = x.value();
  for (int d = y.dim() - 1; d >= 0; --d)
    if (y.size(d) == 1) y = y.squeeze(d);
  return record("squeeze", y, {x}, [xs = x.shape()](const Tensor& g) { return Grads{g.reshape(xs)}; });
}

Var squeeze(const Var& x, int dim) {
  const int d = normalize_dim(dim, x.dim(), "squeeze");
  if (x.size(d) != 1) return x;
  return record("squeeze", x.value().squeeze(d), {x}, [d](const Tensor& g) { return Grads{g.unsqueeze(d)}; });
}

Var expand(const Var& x, const Shape& shape) {
  Shape target = shape;
  const int lead = shape.size() - x.dim();
  if (lead < 0)
    throw Error("expand: " + shape.str() + " has fewer dims than " + x.value().str());
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] != -1) continue;
    if (d < lead) throw Error("expand: -1 at a new leading dim in " + shape.str());
    target[d] = x.size(d - lead);
  }
  return record("expand", x.value().expand(target), {x}, [xs = x.shape()](const Tensor& g) { return Grads{sum_to(g, xs)}; });
}

Var flatten(const Var& x, int start_dim, int end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int first = normalize_dim(start_dim, x.dim(), "flatten"), last = normalize_dim(end_dim, x.dim(), "flatten");
  if (first > last)
    throw Error("flatten: start_dim " + std::to_string(start_dim) + " comes after end_dim " + std::to_string(end_dim) +
                " of " + x.value().str());
  Shape shape;
  int64_t joined = 1;
  for (int d = 0; d < x.dim(); ++d) {
    if (d < first || d > last) {
      shape.push_back(x.size(d));
    } else {
      joined *= x.size(d);
      if (d == last) shape.push_back(joined);
    }
  }
  return reshape(x, shape);
}

namespace {

// The inputs of cat / stack: at least one, of one dtype, each shaped like the first except along `except`
// (-1: nowhere).
void check_joined(const char* op, std::span<const Var> xs, int except) {
  if (xs.empty()) throw Error(std::string(op) + ": needs at least one tensor");
  const Tensor& first = xs[0].value();
  for (size_t i = 1; i < xs.size(); ++i) {
    const Tensor& t = xs[i].value();
    bool ok = t.dtype() == first.dtype() && t.dim() == first.dim();
    for (int d = 0; ok && d < t.dim(); ++d) ok = d == except || t.size(d) == first.size(d);
    if (!ok)
      throw Error(std::string(op) + ": tensor " + std::to_string(i) + " " + t.str() + " does not fit tensor 0 " +
                  first.str() + (except >= 0 ? " (only dim " + std::to_string(except) + " may differ)" : ""));
  }
}

}  // namespace

Var cat(std::span<const Var> xs, int dim) {
  if (xs.empty()) throw Error("cat: needs at least one tensor");
  const int d = normalize_dim(dim, xs[0].dim(), "cat");
  check_joined("cat", xs, d);
  Shape shape = xs[0].shape();
  shape[d] = 0;
  PoolVector<int64_t> sizes;
  for (const Var& x : xs) {
    sizes.push_back(x.size(d));
    shape[d] += x.size(d);
  }
  Tensor y = Tensor::empty(shape, xs[0].dtype());
  int64_t start = 0;
  for (const Var& x : xs) {
    y.narrow(d, start, x.size(d)).copy_(x.value());
    start += x.size(d);
  }
  return record("cat", y, xs, [d, sizes](const Tensor& g) {
    Grads grads;
    int64_t offset = 0;
    for (int64_t size : sizes) {
      grads.push_back(g.narrow(d, offset, size));
      offset += size;
    }
    return grads;
  });
}

Var stack(std::span<const Var> xs, int dim) {
  if (xs.empty()) throw Error("stack: needs at least one tensor");
  const int d = normalize_dim(dim, xs[0].dim() + 1, "stack");
  check_joined("stack", xs, -1);
  Shape shape = xs[0].shape();
  shape.insert(d, static_cast<int64_t>(xs.size()));
  Tensor y = Tensor::empty(shape, xs[0].dtype());
  for (size_t i = 0; i < xs.size(); ++i) y.select(d, static_cast<int64_t>(i)).copy_(xs[i].value());
  return record("stack", y, xs, [d, n = xs.size()](const Tensor& g) {
    Grads grads;
    for (size_t i = 0; i < n; ++i) grads.push_back(g.select(d, static_cast<int64_t>(i)));
    return grads;
  });
}

std::vector<Var> split(const Var& x, std::span<const int64_t> sizes, int dim) {
  const int d = normalize_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 0) throw Error("split: a negative size " + std::to_string(size));
    total += size;
  }
  if (total != x.size(d))
    throw Error("split: sizes adding up to " + std::to_string(total) + " for dim " + std::to_string(d) + " of " +
                x.value().str());
  std::vector<Var> parts;
  int64_t start = 0;
  for (int64_t size : sizes) {
    parts.push_back(narrow(x, d, start, size));
    start += size;
  }
  return parts;
}

std::vector<Var> split(const Var& x, int64_t split_size, int dim) {
  const int d = normalize_dim(dim, x.dim(), "split");
  if (split_size <= 0) throw Error("split: split_size must be > 0, got " + std::to_string(split_size));
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < x.size(d); start += split_size)
    sizes.push_back(std::min(split_size, x.size(d) - start));
  if (sizes.empty()) sizes.push_back(0);  // PyTorch gives one empty part of an empty dim
  return split(x, sizes, d);
}

std::vector<Var> chunk(const Var& x, int64_t chunks, int dim) {
  const int d = normalize_dim(dim, x.dim(), "chunk");
  if (chunks <= 0) throw Error("chunk: chunks must be > 0, got " + std::to_string(chunks));
  return split(x, std::max<int64_t>((x.size(d) + chunks - 1) / chunks, 1), d);
}

}  // namespace mt
