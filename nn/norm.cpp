#include "nn/norm.h"

#include <sstream>

namespace mt::nn {

BatchNorm::BatchNorm(const char* name, int min_dim, int max_dim, int64_t features, const BatchNormOptions& options,
                     DType dtype)
    : name_(name), min_dim_(min_dim), max_dim_(max_dim), features_(features), options_(options) {
  if (features <= 0) throw Error(std::string(name) + ": num_features must be positive, got " + std::to_string(features));
  if (!(options.momentum >= 0 && options.momentum <= 1) || !(options.eps > 0))
    throw Error(std::string(name) + ": momentum must be in [0, 1] and eps positive");
  if (options.affine) {
    weight_ = Var(Tensor::ones({features}, dtype), true);
    bias_ = Var(Tensor::zeros({features}, dtype), true);
    register_parameter("weight", weight_);
    register_parameter("bias", bias_);
  }
  if (options.track_running_stats) {
    running_mean_ = Tensor::zeros({features}, dtype);
    running_var_ = Tensor::ones({features}, dtype);
    register_buffer("running_mean", running_mean_);
    register_buffer("running_var", running_var_);
  }
}

Var BatchNorm::forward(const Var& x) {
  if (x.dim() < min_dim_ || x.dim() > max_dim_ || x.size(1) != features_) {
    const std::string expected = min_dim_ == 4 ? "[N, C, H, W]" : "[N, C] or [N, C, L]";
    throw Error(std::string(name_) + "(" + std::to_string(features_) + "): expected input " + expected + " with C = " +
                std::to_string(features_) + ", got " + x.shape().str());
  }
  const bool batch_stats = is_training() || !options_.track_running_stats;
  // In eval without running statistics batch_norm gets none and normalises with the batch's.
  const Tensor& mean = is_training() || options_.track_running_stats ? running_mean_ : Tensor();
  const Tensor& var = is_training() || options_.track_running_stats ? running_var_ : Tensor();
  if (options_.affine) return batch_norm(x, weight_, bias_, mean, var, batch_stats, options_.momentum, options_.eps);
  return batch_norm(x, mean, var, batch_stats, options_.momentum, options_.eps);
}

std::string BatchNorm::describe() const {
  std::ostringstream out;
  out << name_ << "(" << features_ << ", eps=" << options_.eps << ", momentum=" << options_.momentum
      << ", affine=" << (options_.affine ? "true" : "false")
      << ", track_running_stats=" << (options_.track_running_stats ? "true" : "false") << ")";
  return out.str();
}

LayerNorm::LayerNorm(const Shape& normalized_shape, double eps, bool elementwise_affine, DType dtype)
    : normalized_shape_(normalized_shape), eps_(eps) {
  bool ok = normalized_shape.size() > 0;
  for (int64_t size : normalized_shape) ok = ok && size > 0;
  if (!ok) throw Error("LayerNorm: normalized_shape must be non-empty sizes > 0, got " + normalized_shape.str());
  if (!(eps > 0)) throw Error("LayerNorm: eps must be positive, got " + std::to_string(eps));
  if (elementwise_affine) {
    weight_ = Var(Tensor::ones(normalized_shape, dtype), true);
    bias_ = Var(Tensor::zeros(normalized_shape, dtype), true);
    register_parameter("weight", weight_);
    register_parameter("bias", bias_);
  }
}

Var LayerNorm::forward(const Var& x) {
  if (weight_.defined()) return layer_norm(x, normalized_shape_, weight_, bias_, eps_);
  return layer_norm(x, normalized_shape_, eps_);
}

std::string LayerNorm::describe() const {
  std::ostringstream out;
  out << "LayerNorm(" << normalized_shape_.str() << ", eps=" << eps_
      << ", elementwise_affine=" << (weight_.defined() ? "true" : "false") << ")";
  return out.str();
}

}  // namespace mt::nn
