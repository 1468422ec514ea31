// Convolution on the packed GEMM, and pooling.
//
// conv2d unfolds one image at a time (im2col: row (c, u, v) of the unfolded matrix holds the input pixels that
// kernel tap (u, v) of channel c meets at every output position) into a buffer of the calling thread and
// multiplies the weight [O/G, C/G kh kw] by it, straight into the image's output rows. Threads take whole
// images, so an unfolded image (C/G kh kw x OH OW, 225 KB for a 32-channel 3x3 layer on 14x14 maps) stays in
// the thread's L2 cache between im2col and the GEMM, and the GEMMs inside run on that thread. A batch of one
// image leaves the threads to the GEMM instead. 1x1 convolutions with stride 1 and no padding read the input
// in place.
//
// Determinism: each output element of the forward pass and of the input gradient belongs to one image, which
// one thread computes in a fixed order. The weight gradient sums over images: images are grouped into blocks
// whose size depends on N alone, each block summed in image order by one thread, and the blocks added in
// order at the end.
#include "tensor/conv.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "tensor/channels.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace mt {
namespace {

std::string pair_str(std::array<int64_t, 2> v) { return "(" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + ")"; }

struct ConvGeometry {
  int64_t n, c, h, w;   // input
  int64_t o, kh, kw;    // weight
  int64_t oh, ow;       // output
  int64_t groups, cg, og;
  int64_t taps;         // cg kh kw: the GEMM depth, rows of an unfolded image
  int64_t pixels;       // oh ow
  Conv2dOptions opt;

  // A 1x1 kernel with stride 1 and no padding: the input is its own unfolded matrix.
  bool in_place() const {
    return kh == 1 && kw == 1 && opt.stride[0] == 1 && opt.stride[1] == 1 && opt.padding[0] == 0 &&
           opt.padding[1] == 0;
  }
};

ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Conv2dOptions& opt, const char* op) {
  // Built only for a message: a training step calls this five times and must not allocate.
  auto shapes = [&] { return std::string(op) + ": input " + x.str() + ", weight " + w.str(); };
  if (x.size() != 4 || w.size() != 4)
    throw Error(shapes() + ": expected input [N, C, H, W] and weight [O, C/groups, kh, kw]");
  for (int d = 0; d < 2; ++d) {
    if (opt.stride[d] < 1 || opt.dilation[d] < 1 || opt.padding[d] < 0)
      throw Error(std::string(op) + ": stride " + pair_str(opt.stride) + " and dilation " + pair_str(opt.dilation) +
                  " must be positive and padding " + pair_str(opt.padding) + " not negative");
  }
  ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, opt.groups, 0, 0, 0, 0, opt};
  if (g.groups < 1 || g.c % g.groups != 0 || g.o % g.groups != 0)
    throw Error(shapes() + ": groups = " + std::to_string(g.groups) + " must divide both channel counts");
  g.cg = g.c / g.groups;
  g.og = g.o / g.groups;
  if (w[1] != g.cg)
    throw Error(shapes() + ": the weight's dim 1 must be C/groups = " + std::to_string(g.cg));
  g.oh = conv_output_size(g.h, g.kh, opt.stride[0], opt.padding[0], opt.dilation[0]);
  g.ow = conv_output_size(g.w, g.kw, opt.stride[1], opt.padding[1], opt.dilation[1]);
  if (g.oh < 1 || g.ow < 1 || g.kh < 1 || g.kw < 1)
    throw Error(shapes() + ", padding " + pair_str(opt.padding) + ", dilation " + pair_str(opt.dilation) +
                ": the kernel does not fit the padded input");
  g.taps = g.cg * g.kh * g.kw;
  g.pixels = g.oh * g.ow;
  return g;
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw Error(std::string(op) + ": an operand is undefined");
  if (a.dtype() != b.dtype()) throw Error(std::string(op) + ": dtypes differ: " + a.str() + " and " + b.str());
}

// Columns j of an output row whose input column j s + offset lies in [0, size): [first, last).
struct Span {
  int64_t first, last;
};
Span valid_columns(int64_t offset, int64_t stride, int64_t size, int64_t outputs) {
  const int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;
  const int64_t a = std::min(first, outputs), b = std::clamp(last, a, outputs);
  return {a, b};
}

// Visits every (row of the unfolded matrix, output row i) pair of one group of one image: fn(tap_row, i,
// input row or nullptr when it lies in the padding, input column offset, valid columns).
template <class T, class Fn>
void for_each_unfolded_row(const ConvGeometry& g, T* image, Fn fn) {
  const auto [sh, sw] = g.opt.stride;
  const auto [ph, pw] = g.opt.padding;
  const auto [dh, dw] = g.opt.dilation;
  for (int64_t c = 0; c < g.cg; ++c)
    for (int64_t u = 0; u < g.kh; ++u)
      for (int64_t v = 0; v < g.kw; ++v) {
        const int64_t row = (c * g.kh + u) * g.kw + v, offset = v * dw - pw;
        const Span cols = valid_columns(offset, sw, g.w, g.ow);
        for (int64_t i = 0; i < g.oh; ++i) {
          const int64_t ih = i * sh - ph + u * dh;
          T* in = ih >= 0 && ih < g.h ? image + (c * g.h + ih) * g.w : nullptr;
          fn(row, i, in, offset, cols);
        }
      }
}

