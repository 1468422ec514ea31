#pragma once
// The differentiable ops, one header per family; each header lists its ops one a line with the formula, and
// its op names (k<Family>Ops). Each op computes its result with tensor kernels and records its backward, one
// function each in the family's .cpp, forward and backward side by side. kOps joins the family lists: it is
// the single list of ops, and tests/autograd_test.cpp gradchecks every op in it. A new family adds its header
// here and its list to kOps.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

#include "autograd/conv.h"
#include "autograd/elementwise.h"
#include "autograd/indexing.h"
#include "autograd/linalg.h"
#include "autograd/loss.h"
#include "autograd/norm.h"
#include "autograd/reduce.h"
#include "autograd/shape.h"

namespace mt {
namespace detail {

template <size_t... N>
constexpr std::array<std::string_view, (N + ...)> join_op_lists(const std::string_view (&... lists)[N]) {
  std::array<std::string_view, (N + ...)> all{};
  auto out = all.begin();
  ((out = std::copy(std::begin(lists), std::end(lists), out)), ...);
  return all;
}

}  // namespace detail

// The names of every op, for tests that must cover them all.
inline constexpr auto kOps = detail::join_op_lists(kElementwiseOps, kReduceOps, kShapeOps, kIndexingOps, kLinalgOps,
                                                    kLossOps, kConvOps, kNormOps);

}  // namespace mt
