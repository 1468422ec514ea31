#pragma once
// Indexing ops: selecting and gathering by integer indices (tensor/indexing.h's Indices), scattering, and
// choosing by a mask. Forward and backward side by side in indexing.cpp; the kernels are in tensor/indexing.cpp.
// Indices are never differentiated; an index out of range throws naming the op, the index and the size.
#include <cstdint>
#include <optional>
#include <string_view>

#include "autograd/var.h"
#include "tensor/indexing.h"

namespace mt {

// y = x[..., index[i], ...] along dim, index 1-D; the gradient adds g's slices back at their indices.
Var index_select(const Var& x, int dim, const Indices& index);
// y[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (likewise for other dims); y is shaped like index. The gradient
// is scatter_add(zeros like x, dim, index, g).
Var gather(const Var& x, int dim, const Indices& index);
// y = x, then y[index[i][j][k]][j][k] += src[i][j][k] for dim 0 (likewise for other dims); dy/dx = 1, and src's
// gradient is gather(g, dim, index) over index's shape (zero beyond it).
Var scatter_add(const Var& x, int dim, const Indices& index, const Var& src);
// y = mask != 0 ? value : x, mask and x broadcast; the gradient flows where mask is 0.
Var masked_fill(const Var& x, const Tensor& mask, double value);
// y = cond != 0 ? a : b, the three broadcast; each gradient flows where its operand was chosen.
Var where(const Tensor& cond, const Var& a, const Var& b);
// y[..., :] = weight[indices[...], :] for weight [num_embeddings, D]: y is indices.shape + [D], as
// torch.nn.functional.embedding. The row padding_idx (negative: from the end) receives no gradient.
Var embedding(const Indices& indices, const Var& weight, std::optional<int64_t> padding_idx = std::nullopt);

inline constexpr std::string_view kIndexingOps[] = {"index_select", "gather", "scatter_add", "masked_fill", "where",
                                                    "embedding"};

}  // namespace mt