// With stride 1 and output rows as wide as the input's ("same" padding), consecutive output rows of an unfolded
// row read consecutive input rows: the row is the input plane shifted by (du, dv), copied in one piece; the
// |dv| elements per row that wrapped around from the neighbouring input row are then set to 0 (the padding).
// Copying row by row, with a call per 14 or 28 floats, took most of im2col's time.

// One unfolded row of a same-width convolution: its output rows [i0, i1) read the input plane at +shift, in
// its columns [cols.first, cols.last); the rest of it lies in the padding.
struct ShiftedPlane {
  int64_t row, channel, shift, i0, i1;
  Span cols;
};

// Visits every unfolded row of one group of one image of a same-width convolution.
template <class Fn>
void for_each_shifted_plane(const ConvGeometry& g, Fn fn) {
  const auto [ph, pw] = g.opt.padding;
  const auto [dh, dw] = g.opt.dilation;
  for (int64_t c = 0; c < g.cg; ++c)
    for (int64_t u = 0; u < g.kh; ++u)
      for (int64_t v = 0; v < g.kw; ++v) {
        const int64_t du = u * dh - ph, dv = v * dw - pw;
        const int64_t i0 = std::clamp<int64_t>(-du, 0, g.oh), i1 = std::clamp<int64_t>(g.h - du, i0, g.oh);
        fn(ShiftedPlane{(c * g.kh + u) * g.kw + v, c, du * g.w + dv, i0, i1, valid_columns(dv, 1, g.w, g.ow)});
      }
}

// Sets the columns outside p.cols of output rows [p.i0, p.i1) of an unfolded row to 0. Column by column: there
// are as many as the padding, a few elements a row, which a fill per row sent through a call to memset each.
template <class T>
void zero_wrapped_columns(const ConvGeometry& g, const ShiftedPlane& p, T* out) {
  auto zero_column = [&](int64_t j) {
    for (int64_t i = p.i0; i < p.i1; ++i) out[i * g.w + j] = T(0);
  };
  for (int64_t j = 0; j < p.cols.first; ++j) zero_column(j);
  for (int64_t j = p.cols.last; j < g.w; ++j) zero_column(j);
}

template <class T>
void im2col_same_width(const ConvGeometry& g, const T* image, T* cols) {
  for_each_shifted_plane(g, [&](const ShiftedPlane& p) {
    T* out = cols + p.row * g.pixels;
    if (p.cols.first == p.cols.last) {
      std::fill(out, out + g.pixels, T(0));
      return;
    }
    std::fill(out, out + p.i0 * g.w, T(0));
    std::fill(out + p.i1 * g.w, out + g.pixels, T(0));
    if (p.i0 == p.i1) return;
    const T* plane = image + p.channel * g.h * g.w;
    const int64_t first = p.i0 * g.w + p.cols.first, last = (p.i1 - 1) * g.w + p.cols.last;
    std::copy(plane + (first + p.shift), plane + (last + p.shift), out + first);
    zero_wrapped_columns(g, p, out);
  });
}

// cols[row, i OW + j] = image[c, i s - p + u d, j s - p + v d], 0 in the padding.
template <class T>
void im2col(const ConvGeometry& g, const T* image, T* cols) {
  const int64_t sw = g.opt.stride[1];
  if (g.opt.stride == std::array<int64_t, 2>{1, 1} && g.ow == g.w) return im2col_same_width(g, image, cols);
  for_each_unfolded_row(g, image, [&](int64_t row, int64_t i, const T* in, int64_t offset, Span span) {
    T* out = cols + row * g.pixels + i * g.ow;
    if (!in) {
      std::fill(out, out + g.ow, T(0));
      return;
    }
    std::fill(out, out + span.first, T(0));
    if (sw == 1) {
      std::copy(in + span.first + offset, in + span.last + offset, out + span.first);
    } else {
      for (int64_t j = span.first; j < span.last; ++j) out[j] = in[j * sw + offset];
    }
    std::fill(out + span.last, out + g.ow, T(0));
  });
}

