// A register-blocked GEMM in the style of BLIS/GotoBLAS, tuned for the small shapes of a batch-32 MLP step.
//
// The micro-kernel keeps an R x (NV vectors) tile of C in registers (R <= MR = 8, NV <= 2) and, for each k,
// multiplies R elements of A, each broadcast to a vector (on AVX-512 into a register or by the FMA's own memory
// operand, whichever the CPU runs faster: broadcast_form()), by NV vectors of a row of B. It reads its operands
// in place whenever that is cheap, so most of the layer shapes need no packing at all:
//   - A element (i, p) is read at a[i * ars + p * acs]: a row-major A (ars = lda, acs = 1), a transposed view
//     (ars = 1, acs = lda) and a packed strip (ars = 1, acs = MR) all go through the same kernel. A is packed
//     only when neither of its strides is 1.
//   - B row p of a panel is read at b[p * bld + j]: B with unit column stride is read in place (bld = its row
//     stride); otherwise (a transposed view such as W^T) it is packed into panels of NR columns (bld = NR),
//     with in-register 16x16 / 8x8 transposes on AVX-512 (float and double) and AVX2 (float): by each chunk
//     of columns for its own columns once per K block, or once for all chunks of rows when they split C by
//     rows.
//   - A transposed B with fewer rows of C than columns (the forward pass y = x W^T at batch 32) is computed
//     as C^T = B^T A^T: W is read in place, only the batch is packed, and the micro-kernel transposes its tile
//     in registers as it stores it into C. On one thread always; on several when C has at most NR rows.
// Edges: on AVX-512 a panel narrower than NR loads and stores its last vector with a mask, so neither B nor C
// is padded; the portable path (GCC vector extensions, mapped to AVX2 or SSE) packs a partial B panel with
// zero padding and stores a partial C tile element by element.
//
// Determinism: every C element is c = (c +) sum_p a(i, p) * b(p, j), the sum taken in p order, one
// multiply-add at a time (FMA where the target has it) in one lane of one accumulator, within K blocks that
// depend on K alone (K split evenly into blocks of at most KC); kernel instance, packing, thread split and
// computing C^T instead (the same products, a(i, p) * b(p, j) = b(p, j) * a(i, p)) do not change it.
// Threads take disjoint C columns (whole panels) or rows (whole strips) in chunks, each claiming the next
// chunk when it is done with its last; K is never split.
#include "tensor/gemm.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "tensor/allocator.h"
#include "tensor/cpu.h"
#include "tensor/parallel.h"

