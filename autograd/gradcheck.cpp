#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "tensor/random.h"

namespace mt {
namespace {

// Storage offsets (relative to data()) of a tensor's elements in row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offsets(static_cast<size_t>(t.numel()));
  std::vector<int64_t> index(t.dim(), 0);
  for (int64_t& offset : offsets) {
    offset = 0;
    for (int d = 0; d < t.dim(); ++d) offset += index[d] * t.strides()[d];
    for (int d = t.dim() - 1; d >= 0; --d) {
      if (++index[d] < t.size(d)) break;
      index[d] = 0;
    }
  }
  return offsets;
}

std::string index_str(const Tensor& t, int64_t flat) {
  Shape index = t.shape();
  for (int d = t.dim() - 1; d >= 0; --d) {
    index[d] = flat % t.size(d);
    flat /= t.size(d);
  }
  return index.str();
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || inputs[i].dtype() != DType::Float64)
      throw Error("gradcheck: input " + std::to_string(i) + " must be a float64 tensor");
    for (int d = 0; d < inputs[i].dim(); ++d)
      if (inputs[i].strides()[d] == 0 && inputs[i].size(d) > 1)
        throw Error("gradcheck: input " + std::to_string(i) + " " + inputs[i].str() +
                    " repeats elements (a broadcast view); perturbing one would move several");
  }

  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t, true);
  const Var out = f(vars);
  Generator gen(options.seed);
  const Tensor direction = Tensor::normal(out.shape(), 0, 1, gen, DType::Float64);
  out.backward(direction);
  const std::string op = out.op();

  // The projected output whose derivative both methods compute.
  auto objective = [&]() {
    NoGradGuard no_grad;
    return sum(f(vars).value() * direction).item();
  };

  GradcheckResult result;
  double worst = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor analytic = vars[i].grad().defined() ? vars[i].grad().contiguous()
                                                     : Tensor::zeros(inputs[i].shape(), DType::Float64);
    const double* analytic_values = analytic.data<double>();
    double* base = inputs[i].mutable_data<double>();
    const std::vector<int64_t> offsets = element_offsets(inputs[i]);
    for (size_t j = 0; j < offsets.size(); ++j) {
      double& x = base[offsets[j]];
      const double saved = x;
      x = saved + options.eps;
      const double plus = objective();
      x = saved - options.eps;
      const double minus = objective();
      x = saved;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double error = std::abs(numeric - analytic_values[j]);
      const double excess = error - (options.atol + options.rtol * std::abs(numeric));
      if (excess > 0 && excess > worst) {
        worst = excess;
        std::ostringstream message;
        message.precision(10);
        message << "gradcheck failed for op '" << op << "': input " << i << " " << inputs[i].str() << " element "
                << index_str(inputs[i], static_cast<int64_t>(j)) << ": numeric " << numeric << " vs analytic "
                << analytic_values[j] << " (difference " << error << ")";
        result = {false, message.str()};
      }
    }
  }
  return result;
}

}  // namespace mt
