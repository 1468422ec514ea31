// A packed GEMM in the style of BLIS/GotoBLAS: B is packed into panels of NR columns and A into strips of
// MR rows so that a register-blocked micro-kernel streams both from contiguous memory. The micro-kernel is
// written with GCC vector extensions, which the compiler maps to AVX-512, AVX2 or SSE as the target allows.
#include "tensor/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/parallel.h"

namespace mt::detail {
namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

template <class T>
struct Blocking {
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  static constexpr int kLanes = kVectorBytes / sizeof(T);
  static constexpr int NR = 2 * kLanes;               // columns of a micro-tile: two vectors
  static constexpr int MR = kVectorBytes == 64 ? 8 : 6;  // rows of a micro-tile
  static constexpr int64_t KC = 256;                  // depth of a packed block: a B micro-panel fits L1
  static constexpr int64_t MC = MR * 16;              // rows of a packed A block: fits L2
  static constexpr int64_t NC = NR * 32;              // columns of a packed B block
};

// Buffers reused across calls so that a steady-state training step does not allocate.
template <class T>
std::vector<T>& scratch(int which) {
  thread_local std::vector<T> buffers[2];
  return buffers[which];
}

// Packs B[k0:k0+kc, j0:j0+nc] into panels of NR columns, k-major inside a panel, zero-padded.
template <class T>
void pack_b(MatrixRef<T> b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = Blocking<T>::NR;
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = b.data + (k0 + p) * b.row_stride + (j0 + jp) * b.col_stride;
      if (b.col_stride == 1 && cols == NR) {
        std::memcpy(out, src, sizeof(T) * NR);
      } else {
        int64_t j = 0;
        for (; j < cols; ++j) out[j] = src[j * b.col_stride];
        for (; j < NR; ++j) out[j] = T(0);
      }
      out += NR;
    }
  }
}

// Packs A[i0:i0+mc, k0:k0+kc] into strips of MR rows, k-major inside a strip, zero-padded.
template <class T>
void pack_a(MatrixRef<T> a, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* out) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - ip);
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = a.data + (i0 + ip) * a.row_stride + (k0 + p) * a.col_stride;
      int64_t i = 0;
      for (; i < rows; ++i) out[i] = src[i * a.row_stride];
      for (; i < MR; ++i) out[i] = T(0);
      out += MR;
    }
  }
}

// C[0:rows, 0:cols] (+)= packed A strip x packed B panel, for a full MR x NR register tile.
template <class T>
void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t rows, int64_t cols, bool load_c) {
  using B = Blocking<T>;
  using Vec = typename B::Vec;
  constexpr int MR = B::MR, L = B::kLanes;
  Vec acc[MR][2] = {};
  for (int64_t p = 0; p < kc; ++p) {
    Vec b0, b1;
    std::memcpy(&b0, b + p * B::NR, sizeof(Vec));
    std::memcpy(&b1, b + p * B::NR + L, sizeof(Vec));
    for (int i = 0; i < MR; ++i) {
      const T ai = a[p * MR + i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (rows == MR && cols == B::NR) {
    for (int i = 0; i < MR; ++i) {
      for (int h = 0; h < 2; ++h) {
        Vec old = {};
        if (load_c) std::memcpy(&old, c + i * ldc + h * L, sizeof(Vec));
        const Vec sum = old + acc[i][h];
        std::memcpy(c + i * ldc + h * L, &sum, sizeof(Vec));
      }
    }
    return;
  }
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const T v = acc[i][j / L][j % L];
      c[i * ldc + j] = load_c ? c[i * ldc + j] + v : v;
    }
  }
}

// The sequential GEMM for the block C[i_begin:i_end, j_begin:j_end].
template <class T>
void gemm_block(int64_t i_begin, int64_t i_end, int64_t j_begin, int64_t j_end, int64_t k, MatrixRef<T> a,
                MatrixRef<T> b, T* c, int64_t ldc, bool accumulate) {
  using B = Blocking<T>;
  std::vector<T>& packed_a = scratch<T>(0);
  std::vector<T>& packed_b = scratch<T>(1);
  packed_a.resize(static_cast<size_t>(B::MC * B::KC));
  packed_b.resize(static_cast<size_t>(B::NC * B::KC));
  for (int64_t jc = j_begin; jc < j_end; jc += B::NC) {
    const int64_t nc = std::min(B::NC, j_end - jc);
    for (int64_t pc = 0; pc < k; pc += B::KC) {
      const int64_t kc = std::min(B::KC, k - pc);
      const bool load_c = accumulate || pc > 0;
      pack_b(b, pc, kc, jc, nc, packed_b.data());
      for (int64_t ic = i_begin; ic < i_end; ic += B::MC) {
        const int64_t mc = std::min(B::MC, i_end - ic);
        pack_a(a, ic, mc, pc, kc, packed_a.data());
        for (int64_t jr = 0; jr < nc; jr += B::NR) {
          for (int64_t ir = 0; ir < mc; ir += B::MR) {
            micro_kernel(kc, packed_a.data() + ir * kc, packed_b.data() + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc,
                         std::min<int64_t>(B::MR, mc - ir), std::min<int64_t>(B::NR, nc - jr), load_c);
          }
        }
      }
    }
  }
}

}  // namespace

template <class T>
void gemm(int64_t m, int64_t n, int64_t k, MatrixRef<T> a, MatrixRef<T> b, T* c, int64_t ldc, bool accumulate) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  // Threads take disjoint column ranges of whole micro-panels, or row ranges of whole micro-strips when C is
  // too narrow. Every C element is still summed over k in the same blocks and order, so the result does not
  // depend on the split.
  constexpr int NR = Blocking<T>::NR, MR = Blocking<T>::MR;
  const int64_t panels = (n + NR - 1) / NR, strips = (m + MR - 1) / MR;
  if (panels >= num_threads() || strips < panels) {
    parallel_for(panels, m * n * k, [&](int64_t begin, int64_t end) {
      gemm_block(0, m, begin * NR, std::min(end * NR, n), k, a, b, c, ldc, accumulate);
    });
  } else {
    parallel_for(strips, m * n * k, [&](int64_t begin, int64_t end) {
      gemm_block(begin * MR, std::min(end * MR, m), 0, n, k, a, b, c, ldc, accumulate);
    });
  }
}

template void gemm<float>(int64_t, int64_t, int64_t, MatrixRef<float>, MatrixRef<float>, float*, int64_t, bool);
template void gemm<double>(int64_t, int64_t, int64_t, MatrixRef<double>, MatrixRef<double>, double*, int64_t, bool);

}  // namespace mt::detail
