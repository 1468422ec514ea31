#pragma once
// The layers. Each forward is built from differentiable ops (autograd/ops.h), so backward needs nothing
// here; functional.h has the same computations as plain functions.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/module.h"
#include "tensor/random.h"

namespace mt::nn {

// y = x W^T + b for x [..., in] (usually [N, in]), W [out, in], b [out], as torch.nn.Linear.
// Initialised like PyTorch's default: W ~ U(-1/sqrt(in), 1/sqrt(in)) (Kaiming-uniform with a = sqrt(5)),
// then b ~ U(-1/sqrt(in), 1/sqrt(in)), both drawn from `gen`. The weights depend only on the generator's
// state, so seeding one Generator and making the layers in the same order reproduces a model bit for bit.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, bool bias = true, DType dtype = DType::Float32);

  Var forward(const Var& x) override;
  std::string describe() const override;

  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
  Var weight_, bias_;
};

// A table of num_embeddings vectors of embedding_dim: forward(indices [...]) is [..., embedding_dim], the rows
// at those indices, as torch.nn.Embedding. The weight is initialised N(0, 1) from `gen`, as PyTorch does, and
// the row padding_idx (negative: from the end), when given, is zeroed and receives no gradient.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen,
            std::optional<int64_t> padding_idx = std::nullopt, DType dtype = DType::Float32);

  Var forward(const Indices& indices);
  Var forward(const Var& x) override;  // x holds whole numbers (token ids from a TensorDataLoader)
  std::string describe() const override;

  const Var& weight() const { return weight_; }
  std::optional<int64_t> padding_idx() const { return padding_idx_; }  // in [0, num_embeddings)

 private:
  std::optional<int64_t> padding_idx_;
  Var weight_;
};

class ReLU : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override { return "ReLU()"; }
};

class Sigmoid : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override { return "Sigmoid()"; }
};

class Tanh : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override { return "Tanh()"; }
};

class GELU : public Module {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::None) : approximate_(approximate) {}
  Var forward(const Var& x) override;
  std::string describe() const override;

 private:
  GeluApproximation approximate_;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Var forward(const Var& x) override;
  std::string describe() const override;

 private:
  double negative_slope_;
};

class SiLU : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override { return "SiLU()"; }
};

// In training, zeroes each element with probability p and scales the rest by 1/(1-p); in eval, the identity.
// The mask comes from the layer's own generator, seeded here, so a run is reproducible.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);

  Var forward(const Var& x) override;
  std::string describe() const override;

 private:
  double p_;
  Generator gen_;
};

// Runs its layers in order; they are named "0", "1", ... in named_parameters() and checkpoints.
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<std::shared_ptr<Module>> layers);

  Sequential& add(std::shared_ptr<Module> layer);
  void push_back(std::shared_ptr<Module> layer) { add(std::move(layer)); }
  size_t size() const { return children().size(); }
  Module& operator[](size_t i) const { return *children().at(i).second; }

  Var forward(const Var& x) override;
  std::string describe() const override { return "Sequential"; }
};

}  // namespace mt::nn
