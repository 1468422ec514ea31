#pragma once
// Internal: the loop every strided kernel is built on.
#include <algorithm>
#include <array>
#include <cstdint>

#include "tensor/parallel.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace mt::detail {

// The longest stretch of a row that one thread takes (elements, whole cache lines of either dtype).
constexpr int64_t kRowPiece = int64_t{1} << 14;

// Strides that make `t` read as if it had `shape` (0 along the dims it is repeated in); throws naming `op`.
Shape broadcast_strides(const Tensor& t, const Shape& shape, const char* op);

// Walks `shape` in row-major order for N operands, each with its own strides (0 where it broadcasts), and
// calls body(offsets, length, inner_strides) once per innermost row or piece of one (below). Dimensions that
// are laid out back to back for every operand are merged first, so a contiguous tensor is one long row.
template <std::size_t N, class Body>
void for_each_row(const Shape& shape, const std::array<Shape, N>& strides, Body&& body) {
  // Collected innermost first: sizes[0] is the row that body() walks.
  Shape sizes;
  std::array<Shape, N> st;
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (std::size_t k = 0; k < N && merge; ++k) merge = strides[k][d] == st[k].back() * sizes.back();
    if (merge) {
      sizes[sizes.size() - 1] *= shape[d];
    } else {
      sizes.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (shape.numel() == 0) return;
  std::array<int64_t, N> inner{};
  int64_t length = 1;
  if (!sizes.empty()) {
    length = sizes[0];
    for (std::size_t k = 0; k < N; ++k) inner[k] = st[k][0];
  }
  const int outer_dims = sizes.empty() ? 0 : sizes.size() - 1;  // dims 1.. of `sizes`, innermost first
  int64_t rows = 1;
  for (int d = 1; d <= outer_dims; ++d) rows *= sizes[d];
  // Rows longer than kRowPiece are cut into pieces, so that the threads share a tensor of few long rows too:
  // merged as above, any contiguous tensor is a single row. Every element is computed alone, so the cut
  // changes no result.
  const int64_t piece = std::min(length, kRowPiece), pieces = (length + piece - 1) / piece;

  parallel_for(rows * pieces, rows * length, [&](int64_t begin, int64_t end) {
    Shape index;
    std::array<int64_t, N> offsets{};
    int64_t rest = begin / pieces;
    for (int d = 1; d <= outer_dims; ++d) {
      index.push_back(rest % sizes[d]);
      rest /= sizes[d];
      for (std::size_t k = 0; k < N; ++k) offsets[k] += index[d - 1] * st[k][d];
    }
    for (int64_t item = begin; item < end; ++item) {
      const int64_t first = item % pieces * piece;
      std::array<int64_t, N> at = offsets;
      for (std::size_t k = 0; k < N; ++k) at[k] += first * inner[k];
      body(at, std::min(piece, length - first), inner);
      if ((item + 1) % pieces != 0) continue;
      for (int d = 1; d <= outer_dims; ++d) {
        for (std::size_t k = 0; k < N; ++k) offsets[k] += st[k][d];
        if (++index[d - 1] < sizes[d]) break;
        for (std::size_t k = 0; k < N; ++k) offsets[k] -= sizes[d] * st[k][d];
        index[d - 1] = 0;
      }
    }
  });
}

}  // namespace mt::detail
