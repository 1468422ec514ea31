#include <string>

#include "tensor/gemm.h"
#include "tensor/matmul.h"
#include "tensor/reduce.h"
#include "tensor/strided.h"

namespace mt {
namespace {

[[noreturn]] void throw_shapes(const Tensor& a, const Tensor& b, const std::string& why) {
  throw Error("matmul: " + a.shape().str() + " x " + b.shape().str() + ": " + why);
}

template <class T>
detail::MatrixRef<T> matrix_at(const Tensor& t, int64_t batch) {
  const int r = t.dim() - 2;
  const T* base = t.data<T>() + (t.dim() == 3 ? batch * t.strides()[0] : 0);
  return {base, t.strides()[r], t.strides()[r + 1]};
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw Error("matmul: an operand is undefined");
  if (a.dtype() != b.dtype()) throw Error("matmul: dtypes differ: " + a.str() + " and " + b.str());
  if (a.dim() < 2 || a.dim() > 3 || b.dim() < 2 || b.dim() > 3)
    throw_shapes(a, b, "expects 2-D matrices or 3-D batches of them");
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  if (b.size(-2) != k)
    throw_shapes(a, b, "inner sizes " + std::to_string(k) + " and " + std::to_string(b.size(-2)) + " differ");
  // A batch may be empty ([0, m, k]): its result is [0, m, n], not a matrix.
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t batches = a.dim() == 3 ? a.size(0) : (b.dim() == 3 ? b.size(0) : 1);
  if (a.dim() == 3 && b.dim() == 3 && a.size(0) != b.size(0))
    throw_shapes(a, b, "batch sizes " + std::to_string(a.size(0)) + " and " + std::to_string(b.size(0)) + " differ");

  Tensor out = batched ? Tensor::empty({batches, m, n}, a.dtype()) : Tensor::empty({m, n}, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < batches; ++i)
      detail::gemm<T>(m, n, k, matrix_at<T>(a, i), matrix_at<T>(b, i), out.mutable_data<T>() + i * m * n, n, false);
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (!x.defined() || !weight.defined()) throw Error("linear: an operand is undefined");
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1))
    throw Error("linear: input " + x.shape().str() + " and weight " + weight.shape().str() +
                " do not fit: expected input [N, in] and weight [out, in]");
  if (x.dtype() != weight.dtype() || (bias.defined() && bias.dtype() != x.dtype()))
    throw Error("linear: dtypes differ: " + x.str() + ", " + weight.str() + (bias.defined() ? ", " + bias.str() : ""));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw Error("linear: bias " + bias.shape().str() + " does not fit weight " + weight.shape().str());
  const int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  Tensor y = Tensor::empty({n, out}, x.dtype());
  if (bias.defined()) y.copy_(bias);
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const Tensor wt = weight.t();
    detail::gemm<T>(n, out, in, matrix_at<T>(x, 0), matrix_at<T>(wt, 0), y.mutable_data<T>(), out, bias.defined());
  });
  return y;
}

}  // namespace mt