// The adjoint of im2col_same_width: each unfolded row is added to the image shifted back, in one piece, after
// its wrapped elements (the padding) are set to 0 so that they add nothing. Clobbers cols.
template <class T>
void col2im_same_width(const ConvGeometry& g, T* cols, T* image) {
  for_each_shifted_plane(g, [&](const ShiftedPlane& p) {
    if (p.cols.first == p.cols.last || p.i0 == p.i1) return;
    T* src = cols + p.row * g.pixels;
    zero_wrapped_columns(g, p, src);
    T* plane = image + p.channel * g.h * g.w;
    for (int64_t k = p.i0 * g.w + p.cols.first; k < (p.i1 - 1) * g.w + p.cols.last; ++k) plane[k + p.shift] += src[k];
  });
}

// The adjoint of im2col: image[c, ...] += cols[row, ...], in the same order every time. Clobbers cols.
template <class T>
void col2im(const ConvGeometry& g, T* cols, T* image) {
  const int64_t sw = g.opt.stride[1];
  if (g.opt.stride == std::array<int64_t, 2>{1, 1} && g.ow == g.w) return col2im_same_width(g, cols, image);
  for_each_unfolded_row(g, image, [&](int64_t row, int64_t i, T* in, int64_t offset, Span span) {
    if (!in) return;
    const T* src = cols + row * g.pixels + i * g.ow;
    for (int64_t j = span.first; j < span.last; ++j) in[j * sw + offset] += src[j];
  });
}

// Per thread, an unfolded-image buffer and the packing memory of its GEMMs, from the tensor cache, taken
// before the threads start: a GEMM that took its own inside the region would allocate whenever more threads
// than ever before happened to run at once (a worker descheduled for whole steps on a busy machine).
template <class T>
class ThreadBuffers {
 public:
  ThreadBuffers(int64_t cols_elements, int64_t gemm_elements)
      : nested_(in_parallel_region()),
        cols_elements_(round_up(cols_elements)),
        slot_elements_(cols_elements_ + round_up(gemm_elements)),
        storage_(Tensor::empty({nested_ ? 1 : num_threads(), slot_elements_}, dtype_of<T>())) {}
  T* cols() const { return mine(); }
  T* gemm_scratch() const { return mine() + cols_elements_; }

 private:
  static int64_t round_up(int64_t n) { return (n + 15) / 16 * 16; }  // slots on separate cache lines
  T* mine() const { return storage_.mutable_data<T>() + (nested_ ? 0 : thread_index()) * slot_elements_; }
  bool nested_;
  int64_t cols_elements_, slot_elements_;
  Tensor storage_;
};

template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* w, const T* b, T* y) {
  const bool in_place = g.in_place();
  const detail::MatrixRef<T> weight{w, g.taps, 1}, unfolded{x, g.pixels, 1};
  const ThreadBuffers<T> buffers(in_place ? 0 : g.taps * g.pixels,
                                 detail::gemm_scratch_size(g.og, g.pixels, g.taps, weight, unfolded));
  parallel_for(g.n, g.n * g.o * g.pixels * g.taps, [&](int64_t begin, int64_t end) {
    T* cols = buffers.cols();
    for (int64_t n = begin; n < end; ++n) {
      T* out = y + n * g.o * g.pixels;
      if (b)
        for (int64_t o = 0; o < g.o; ++o) std::fill(out + o * g.pixels, out + (o + 1) * g.pixels, b[o]);
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        const T* image = x + (n * g.c + grp * g.cg) * g.h * g.w;
        if (!in_place) im2col(g, image, cols);
        detail::gemm<T>(g.og, g.pixels, g.taps, {w + grp * g.og * g.taps, g.taps, 1},
                        {in_place ? image : cols, g.pixels, 1}, out + grp * g.og * g.pixels, g.pixels, b != nullptr,
                        buffers.gemm_scratch());
      }
    }
  });
}

// The input gradient in its transposed form (see input_grad_is_a_convolution): strides above 1, few channels.
template <class T>
void conv2d_input_grad_transposed(const ConvGeometry& g, const T* grad, const T* w, T* dx) {
  const detail::MatrixRef<T> weight_t{w, 1, g.taps}, grad_n{grad, g.pixels, 1};
  const ThreadBuffers<T> buffers(g.taps * g.pixels, detail::gemm_scratch_size(g.taps, g.pixels, g.og, weight_t, grad_n));
  parallel_for(g.n, g.n * g.o * g.pixels * g.taps, [&](int64_t begin, int64_t end) {
    T* cols = buffers.cols();
    for (int64_t n = begin; n < end; ++n) {
      T* image = dx + n * g.c * g.h * g.w;
      std::fill(image, image + g.c * g.h * g.w, T(0));
      for (int64_t grp = 0; grp < g.groups; ++grp) {
        // d(unfolded) = W_g^T g_n: the transposed weight is read in place.
        detail::gemm<T>(g.taps, g.pixels, g.og, {w + grp * g.og * g.taps, 1, g.taps},
                        {grad + (n * g.o + grp * g.og) * g.pixels, g.pixels, 1}, cols, g.pixels, false,
                        buffers.gemm_scratch());
        col2im(g, cols, image + grp * g.cg * g.h * g.w);
      }
    }
  });
}