namespace mt::detail {

BroadcastForm broadcast_form() {
  static const BroadcastForm form = [] {
    const bool zen4 = cpu_model().amd && cpu_model().family == 0x19;
    return static_cast<BroadcastForm>(tuning_choice("MT_GEMM_BROADCAST", {"embedded", "register"}, zen4 ? 0 : 1));
  }();
  return form;
}

namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr bool kMasked = true;  // edge columns through masked loads and stores
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
constexpr bool kMasked = false;
#else
constexpr int kVectorBytes = 16;
constexpr bool kMasked = false;
#endif

// Below this many multiply-adds a GEMM runs on one thread. Measured with bench/bench_gemm on the 2-core Zen 5
// VM under SCHED_FIFO (chrt -f 50, so that other processes' builds do not take the cores): the kernels' own
// pool forks and joins in well under a microsecond while its worker spins, and the 1M-multiply-add layer
// shapes (32x128x256, 128x256x32, 32x256x128: about 9 us on one core) ran 1.4-1.9x faster on 2 threads; at
// 256K (32x64x128, 64x128x32) 2 threads were no faster. Under OpenMP, whose fork and join cost 2-4 us, the
// threshold was 2M.
constexpr int64_t kGemmParallelWork = int64_t{1} << 19;

template <class T>
struct Blocking {
  static constexpr int kLanes = kVectorBytes / static_cast<int>(sizeof(T));
  static constexpr int NV = 2;                          // vectors per micro-tile row
  static constexpr int NR = NV * kLanes;                // columns of a micro-tile
  static constexpr int MR = kVectorBytes == 64 ? 8 : 6; // rows of a micro-tile
  // Most depth of a K block. Each K block after the first re-reads and re-writes all of C, which at
  // inference (C = 10000 x 256, 10 MB) streams C through memory once more: measured on the Zen 5 VM at one
  // thread, 10000x256x784 ran at 168-200 GFLOP/s as 2 blocks of 392 and 216-222 as one of 784 (196: 151-159);
  // the batch-32 shapes did not change. A B panel of 784 x 32 floats (100 KB) streams from L2 well enough.
  static constexpr int64_t KC = 1024;
  static constexpr int64_t MC = MR * 32;                // rows of a block of A (packed only if strided)
  static constexpr int64_t NC = NR * 32;                // columns of a packed B block
};

// Packing memory of one gemm() call, from the tensor memory cache (tensor/allocator.h), taken by the calling
// thread before any other starts: a slot per thread for gemm_block's packed blocks of A and B and its padded
// edge panel, then room for a B packed once for all threads. The same shapes ask for the same sizes, so a
// steady-state training step finds all of it in the cache whichever threads take part; per-thread buffers
// allocated the first time a thread joined in, which could be any step.
// The sizes of one slot's three buffers, in elements; zero for a buffer gemm_block will not use.
struct PackingSizes {
  int64_t a, b, edge;
};

template <class T>
class Workspace {
 public:
  // `external`: memory of size() elements the caller owns, or null to take it from the cache.
  Workspace(PackingSizes sizes, int slots, int64_t shared_b_size, T* external = nullptr)
      : a_size_(sizes.a),
        b_size_(sizes.b),
        slot_size_(round_up(sizes.a + sizes.b + sizes.edge, kLineElements)),  // slots on separate cache lines
        slots_(slots),
        bytes_(static_cast<std::size_t>(slot_size_ * slots + shared_b_size) * sizeof(T)),
        owned_(!external && bytes_),  // most small GEMMs pack nothing
        data_(owned_ ? static_cast<T*>(allocate(bytes_)) : external) {}
  ~Workspace() {
    if (owned_) deallocate(data_, bytes_);
  }
  static int64_t size(PackingSizes sizes) { return round_up(sizes.a + sizes.b + sizes.edge, kLineElements); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  T* packed_a(int slot) const { return data_ + slot * slot_size_; }
  T* packed_b(int slot) const { return packed_a(slot) + a_size_; }
  T* edge_b(int slot) const { return packed_b(slot) + b_size_; }
  T* shared_b() const { return data_ + slots_ * slot_size_; }

 private:
  static constexpr int64_t kLineElements = 64 / sizeof(T);
  static int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }
  int64_t a_size_, b_size_, slot_size_;
  int slots_;
  std::size_t bytes_;
  bool owned_;
  T* data_;
};

// ---------------------------------------------------------------------------------------------------------
// Micro-kernels: C[0:R, 0:cols] (+)= A[0:R, 0:kc] * B[0:kc, 0:cols], cols in ((NV - 1) * L, NV * L].

#if defined(__AVX512F__)
template <class T>
struct Simd;

// fma_broadcast<Embedded>(a, b, c) = c + *a * b in every lane, in one of two forms that give the same bits
// (the same FMA on the same operands) and whose speed depends on the core, so gemm() picks one per process
// (broadcast_form(), at the top of this file):
//   - Embedded: one FMA whose memory operand is broadcast as it is loaded, written in assembly because GCC
//     loads an element that two FMAs use once, with a vbroadcastss into a register. On the Zen 4 VM (bench_gemm,
//     1 thread, interleaved runs, medians of 15-20) it ran the batch-32 weight and input gradients 3-11% faster
//     than the register form (dW 32x64x32 1475 -> 1382 ns, dx 32x128x64 5390 -> 5112 ns) and the training step
//     4-5% (bench_train, batch 32: 489 -> 468 us).
//   - Register: a vbroadcastss into a register that both FMAs of the row read. On the Zen 5 VM (bench_gemm,
//     1 thread, 3 interleaved rounds, medians) it ran every layer shape 15-30% faster than the embedded form
//     (fwd 32x256x784 73.0 -> 62.7 us, dW 256x784x32 92.2 -> 80.8, dx 32x128x64 3.47 -> 2.53, inference
//     10000x256x784 27.7 -> 20.7 ms) and the training step 8% (bench_train batch 32: 313 -> 289 us).
// Intel cores of earlier sessions ran both alike.
template <>
struct Simd<float> {
  using V = __m512;
  using Mask = __mmask16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  template <bool Embedded>
  static V fma_broadcast(const float* a, V b, V c) {
    if constexpr (!Embedded) return _mm512_fmadd_ps(_mm512_set1_ps(*a), b, c);
    asm("vfmadd231ps %1%{1to16%}, %2, %0" : "+v"(c) : "m"(*a), "v"(b));
    return c;
  }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};

template <>
struct Simd<double> {
  using V = __m512d;
  using Mask = __mmask8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V load(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
  template <bool Embedded>
  static V fma_broadcast(const double* a, V b, V c) {
    if constexpr (!Embedded) return _mm512_fmadd_pd(_mm512_set1_pd(*a), b, c);
    asm("vfmadd231pd %1%{1to8%}, %2, %0" : "+v"(c) : "m"(*a), "v"(b));
    return c;
  }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void store(double* p, Mask m, V v) { _mm512_mask_storeu_pd(p, m, v); }
};

// The shuffles, through their masked forms with a full mask: the plain forms pass _mm512_undefined_ps(),
// which GCC 12 reports as maybe-uninitialized.
inline __m512 unpacklo(__m512 a, __m512 b) { return _mm512_mask_unpacklo_ps(a, 0xFFFF, a, b); }
inline __m512 unpackhi(__m512 a, __m512 b) { return _mm512_mask_unpackhi_ps(a, 0xFFFF, a, b); }
inline __m512 unpacklo2(__m512 a, __m512 b) {
  const __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
  return _mm512_castpd_ps(_mm512_mask_unpacklo_pd(x, 0xFF, x, y));
}
inline __m512 unpackhi2(__m512 a, __m512 b) {
  const __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
  return _mm512_castpd_ps(_mm512_mask_unpackhi_pd(x, 0xFF, x, y));
}
template <int Imm>
__m512 shuffle128(__m512 a, __m512 b) { return _mm512_mask_shuffle_f32x4(a, 0xFFFF, a, b, Imm); }

// Transposes the 16 x 16 block held in r (row i in r[i]) in place.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = unpacklo(r[i], r[i + 1]);
    t[i + 1] = unpackhi(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    for (int h = 0; h < 2; ++h) {
      r[i + 2 * h] = unpacklo2(t[i + h], t[i + h + 2]);
      r[i + 2 * h + 1] = unpackhi2(t[i + h], t[i + h + 2]);
    }
  }
  for (int i = 0; i < 16; i += 8) {
    for (int j = 0; j < 4; ++j) {
      t[i + j] = shuffle128<0x88>(r[i + j], r[i + j + 4]);
      t[i + j + 4] = shuffle128<0xdd>(r[i + j], r[i + j + 4]);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = shuffle128<0x88>(t[j], t[j + 8]);
    r[j + 8] = shuffle128<0xdd>(t[j], t[j + 8]);
  }
}

// Transposes the 8 x 8 block of doubles held in r in place.
inline void transpose8(__m512d r[8]) {
  __m512d t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm512_mask_unpacklo_pd(r[i], 0xFF, r[i], r[i + 1]);
    t[i + 1] = _mm512_mask_unpackhi_pd(r[i], 0xFF, r[i], r[i + 1]);
  }
  // t[2q + parity] holds rows 2q, 2q + 1 at columns of that parity; gather 128-bit lanes across q.
  for (int parity = 0; parity < 2; ++parity) {
    const __m512d u0 = _mm512_mask_shuffle_f64x2(t[parity], 0xFF, t[parity], t[parity + 2], 0x88);
    const __m512d u1 = _mm512_mask_shuffle_f64x2(t[parity], 0xFF, t[parity], t[parity + 2], 0xdd);
    const __m512d v0 = _mm512_mask_shuffle_f64x2(t[parity + 4], 0xFF, t[parity + 4], t[parity + 6], 0x88);
    const __m512d v1 = _mm512_mask_shuffle_f64x2(t[parity + 4], 0xFF, t[parity + 4], t[parity + 6], 0xdd);
    u[parity] = _mm512_mask_shuffle_f64x2(u0, 0xFF, u0, v0, 0x88);
    u[parity + 4] = _mm512_mask_shuffle_f64x2(u0, 0xFF, u0, v0, 0xdd);
    u[parity + 2] = _mm512_mask_shuffle_f64x2(u1, 0xFF, u1, v1, 0x88);
    u[parity + 6] = _mm512_mask_shuffle_f64x2(u1, 0xFF, u1, v1, 0xdd);
  }
  for (int i = 0; i < 8; ++i) r[i] = u[i];
}

inline void transpose_block(__m512 r[16]) { transpose16(r); }
inline void transpose_block(__m512d r[8]) { transpose8(r); }

template <class T, int R, int NV, bool TransposedC, bool EmbeddedBroadcast>
void micro_kernel(int64_t kc, const T* a, int64_t ars, int64_t acs, const T* b, int64_t bld, T* c, int64_t ldc,
                  int cols, bool load_c) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int L = Blocking<T>::kLanes;
  const typename S::Mask mask = static_cast<typename S::Mask>((uint32_t{1} << (cols - (NV - 1) * L)) - 1u);
  V acc[R][NV];
  _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i)
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
  for (int64_t p = 0; p < kc; ++p) {
    V bv[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV - 1; ++v) bv[v] = S::load(b + v * L);
    bv[NV - 1] = S::load(b + (NV - 1) * L, mask);
    _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i)
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v)
        acc[i][v] = S::template fma_broadcast<EmbeddedBroadcast>(a + i * ars, bv[v], acc[i][v]);
    a += acs;
    b += bld;
  }
  if constexpr (TransposedC) {
    // Tile row i is column i of C: transpose each vector column of the tile (padded to L x L) so that its
    // element j lands in C's row j, R elements side by side.
    const auto row_mask = static_cast<typename S::Mask>((uint32_t{1} << R) - 1u);
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
      V r[L];
      _Pragma("GCC unroll 16") for (int i = 0; i < L; ++i) r[i] = i < R ? acc[i][v] : S::zero();
      transpose_block(r);
      const int rows = std::min(L, cols - v * L);
      for (int j = 0; j < rows; ++j) {
        T* out = c + (v * L + j) * ldc;
        S::store(out, row_mask, load_c ? S::add(S::load(out, row_mask), r[j]) : r[j]);
      }
    }
    return;
  }
  _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i) {
    T* row = c + i * ldc;
    _Pragma("GCC unroll 16") for (int v = 0; v < NV - 1; ++v) S::store(row + v * L, load_c ? S::add(S::load(row + v * L), acc[i][v]) : acc[i][v]);
    T* last = row + (NV - 1) * L;
    S::store(last, mask, load_c ? S::add(S::load(last, mask), acc[i][NV - 1]) : acc[i][NV - 1]);
  }
}

