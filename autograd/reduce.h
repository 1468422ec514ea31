#pragma once
// Reductions over dims. Forward and backward side by side in reduce.cpp; the kernels are in tensor/reduce.cpp.
#include <span>
#include <string_view>

#include "autograd/var.h"

namespace mt {

Var sum(const Var& x, std::span<const int> dims = {}, bool keepdim = false);   // sum over dims (all when empty)
Var mean(const Var& x, std::span<const int> dims = {}, bool keepdim = false);  // sum / count (all when empty)
Var max(const Var& x, int dim, bool keepdim = false);  // max over dim; the gradient goes to the first maximum

inline constexpr std::string_view kReduceOps[] = {"sum", "mean", "max"};

}  // namespace mt