// With stride 1 the input gradient is itself a convolution: of g with the weight flipped in both spatial dims
// and its two channel dims swapped, padded by d (k - 1) - p, which leaves the input's size. Computed so, through
// the forward's im2col and a GEMM as deep as the forward's (O/G kh kw), it writes dx once. The transposed
// form instead multiplies at depth O/G into a whole unfolded image (C/G kh kw x OH OW, larger than L2 on a
// 32-channel 28x28 layer), then zeroes dx and adds that image into it (col2im). But the convolution's GEMM has
// C/G rows, and below a micro-tile's height (8) its kernel wastes most of each broadcast: on the cnn's layers at
// batch 32 (bench_conv, one thread, Zen 4), the convolution form took 5.5-5.9 ms where the transposed form took
// 6.5-6.7 ms (C = 32 and 64), but 950 us against 190-230 us for C = 1.
bool input_grad_is_a_convolution(const ConvGeometry& g) {
  constexpr int64_t kMinChannels = 8;
  return g.opt.stride == std::array<int64_t, 2>{1, 1} && g.opt.padding[0] <= g.opt.dilation[0] * (g.kh - 1) &&
         g.opt.padding[1] <= g.opt.dilation[1] * (g.kw - 1) && g.cg >= kMinChannels;
}

// The options of that convolution of g.
Conv2dOptions input_grad_options(const ConvGeometry& g) {
  const auto [ph, pw] = g.opt.padding;
  const auto [dh, dw] = g.opt.dilation;
  return {{1, 1}, {dh * (g.kh - 1) - ph, dw * (g.kw - 1) - pw}, g.opt.dilation, g.groups};
}

// flipped[grp C/G + c, o, u, v] = w[grp O/G + o, c, kh - 1 - u, kw - 1 - v]: its weight [C, O/G, kh, kw].
template <class T>
void flip_weight(const ConvGeometry& g, const T* w, T* flipped) {
  const int64_t area = g.kh * g.kw;
  for (int64_t grp = 0; grp < g.groups; ++grp)
    for (int64_t o = 0; o < g.og; ++o)
      for (int64_t c = 0; c < g.cg; ++c) {
        const T* src = w + ((grp * g.og + o) * g.cg + c) * area;
        T* dst = flipped + ((grp * g.cg + c) * g.og + o) * area;
        for (int64_t t = 0; t < area; ++t) dst[area - 1 - t] = src[t];
      }
}

// Images per block of the weight gradient: at least 4, at most 16 blocks.
int64_t weight_grad_block(int64_t n) { return std::max<int64_t>(4, (n + 15) / 16); }

template <class T>
void conv2d_weight_grad(const ConvGeometry& g, const T* grad, const T* x, T* dw) {
  const bool in_place = g.in_place();
  const int64_t block = weight_grad_block(g.n), blocks = (g.n + block - 1) / block;
  const int64_t weight_size = g.o * g.taps;
  const Tensor partials = blocks > 1 ? Tensor::empty({blocks, weight_size}, dtype_of<T>()) : Tensor();
  const detail::MatrixRef<T> grad_n{grad, g.pixels, 1}, unfolded_t{x, 1, g.pixels};
  const ThreadBuffers<T> buffers(in_place ? 0 : g.taps * g.pixels,
                                 detail::gemm_scratch_size(g.og, g.taps, g.pixels, grad_n, unfolded_t));
  parallel_for(blocks, g.n * g.o * g.pixels * g.taps, [&](int64_t begin, int64_t end) {
    T* cols = buffers.cols();
    for (int64_t blk = begin; blk < end; ++blk) {
      T* sum = blocks > 1 ? partials.mutable_data<T>() + blk * weight_size : dw;
      for (int64_t n = blk * block; n < std::min(g.n, (blk + 1) * block); ++n)
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          const T* image = x + (n * g.c + grp * g.cg) * g.h * g.w;
          if (!in_place) im2col(g, image, cols);
          // dW_g += g_n unfolded^T: the unfolded image is read transposed (the GEMM packs it).
          detail::gemm<T>(g.og, g.taps, g.pixels, {grad + (n * g.o + grp * g.og) * g.pixels, g.pixels, 1},
                          {in_place ? image : cols, 1, g.pixels}, sum + grp * g.og * g.taps, g.taps,
                          n > blk * block, buffers.gemm_scratch());
        }
    }
  });
  if (blocks == 1) return;
  const T* p = partials.data<T>();
  parallel_for(weight_size, weight_size * blocks, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T total = p[i];
      for (int64_t blk = 1; blk < blocks; ++blk) total += p[blk * weight_size + i];
      dw[i] = total;
    }
  });
}