#else  // portable: GCC vector extensions; B must have NV * L readable columns (packed and padded at edges)

// The broadcast form is the AVX-512 kernel's alone (broadcast_form()); this one has only the register form.
template <class T, int R, int NV, bool TransposedC, bool /*EmbeddedBroadcast*/>
void micro_kernel(int64_t kc, const T* a, int64_t ars, int64_t acs, const T* b, int64_t bld, T* c, int64_t ldc,
                  int cols, bool load_c) {
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  constexpr int L = Blocking<T>::kLanes;
  // Every index into acc is a constant once the loops are unrolled, so it lives in registers. An element
  // read acc[i][j / L][j % L] at the edge made GCC keep it in memory instead: a memset of the whole tile
  // on every call, 4.5% of the inference GEMM on the Zen 3 VM (perf record).
  Vec acc[R][NV];
  _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i)
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[i][v] = Vec{};
  for (int64_t p = 0; p < kc; ++p) {
    Vec bv[NV];
    _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + v * L, sizeof(Vec));
    _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i) {
      const T ai = a[i * ars];
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) acc[i][v] += ai * bv[v];
    }
    a += acs;
    b += bld;
  }
  if (cols == NV * L && !TransposedC) {
    _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i)
      _Pragma("GCC unroll 16") for (int v = 0; v < NV; ++v) {
        Vec old = {};
        if (load_c) std::memcpy(&old, c + i * ldc + v * L, sizeof(Vec));
        const Vec sum = old + acc[i][v];
        std::memcpy(c + i * ldc + v * L, &sum, sizeof(Vec));
      }
    return;
  }
  _Pragma("GCC unroll 16") for (int i = 0; i < R; ++i) {
    T row[NV * L];
    std::memcpy(row, acc[i], sizeof(row));
    for (int j = 0; j < cols; ++j) {
      T& out = TransposedC ? c[j * ldc + i] : c[i * ldc + j];
      out = load_c ? out + row[j] : row[j];
    }
  }
}
#endif



