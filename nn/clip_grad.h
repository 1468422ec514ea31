#pragma once
// Gradient clipping, as torch.nn.utils: applied between backward() and the optimizer's step(), in place on
// the parameters' grad(). Parameters without a gradient are skipped. Gradients that are the same memory (one
// tensor handed to two leaves by a backward) are scaled once.
#include <limits>
#include <span>

#include "autograd/var.h"

namespace mt::nn {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales all gradients by min(1, max_norm / (total + 1e-6)), where total is the norm_type-norm of all of them
// together, as if concatenated: (sum |g|^p)^(1/p), or max |g| for kInfNorm. Returns total, before clipping,
// summed in double. A NaN or infinite total is an error when error_if_nonfinite, else it scales as PyTorch does
// (the gradients become 0 or NaN). norm_type must be > 0.
double clip_grad_norm_(std::span<const Var> parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value]; clip_value must be >= 0.
void clip_grad_value_(std::span<const Var> parameters, double clip_value);

}  // namespace mt::nn