// --- pooling ----------------------------------------------------------------------------------------------

struct PoolGeometry {
  int64_t planes, h, w, oh, ow;
  std::array<int64_t, 2> kernel, stride, padding;
  bool count_include_pad;
};

PoolGeometry pool_geometry(const Shape& x, const Pool2dOptions& opt, const char* op) {
  if (x.size() != 4) throw Error(std::string(op) + ": expected input [N, C, H, W], got " + x.str());
  PoolGeometry g{x[0] * x[1], x[2], x[3], 0, 0, opt.kernel, opt.stride, opt.padding, opt.count_include_pad};
  for (int d = 0; d < 2; ++d) {
    if (g.stride[d] == 0) g.stride[d] = g.kernel[d];
    if (g.kernel[d] < 1 || g.stride[d] < 1 || g.padding[d] < 0 || 2 * g.padding[d] > g.kernel[d])
      throw Error(std::string(op) + ": kernel " + pair_str(g.kernel) + " and stride " + pair_str(g.stride) +
                  " must be positive and padding " + pair_str(g.padding) + " at most half the kernel");
  }
  g.oh = conv_output_size(g.h, g.kernel[0], g.stride[0], g.padding[0], 1);
  g.ow = conv_output_size(g.w, g.kernel[1], g.stride[1], g.padding[1], 1);
  if (g.oh < 1 || g.ow < 1)
    throw Error(std::string(op) + ": kernel " + pair_str(g.kernel) + " is larger than the padded input " + x.str());
  return g;
}

// The window of output (i, j), clipped to the input: rows [r0, r1), columns [c0, c1); `full` is its size
// clipped to the padded input instead (the count_include_pad divisor).
struct Window {
  int64_t r0, r1, c0, c1, full;
};
Window pool_window(const PoolGeometry& g, int64_t i, int64_t j) {
  const int64_t r = i * g.stride[0] - g.padding[0], c = j * g.stride[1] - g.padding[1];
  const int64_t r_end = std::min(r + g.kernel[0], g.h + g.padding[0]);
  const int64_t c_end = std::min(c + g.kernel[1], g.w + g.padding[1]);
  return {std::max<int64_t>(r, 0), std::min(r_end, g.h), std::max<int64_t>(c, 0), std::min(c_end, g.w),
          (r_end - r) * (c_end - c)};
}

// Offset in the plane of the window's first maximum, or of its first NaN.
template <class T>
int64_t window_argmax(const T* plane, int64_t width, const Window& win) {
  int64_t best = win.r0 * width + win.c0;
  T value = plane[best];
  if (std::isnan(value)) return best;
  for (int64_t r = win.r0; r < win.r1; ++r)
    for (int64_t c = win.c0; c < win.c1; ++c) {
      const T v = plane[r * width + c];
      if (std::isnan(v)) return r * width + c;
      if (v > value) value = v, best = r * width + c;
    }
  return best;
}

// The common 2x2 window with stride 2 and no padding, pooled row by row without the general window arithmetic.
bool is_plain_2x2(const PoolGeometry& g) {
  return g.kernel == std::array<int64_t, 2>{2, 2} && g.stride == g.kernel && g.padding == std::array<int64_t, 2>{0, 0};
}

// The first maximum of a window in row-major order, or its first NaN: candidate v replaces the best so far
// only if greater, or NaN while the best is not. Branch-free, so that the plain 2x2 loops vectorise.
template <class T>
bool replaces(T v, T best) {
  return v > best || (v != v && best == best);
}

// Calls block(first, size) over [0, n) in blocks of a constant size, 8 or 4, the last one moved back to end at n
// (it overlaps the one before: block must give the same result when called twice), so that each block's loop
// vectorises without a scalar remainder; that remainder, with a branch per comparison, took most of the time.
template <class Block>
void in_overlapping_blocks(int64_t n, Block block) {
  auto blocks = [&](auto size) {
    for (int64_t start = 0;; start += size) {
      const int64_t first = std::min<int64_t>(start, n - size);
      block(first, size);
      if (first == n - size) return;
    }
  };
  if (n >= 8) return blocks(std::integral_constant<int64_t, 8>{});
  if (n >= 4) return blocks(std::integral_constant<int64_t, 4>{});
  for (int64_t j = 0; j < n; ++j) block(j, std::integral_constant<int64_t, 1>{});
}

// Outputs [first, first + kSize) of a 2x2 pool of input rows `top` and `bottom`: each the maximum of its
// window, NaN if one is. (The restrict pointers let the loop vectorise.)
template <int64_t kSize, class T>
void max_pool_2x2_block(const T* __restrict top, const T* __restrict bottom, T* __restrict out, int64_t first) {
  for (int64_t j = first; j < first + kSize; ++j) {
    T best = top[2 * j];
    for (T v : {top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]}) best = replaces(v, best) ? v : best;
    out[j] = best;
  }
}