template <class T>
using KernelFn = void (*)(int64_t, const T*, int64_t, int64_t, const T*, int64_t, T*, int64_t, int, bool);

// table[R - 1][NV - 1].
template <class T>
using KernelTable = std::array<std::array<KernelFn<T>, 2>, Blocking<T>::MR>;

template <class T, bool TransposedC, bool Embedded, int... I>
constexpr KernelTable<T> make_table(std::integer_sequence<int, I...>) {
  return {{{&micro_kernel<T, I + 1, 1, TransposedC, Embedded>,
            &micro_kernel<T, I + 1, 2, TransposedC, Embedded>}...}};
}

template <class T, bool TransposedC, bool Embedded>
constexpr KernelTable<T> kKernels =
    make_table<T, TransposedC, Embedded>(std::make_integer_sequence<int, Blocking<T>::MR>{});

template <class T, bool TransposedC>
const KernelTable<T>& kernel_table() {
#if defined(__AVX512F__)
  static const bool embedded = broadcast_form() == BroadcastForm::Embedded;
  return embedded ? kKernels<T, TransposedC, true> : kKernels<T, TransposedC, false>;
#else
  return kKernels<T, TransposedC, false>;
#endif
}

// ---------------------------------------------------------------------------------------------------------
// Packing.

#if defined(__AVX512F__)
// pack_b for a B whose columns are contiguous (a transposed view such as W^T), by L x L block transposes.
template <class T>
void pack_b_transposed(const T* b, int64_t col_stride, int64_t kc, int64_t nc, T* out) {
  using S = Simd<T>;
  constexpr int NR = Blocking<T>::NR, L = Blocking<T>::kLanes;
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    for (int64_t p0 = 0; p0 < kc; p0 += L) {
      const int depth = static_cast<int>(std::min<int64_t>(L, kc - p0));
      const auto mask = static_cast<typename S::Mask>((1u << depth) - 1u);
      // The masked kernel reads no vector of a panel past its last column, so those are left unwritten.
      for (int h = 0; h * L < cols; ++h) {
        typename S::V r[L];
        for (int j = 0; j < L; ++j) {
          const int64_t col = jp + h * L + j;
          r[j] = col < jp + cols ? S::load(b + col * col_stride + p0, mask) : S::zero();
        }
        transpose_block(r);
        for (int q = 0; q < depth; ++q) S::store(out + (p0 + q) * NR + h * L, r[q]);
      }
    }
    out += kc * NR;
  }
}
#elif defined(__AVX2__)
// Transposes the 8 x 8 block of floats held in r in place.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
  }
}

