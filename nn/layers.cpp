#include "nn/layers.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "nn/functional.h"
#include "nn/init.h"

namespace mt::nn {

Linear::Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias, DType dtype)
    : in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0)
    throw Error("Linear: sizes must be positive, got in_features=" + std::to_string(in_features) +
                ", out_features=" + std::to_string(out_features));
  // The draw order (all of W, then all of b) is PyTorch's reset_parameters() order.
  Tensor w = Tensor::empty({out_features, in_features}, dtype);
  init::kaiming_uniform_(w, gen, std::sqrt(5.0));
  weight_ = Var(w, true);
  register_parameter("weight", weight_);
  if (bias) {
    const double bound = 1 / std::sqrt(static_cast<double>(in_features));
    bias_ = Var(Tensor::uniform({out_features}, -bound, bound, gen, dtype), true);
    register_parameter("bias", bias_);
  }
}

// Qualified: the fused mt::linear op (autograd) is found by ADL too, and it has no optional bias.
Var Linear::forward(const Var& x) { return nn::linear(x, weight_, bias_); }

std::string Linear::describe() const {
  return "Linear(in_features=" + std::to_string(in_features_) + ", out_features=" + std::to_string(out_features_) +
         ", bias=" + (bias_.defined() ? "true" : "false") + ")";
}

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen, std::optional<int64_t> padding_idx,
                     DType dtype) {
  if (num_embeddings <= 0 || embedding_dim <= 0)
    throw Error("Embedding: sizes must be positive, got num_embeddings=" + std::to_string(num_embeddings) +
                ", embedding_dim=" + std::to_string(embedding_dim));
  if (padding_idx) {
    if (*padding_idx < -num_embeddings || *padding_idx >= num_embeddings)
      throw Error("Embedding: padding_idx " + std::to_string(*padding_idx) + " is out of range for " +
                  std::to_string(num_embeddings) + " embeddings");
    padding_idx_ = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  weight_ = Var(Tensor::normal({num_embeddings, embedding_dim}, 0, 1, gen, dtype), true);
  if (padding_idx_) weight_.value().select(0, *padding_idx_).fill_(0);
  register_parameter("weight", weight_);
}

Var Embedding::forward(const Indices& indices) { return embedding(indices, weight_, padding_idx_); }
Var Embedding::forward(const Var& x) { return forward(Indices::from_tensor(x.value(), "Embedding")); }

std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(weight_.size(0)) + ", " + std::to_string(weight_.size(1)) +
         (padding_idx_ ? ", padding_idx=" + std::to_string(*padding_idx_) : "") + ")";
}

Var ReLU::forward(const Var& x) { return relu(x); }
Var Sigmoid::forward(const Var& x) { return sigmoid(x); }
Var Tanh::forward(const Var& x) { return tanh(x); }

Var GELU::forward(const Var& x) { return gelu(x, approximate_); }
std::string GELU::describe() const {
  return approximate_ == GeluApproximation::Tanh ? "GELU(approximate='tanh')" : "GELU(approximate='none')";
}

Var LeakyReLU::forward(const Var& x) { return leaky_relu(x, negative_slope_); }
std::string LeakyReLU::describe() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "LeakyReLU(negative_slope=%g)", negative_slope_);
  return buf;
}

Var SiLU::forward(const Var& x) { return silu(x); }

Dropout::Dropout(double p, uint64_t seed) : p_(p), gen_(seed) {
  if (!(p >= 0 && p <= 1)) throw Error("Dropout: p must be in [0, 1], got " + std::to_string(p));
  register_generator("generator", gen_);
}

Var Dropout::forward(const Var& x) { return dropout(x, p_, gen_, is_training()); }

std::string Dropout::describe() const {
  std::ostringstream out;
  out << "Dropout(p=" << p_ << ")";
  return out.str();
}

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> layers) {
  for (const auto& layer : layers) add(layer);
}

Sequential& Sequential::add(std::shared_ptr<Module> layer) {
  register_module(std::to_string(size()), std::move(layer));
  return *this;
}

Var Sequential::forward(const Var& x) {
  Var y = x;
  for (const auto& child : children()) y = child.second->forward(y);
  return y;
}

}  // namespace mt::nn