// Its gradient: each window's gradient goes to its first maximum (or first NaN) and the other three get 0, so
// every element of the windows is written, none added.
template <int64_t kSize, class T>
void max_pool_2x2_block_backward(const T* __restrict top, const T* __restrict bottom, const T* __restrict grad,
                                 T* __restrict dtop, T* __restrict dbottom, int64_t first) {
  for (int64_t j = first; j < first + kSize; ++j) {
    const T a = top[2 * j], b = top[2 * j + 1], c = bottom[2 * j], d = bottom[2 * j + 1], g = grad[j];
    T best = a, ga = g, gb = 0, gc = 0, gd = 0;
    if (replaces(b, best)) best = b, gb = g, ga = 0;
    if (replaces(c, best)) best = c, gc = g, ga = gb = 0;
    if (replaces(d, best)) gd = g, ga = gb = gc = 0;
    dtop[2 * j] = ga, dtop[2 * j + 1] = gb, dbottom[2 * j] = gc, dbottom[2 * j + 1] = gd;
  }
}

// What a pooling kernel's result is: the pooled shape (a forward), or the input's shape (a backward), zeroed
// unless the kernel writes every element.
enum class PoolResult { pooled, input_zeroed, input_written };

// The driver of a pooling kernel: the geometry of `input_shape` and the result. Calls plane(geometry, result
// data, input-sized offset, pooled offset) for every (n, c) plane, in parallel; the result's pointer type is
// the dtype's.
template <class Plane>
Tensor pool(const char* op, const Shape& input_shape, const Pool2dOptions& options, DType dtype, PoolResult kind,
            Plane plane) {
  const PoolGeometry g = pool_geometry(input_shape, options, op);
  const Shape pooled{input_shape[0], input_shape[1], g.oh, g.ow};
  Tensor result = kind == PoolResult::pooled         ? Tensor::empty(pooled, dtype)
                  : kind == PoolResult::input_zeroed ? Tensor::zeros(input_shape, dtype)
                                                     : Tensor::empty(input_shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = result.mutable_data<T>();
    parallel_for(g.planes, g.planes * g.oh * g.ow * g.kernel[0] * g.kernel[1], [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) plane(g, data, p * g.h * g.w, p * g.oh * g.ow);
    });
  });
  return result;
}

template <class Visit>
void for_each_window(const PoolGeometry& g, Visit visit) {
  for (int64_t i = 0; i < g.oh; ++i)
    for (int64_t j = 0; j < g.ow; ++j) visit(i * g.ow + j, pool_window(g, i, j));
}

double window_divisor(const PoolGeometry& g, const Window& win) {
  return static_cast<double>(g.count_include_pad ? win.full : (win.r1 - win.r0) * (win.c1 - win.c0));
}

void check_grad_shape(const char* op, const Tensor& g, const Shape& expected) {
  if (!g.defined()) throw Error(std::string(op) + ": the gradient is undefined");
  if (g.shape() != expected)
    throw Error(std::string(op) + ": gradient " + g.shape().str() + " does not match the output " + expected.str());
}

void check_pooled_grad(const char* op, const Tensor& g, const Shape& input_shape, const Pool2dOptions& options) {
  const PoolGeometry geo = pool_geometry(input_shape, options, op);
  check_grad_shape(op, g, {input_shape[0], input_shape[1], geo.oh, geo.ow});
}

// Rows [floor(i size / out), ceil((i + 1) size / out)).
std::pair<int64_t, int64_t> adaptive_range(int64_t i, int64_t size, int64_t out) {
  return {i * size / out, ((i + 1) * size + out - 1) / out};
}

}  // namespace

int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation) {
  const int64_t span = in + 2 * padding - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& options) {
  check_same_dtype("conv2d", x, weight);
  const ConvGeometry g = conv_geometry(x.shape(), weight.shape(), options, "conv2d");
  if (bias.defined() && (bias.dtype() != x.dtype() || bias.dim() != 1 || bias.size(0) != g.o))
    throw Error("conv2d: bias " + bias.str() + " does not fit weight " + weight.str());
  Tensor y = Tensor::empty({g.n, g.o, g.oh, g.ow}, x.dtype());
  const Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.defined() ? bias.contiguous() : Tensor();
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    conv2d_forward<T>(g, xc.data<T>(), wc.data<T>(), bc.defined() ? bc.data<T>() : nullptr, y.mutable_data<T>());
  });
  return y;
}