// pack_b for a float B whose columns are contiguous (a transposed view such as W^T), by 8 x 8 transposes.
inline void pack_b_transposed(const float* b, int64_t col_stride, int64_t kc, int64_t nc, float* out) {
  constexpr int NR = Blocking<float>::NR;
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    for (int64_t p0 = 0; p0 < kc; p0 += 8) {
      const int depth = static_cast<int>(std::min<int64_t>(8, kc - p0));
      const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(depth), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      for (int h = 0; h < NR / 8; ++h) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) {
          const int64_t col = jp + h * 8 + j;
          r[j] = col < jp + cols ? _mm256_maskload_ps(b + col * col_stride + p0, mask) : _mm256_setzero_ps();
        }
        transpose8(r);
        for (int q = 0; q < depth; ++q) _mm256_storeu_ps(out + (p0 + q) * NR + h * 8, r[q]);
      }
    }
    out += kc * NR;
  }
}
#endif

// Packs B[k0:k0+kc, j0:j0+nc] into panels of NR columns, k-major inside a panel; a partial last panel is
// zero-padded to NR columns.
template <class T>
void pack_b(MatrixRef<T> b, int64_t k0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = Blocking<T>::NR;
#if defined(__AVX512F__)
  if (b.row_stride == 1) return pack_b_transposed(b.data + k0 + j0 * b.col_stride, b.col_stride, kc, nc, out);
#elif defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    if (b.row_stride == 1 && NR == 16)
      return pack_b_transposed(b.data + k0 + j0 * b.col_stride, b.col_stride, kc, nc, out);
  }
#endif
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - jp);
    const T* src = b.data + k0 * b.row_stride + (j0 + jp) * b.col_stride;
    if (b.row_stride == 1) {
      // A transposed view (W^T): column j is contiguous, so read along k and write with stride NR.
      for (int64_t j = 0; j < cols; ++j) {
        const T* col = src + j * b.col_stride;
        for (int64_t p = 0; p < kc; ++p) out[p * NR + j] = col[p];
      }
      for (int64_t j = cols; j < NR; ++j)
        for (int64_t p = 0; p < kc; ++p) out[p * NR + j] = T(0);
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const T* row = src + p * b.row_stride;
        int64_t j = 0;
        for (; j < cols; ++j) out[p * NR + j] = row[j * b.col_stride];
        for (; j < NR; ++j) out[p * NR + j] = T(0);
      }
    }
    out += kc * NR;
  }
}

