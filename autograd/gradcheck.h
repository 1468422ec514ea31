#pragma once
// Numerical gradient checking: the analytic gradient that backward() computes is compared, element by
// element, with central finite differences (f(x + eps) - f(x - eps)) / 2 eps, in float64.
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace mt {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // an element passes when |numeric - analytic| <= atol + rtol * |numeric|
  double rtol = 1e-5;
  uint64_t seed = 0;   // for the random direction that non-scalar outputs are projected on
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: the op, the input, the worst element, both values
  explicit operator bool() const { return ok; }
};

// f maps Vars (one per input, each requiring a gradient) to a result of any shape; a non-scalar result is
// dotted with a fixed random tensor so that every output element takes part. Inputs must be float64; they
// may be non-contiguous views (transposed, sliced), which f then sees as they are. Perturbations are
// written into the inputs' storage and undone.
using GradcheckFn = std::function<Var(const std::vector<Var>&)>;
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace mt