Tensor conv2d_backward_input(const Tensor& g, const Tensor& weight, const Shape& input_shape,
                             const Conv2dOptions& options) {
  check_same_dtype("conv2d_backward_input", g, weight);
  const ConvGeometry geo = conv_geometry(input_shape, weight.shape(), options, "conv2d_backward_input");
  check_grad_shape("conv2d_backward_input", g, {geo.n, geo.o, geo.oh, geo.ow});
  Tensor dx = Tensor::empty(input_shape, g.dtype());
  const Tensor gc = g.contiguous(), wc = weight.contiguous();
  const bool as_convolution = input_grad_is_a_convolution(geo);
  const Tensor flipped = as_convolution ? Tensor::empty({geo.c, geo.og, geo.kh, geo.kw}, g.dtype()) : Tensor();
  dispatch_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (!as_convolution) return conv2d_input_grad_transposed<T>(geo, gc.data<T>(), wc.data<T>(), dx.mutable_data<T>());
    flip_weight<T>(geo, wc.data<T>(), flipped.mutable_data<T>());
    const ConvGeometry dual = conv_geometry(g.shape(), flipped.shape(), input_grad_options(geo), "conv2d_backward_input");
    conv2d_forward<T>(dual, gc.data<T>(), flipped.data<T>(), nullptr, dx.mutable_data<T>());
  });
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& g, const Tensor& x, const Shape& weight_shape,
                              const Conv2dOptions& options) {
  check_same_dtype("conv2d_backward_weight", g, x);
  const ConvGeometry geo = conv_geometry(x.shape(), weight_shape, options, "conv2d_backward_weight");
  check_grad_shape("conv2d_backward_weight", g, {geo.n, geo.o, geo.oh, geo.ow});
  Tensor dw = Tensor::empty(weight_shape, g.dtype());
  if (geo.n == 0) return dw.fill_(0), dw;
  const Tensor gc = g.contiguous(), xc = x.contiguous();
  dispatch_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    conv2d_weight_grad<T>(geo, gc.data<T>(), xc.data<T>(), dw.mutable_data<T>());
  });
  return dw;
}

Tensor channel_sum(const Tensor& g) {
  if (!g.defined() || g.dim() < 2) throw Error("channel_sum: expected [N, C, ...], got " + (g.defined() ? g.str() : std::string("an undefined tensor")));
  const Tensor gc = g.contiguous();
  const int64_t n = g.size(0), c = g.size(1), spatial = n * c != 0 ? g.numel() / (n * c) : 0;
  Tensor out = Tensor::empty({c}, g.dtype());
  dispatch_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = gc.data<T>();
    T* dst = out.mutable_data<T>();
    parallel_for(c, g.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t ch = begin; ch < end; ++ch)
        dst[ch] = static_cast<T>(detail::channel_fold(n, c, spatial, ch, [&](int64_t i) { return src[i]; }));
    });
  });
  return out;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& options) {
  if (!x.defined()) throw Error("max_pool2d: the input is undefined");
  const Tensor xc = x.contiguous();
  return pool("max_pool2d", x.shape(), options, x.dtype(), PoolResult::pooled, [&](const PoolGeometry& g, auto* y, int64_t in, int64_t out) {
    using T = std::remove_pointer_t<decltype(y)>;
    const T* src = xc.data<T>() + in;
    T* dst = y + out;
    if (is_plain_2x2(g)) {
      for (int64_t i = 0; i < g.oh; ++i)
        in_overlapping_blocks(g.ow, [&](int64_t first, auto size) {
          max_pool_2x2_block<size()>(src + 2 * i * g.w, src + (2 * i + 1) * g.w, dst + i * g.ow, first);
        });
      return;
    }
    for_each_window(g, [&](int64_t o, const Window& win) { dst[o] = src[window_argmax(src, g.w, win)]; });
  });
}

Tensor max_pool2d_backward(const Tensor& g, const Tensor& x, const Pool2dOptions& options) {
  check_same_dtype("max_pool2d_backward", g, x);
  check_pooled_grad("max_pool2d_backward", g, x.shape(), options);
  const Tensor xc = x.contiguous(), gc = g.contiguous();
  // Plain 2x2 windows tile an even-sided input, and their kernel writes every element of the windows.
  const PoolGeometry tiles = pool_geometry(x.shape(), options, "max_pool2d_backward");
  const bool tiled = is_plain_2x2(tiles) && tiles.h % 2 == 0 && tiles.w % 2 == 0;
  return pool("max_pool2d_backward", x.shape(), options, x.dtype(), tiled ? PoolResult::input_written : PoolResult::input_zeroed,
              [&](const PoolGeometry& geo, auto* dx, int64_t in, int64_t out) {
                using T = std::remove_pointer_t<decltype(dx)>;
                const T* src = xc.data<T>() + in;
                const T* grad = gc.data<T>() + out;
                T* dst = dx + in;
                if (is_plain_2x2(geo)) {  // the windows are disjoint: each gradient is stored, not added
                  for (int64_t i = 0; i < geo.oh; ++i) {
                    const int64_t top = 2 * i * geo.w, bottom = top + geo.w;
                    in_overlapping_blocks(geo.ow, [&](int64_t first, auto size) {
                      max_pool_2x2_block_backward<size()>(src + top, src + bottom, grad + i * geo.ow, dst + top,
                                                          dst + bottom, first);
                    });
                  }
                  return;
                }
                for_each_window(geo, [&](int64_t o, const Window& win) { dst[window_argmax(src, geo.w, win)] += grad[o]; });
              });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& options) {
  if (!x.defined()) throw Error("avg_pool2d: the input is undefined");
  const Tensor xc = x.contiguous();
  return pool("avg_pool2d", x.shape(), options, x.dtype(), PoolResult::pooled, [&](const PoolGeometry& g, auto* y, int64_t in, int64_t out) {
    using T = std::remove_pointer_t<decltype(y)>;
    const T* src = xc.data<T>() + in;
    for_each_window(g, [&](int64_t o, const Window& win) {
      double s = 0;
      for (int64_t r = win.r0; r < win.r1; ++r)
        for (int64_t c = win.c0; c < win.c1; ++c) s += src[r * g.w + c];
      y[out + o] = static_cast<T>(s / window_divisor(g, win));
    });
  });
}