// Packs A[i0:i0+mc, k0:k0+kc] into strips of MR rows, k-major inside a strip (ars = 1, acs = MR).
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

// ---------------------------------------------------------------------------------------------------------
// The sequential GEMM for a block of C.

// C = A B (+ C when accumulate), C element (i, j) at c[i * ldc + j], or at c[j * ldc + i] when transposed_c
// (gemm() swapped the operands to compute C^T = B^T A^T). B with unit column stride is read in place; any
// other B is read from packed_b when gemm() packed all of it (panel q at packed_b + q * NR * k), else packed
// here block by block.
template <class T>
struct Problem {
  int64_t k;
  MatrixRef<T> a, b;
  const T* packed_b;
  T* c;
  int64_t ldc;
  bool accumulate, transposed_c;
  const Workspace<T>* workspace;
};

// The packing buffers gemm_block needs for p, in elements, zero where it reads in place or gemm() packed B.
template <class T>
PackingSizes packing_sizes(const Problem<T>& p, int64_t m, int64_t n, bool b_packed_by_gemm) {
  using B = Blocking<T>;
  const int64_t kc = std::min(B::KC, p.k);
  const bool direct_a = p.a.col_stride == 1 || p.a.row_stride == 1, direct_b = p.b.col_stride == 1;
  const int64_t rows = std::min(B::MC, (m + B::MR - 1) / B::MR * B::MR);
  const int64_t cols = std::min(B::NC, (n + B::NR - 1) / B::NR * B::NR);
  return {direct_a ? 0 : rows * kc, direct_b || b_packed_by_gemm ? 0 : cols * kc, !kMasked && direct_b ? B::NR * kc : 0};
}

// `slot`: which of the workspace's slots this thread packs into.
template <class T>
void gemm_block(const Problem<T>& p, int slot, int64_t i_begin, int64_t i_end, int64_t j_begin, int64_t j_end) {
  using B = Blocking<T>;
  constexpr int MR = B::MR, NR = B::NR, L = B::kLanes;
  const MatrixRef<T> a = p.a, b = p.b;
  const int64_t k = p.k;
  const bool direct_a = a.col_stride == 1 || a.row_stride == 1;
  const bool direct_b = b.col_stride == 1;
  const bool pack_here = !direct_b && !p.packed_b;
  T* packed_a = p.workspace->packed_a(slot);
  T* packed_b = p.workspace->packed_b(slot);
  T* edge_b = p.workspace->edge_b(slot);  // the portable path pads a partial panel of an in-place B
  const KernelTable<T>& kernels = p.transposed_c ? kernel_table<T, true>() : kernel_table<T, false>();
  // K in equal blocks of at most KC (2000 = 2 x 1000, not 1024 + 976); it depends on k alone, so every C
  // element sees the same blocks whatever the thread split.
  const int64_t k_blocks = (k + B::KC - 1) / B::KC, kc_step = (k + k_blocks - 1) / k_blocks;
  const int64_t nc_max = pack_here ? B::NC : j_end - j_begin;
  for (int64_t jc = j_begin; jc < j_end; jc += nc_max) {
    const int64_t nc = std::min(nc_max, j_end - jc);
    for (int64_t pc = 0; pc < k; pc += kc_step) {
      const int64_t kc = std::min(kc_step, k - pc);
      const bool load_c = p.accumulate || pc > 0;
      if (pack_here) pack_b(b, pc, kc, jc, nc, packed_b);
      for (int64_t ic = i_begin; ic < i_end; ic += B::MC) {
        const int64_t mc = std::min(B::MC, i_end - ic);
        if (!direct_a) pack_a(a, ic, mc, pc, kc, packed_a);
        // Strips of MR rows; an A read in place splits a ragged block evenly instead (10 rows as 5 + 5, not
        // 8 + 2): a 2-row tile is bound by FMA latency, not throughput, and took as long as an 8-row one.
        // Worked out once per block: two divisions per strip took a tenth of a 32x10x32 GEMM.
        const int64_t strips = (mc + MR - 1) / MR, even_rows = mc / strips, longer_strips = mc % strips;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const int nv = (cols + L - 1) / L;
          const T* bp;
          int64_t bld;
          if (p.packed_b) {
            bp = p.packed_b + (jc + jr) * k + pc * NR, bld = NR;
          } else if (pack_here) {
            bp = packed_b + jr * kc, bld = NR;
          } else if (kMasked || cols == NR) {
            bp = b.data + pc * b.row_stride + jc + jr, bld = b.row_stride;
          } else {
            pack_b(b, pc, kc, jc + jr, cols, edge_b);
            bp = edge_b, bld = NR;
          }
          const int kernel_nv = kMasked ? nv : B::NV;  // the portable kernel always spans the padded panel
          int64_t ir = 0;
          for (int64_t s = 0; s < strips; ++s) {
            const int rows = static_cast<int>(direct_a ? even_rows + (s < longer_strips)
                                                       : std::min<int64_t>(MR, mc - ir));
            const T* ap;
            int64_t ars, acs;
            if (direct_a) {
              ap = a.data + (ic + ir) * a.row_stride + pc * a.col_stride, ars = a.row_stride, acs = a.col_stride;
            } else {
              ap = packed_a + ir * kc, ars = 1, acs = MR;
            }
            const int64_t i = ic + ir, j = jc + jr;
            kernels[rows - 1][kernel_nv - 1](kc, ap, ars, acs, bp, bld,
                                             p.c + (p.transposed_c ? j * p.ldc + i : i * p.ldc + j), p.ldc, cols,
                                             load_c);
            ir += rows;
          }
        }
      }
    }
  }
}

