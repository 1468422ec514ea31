#pragma once
// Internal: the matrix-multiply kernel behind matmul() and the fused layers built on it.
#include <cstdint>

namespace mt::detail {

// A matrix operand: element (i, j) is at data[i * row_stride + j * col_stride], so a transposed view
// is read in place.
template <class T>
struct MatrixRef {
  const T* data;
  int64_t row_stride, col_stride;
};

// C[M, N] = A[M, K] * B[K, N], plus C's old value when `accumulate`. C is row-major with row stride ldc.
// Each element of C is summed over k in the same order whatever the thread count.
// `scratch`: for a call from inside the caller's own parallel region (a convolution's GEMM per image), packing
// memory of gemm_scratch_size() elements that the caller took before its threads started, so that what a
// step allocates does not depend on how many threads happened to run at once; null: gemm() takes its own.
template <class T>
void gemm(int64_t m, int64_t n, int64_t k, MatrixRef<T> a, MatrixRef<T> b, T* c, int64_t ldc, bool accumulate,
          T* scratch = nullptr);

// The packing memory, in elements, of a gemm() on one thread with these shapes and strides (0 for most).
template <class T>
int64_t gemm_scratch_size(int64_t m, int64_t n, int64_t k, MatrixRef<T> a, MatrixRef<T> b);

// How the AVX-512 micro-kernel broadcasts the elements of A (tensor/gemm.cpp says why there are two forms):
// from the environment variable MT_GEMM_BROADCAST where it is set ("embedded" or "register"; anything else
// throws mt::Error), else by the CPU: embedded on AMD family 19h (Zen 4), register elsewhere. Chosen once per
// process; both give the same bits. Other builds have only the register form and ignore it.
enum class BroadcastForm { Embedded, Register };
BroadcastForm broadcast_form();

}  // namespace mt::detail