Tensor avg_pool2d_backward(const Tensor& g, const Shape& input_shape, const Pool2dOptions& options) {
  check_pooled_grad("avg_pool2d_backward", g, input_shape, options);
  const Tensor gc = g.contiguous();
  return pool("avg_pool2d_backward", input_shape, options, g.dtype(), PoolResult::input_zeroed,
              [&](const PoolGeometry& geo, auto* dx, int64_t in, int64_t out) {
                using T = std::remove_pointer_t<decltype(dx)>;
                const T* grad = gc.data<T>() + out;
                for_each_window(geo, [&](int64_t o, const Window& win) {
                  const T share = static_cast<T>(grad[o] / window_divisor(geo, win));
                  for (int64_t r = win.r0; r < win.r1; ++r)
                    for (int64_t c = win.c0; c < win.c1; ++c) dx[in + r * geo.w + c] += share;
                });
              });
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> output_size) {
  if (!x.defined() || x.dim() != 4)
    throw Error("adaptive_avg_pool2d: expected input [N, C, H, W], got " + (x.defined() ? x.shape().str() : std::string("an undefined tensor")));
  const int64_t oh = output_size[0], ow = output_size[1];  // not a structured binding: clang before 16 cannot capture one
  const int64_t h = x.size(2), w = x.size(3);
  if (oh < 1 || ow < 1 || h < 1 || w < 1)
    throw Error("adaptive_avg_pool2d: output size " + pair_str(output_size) + " for input " + x.shape().str() +
                ": both must be positive");
  Tensor y = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype());
  const Tensor xc = x.contiguous();
  const int64_t planes = x.size(0) * x.size(1);
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = xc.data<T>();
    T* dst = y.mutable_data<T>();
    parallel_for(planes, x.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) {
            const auto [r0, r1] = adaptive_range(i, h, oh);
            const auto [c0, c1] = adaptive_range(j, w, ow);
            double s = 0;
            for (int64_t r = r0; r < r1; ++r)
              for (int64_t c = c0; c < c1; ++c) s += src[p * h * w + r * w + c];
            dst[(p * oh + i) * ow + j] = static_cast<T>(s / static_cast<double>((r1 - r0) * (c1 - c0)));
          }
    });
  });
  return y;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& g, const Shape& input_shape) {
  if (!g.defined() || g.dim() != 4 || input_shape.size() != 4 || g.size(0) != input_shape[0] ||
      g.size(1) != input_shape[1])
    throw Error("adaptive_avg_pool2d_backward: gradient " + (g.defined() ? g.shape().str() : std::string("undefined")) +
                " does not fit input " + input_shape.str());
  const int64_t oh = g.size(2), ow = g.size(3), h = input_shape[2], w = input_shape[3];
  Tensor dx = Tensor::zeros(input_shape, g.dtype());
  const Tensor gc = g.contiguous();
  const int64_t planes = input_shape[0] * input_shape[1];
  dispatch_dtype(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* grad = gc.data<T>();
    T* dst = dx.mutable_data<T>();
    parallel_for(planes, dx.numel(), [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p)
        for (int64_t i = 0; i < oh; ++i)
          for (int64_t j = 0; j < ow; ++j) {
            const auto [r0, r1] = adaptive_range(i, h, oh);
            const auto [c0, c1] = adaptive_range(j, w, ow);
            const T share = static_cast<T>(grad[(p * oh + i) * ow + j] / static_cast<double>((r1 - r0) * (c1 - c0)));
            for (int64_t r = r0; r < r1; ++r)
              for (int64_t c = c0; c < c1; ++c) dst[p * h * w + r * w + c] += share;
          }
    });
  });
  return dx;
}

}  // namespace mt