// The problem gemm() runs on one thread, and its m and n.
// A transposed view B (the forward pass's W^T) has to be packed, all k x n of it, on every call. When A is the
// smaller operand (a batch of 32 against a weight matrix), C^T = B^T A^T packs only A^T instead and reads B^T
// (W) in place, with the same multiply-adds in the same order (gemm() does the same on several threads for at
// most NR rows of C). Also when C is at most one vector wide and one panel high (the last layer's 32x10x32):
// C^T takes 2 tiles of 5 x 32 where C takes 4 of 8 x 16 with 10 lanes of 16 used (though it packs 32 x 32
// elements of x instead of 32 x 16 of W).
template <class T>
Problem<T> one_thread_problem(int64_t& m, int64_t& n, int64_t k, MatrixRef<T> a, MatrixRef<T> b, T* c, int64_t ldc,
                              bool accumulate) {
  constexpr int64_t L = Blocking<T>::kLanes, NR = Blocking<T>::NR;
  if (b.row_stride == 1 && b.col_stride != 1 && (m < n || (n <= L && m <= NR))) {
    std::swap(m, n);
    return {k, {b.data, b.col_stride, b.row_stride}, {a.data, a.col_stride, a.row_stride}, nullptr, c, ldc, accumulate,
            true, nullptr};
  }
  return {k, a, b, nullptr, c, ldc, accumulate, false, nullptr};
}

}  // namespace

template <class T>
int64_t gemm_scratch_size(int64_t m, int64_t n, int64_t k, MatrixRef<T> a, MatrixRef<T> b) {
  if (m == 0 || n == 0 || k == 0) return 0;
  const Problem<T> p = one_thread_problem<T>(m, n, k, a, b, nullptr, 0, false);
  return Workspace<T>::size(packing_sizes(p, m, n, false));
}

template <class T>
void gemm(int64_t m, int64_t n, int64_t k, MatrixRef<T> a, MatrixRef<T> b, T* c, int64_t ldc, bool accumulate,
          T* scratch) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    return;
  }
  constexpr int NR = Blocking<T>::NR, MR = Blocking<T>::MR;
  const int64_t work = m * n * k;
  // Inside a caller's own parallel region: run here. Only this function's own region hands out the
  // workspace's slots by thread number, one slot per thread of num_threads().
  if (work < kGemmParallelWork || num_threads() == 1 || in_parallel_region()) {
    // Built in place, not copied: a copy of the problem through vector registers made gemm_block's first
    // reads of it wait for store forwarding, a tenth of a 10x32x32 GEMM (perf annotate).
    Problem<T> p = one_thread_problem<T>(m, n, k, a, b, c, ldc, accumulate);
    const Workspace<T> workspace(packing_sizes(p, m, n, false), 1, 0, scratch);
    p.workspace = &workspace;
    gemm_block(p, 0, 0, m, 0, n);
    return;
  }
  Problem<T> p{k, a, b, nullptr, c, ldc, accumulate, false, nullptr};
  const int threads = num_threads();
  // The forward pass at batch 32: C = x W^T with at most one panel of rows. As on one thread it is computed as
  // C^T = W x^T, W read in place, by chunks of W's rows; each thread packs all of x^T (k x NR) once into its
  // own slot for the chunks it takes. At 2 threads (Zen 5 VM) 32x256x784 took 27.4 us that way against 32.5
  // by columns of C, where each thread packs its part of W^T; at 64 rows the two were even, at 128 columns won.
  if (m <= NR && m < n) {
    int64_t rows = m, cols = n;  // of C^T, where one_thread_problem transposes the problem
    Problem<T> t = one_thread_problem<T>(rows, cols, k, a, b, c, ldc, accumulate);
    if (t.transposed_c) {
      const Workspace<T> workspace({0, NR * k, 0}, threads, 0);
      t.workspace = &workspace;
      parallel_for(
          (rows + MR - 1) / MR, work, [&] { pack_b(t.b, 0, k, 0, cols, workspace.packed_b(thread_index())); },
          [&](int64_t begin, int64_t end) {
            Problem<T> mine = t;
            mine.packed_b = workspace.packed_b(thread_index());
            gemm_block(mine, thread_index(), begin * MR, std::min(end * MR, rows), 0, cols);
          });
      return;
    }
  }
  // Chunks of whole strips of rows, or of whole panels of columns when C has too few rows to give every
  // thread its share of chunks (the forward pass's 32-row batch). Rows by preference, for two reasons:
  //  - a chunk of columns reads all of A: at 2 threads inference on 10000 images ran at 230 GFLOP/s split by
  //    columns, which streams the images once per chunk, and at 300+ split by rows;
  //  - the training step's big GEMMs then divide the first layer's weight by its rows in both passes: y = x W^T
  //    by the columns of y and dW = g^T x by the rows of dW. With Adam splitting W the same way (optim.cpp),
  //    each core touches only its own rows of W, dW and the moments. Moving a cache line between the two
  //    cores of the development VM takes about 250 ns; Adam alone ran 2.3x slower on data the other core
  //    had written.
  // One exception: a B that has to be packed (the forward pass's W^T) and is at least as large as A. Packed
  // once for all chunks of rows, each core reads the half the other one packed; by columns, each core packs
  // and reads only its own rows of W. At batch 128 on 2 threads (Zen 5 VM, SCHED_FIFO, interleaved runs),
  // 128x256x784 took 117 us by columns against 129 by rows, and 128x128x256 19.5 against 21.7.
  const int64_t panels = (n + NR - 1) / NR, strips = (m + MR - 1) / MR;
  const bool b_larger_and_packed = p.b.col_stride != 1 && m <= n;
  if ((strips < threads * kChunksPerThread || b_larger_and_packed) && panels >= threads) {
    const Workspace<T> workspace(packing_sizes(p, m, n, false), threads, 0);
    p.workspace = &workspace;
    parallel_for(panels, work, [&](int64_t begin, int64_t end) {
      gemm_block(p, thread_index(), 0, m, begin * NR, std::min(end * NR, n));
    });
    return;
  }
  // Every chunk of rows reads all of B: a B that needs packing is packed once for all of them.
  const bool pack_all_b = p.b.col_stride != 1;
  const Workspace<T> workspace(packing_sizes(p, m, n, pack_all_b), threads, pack_all_b ? panels * NR * k : 0);
  p.workspace = &workspace;
  if (pack_all_b) {
    T* packed = workspace.shared_b();
    parallel_for(panels, n * k, [&](int64_t begin, int64_t end) {
      pack_b(p.b, 0, k, begin * NR, std::min(end * NR, n) - begin * NR, packed + begin * NR * k);
    });
    p.packed_b = packed;
  }
  parallel_for(strips, work, [&](int64_t begin, int64_t end) {
    gemm_block(p, thread_index(), begin * MR, std::min(end * MR, m), 0, n);
  });
}

template void gemm<float>(int64_t, int64_t, int64_t, MatrixRef<float>, MatrixRef<float>, float*, int64_t, bool,
                          float*);
template void gemm<double>(int64_t, int64_t, int64_t, MatrixRef<double>, MatrixRef<double>, double*, int64_t, bool,
                           double*);
template int64_t gemm_scratch_size<float>(int64_t, int64_t, int64_t, MatrixRef<float>, MatrixRef<float>);
template int64_t gemm_scratch_size<double>(int64_t, int64_t, int64_t, MatrixRef<double>, MatrixRef<double>);

}  // namespace mt::detail
