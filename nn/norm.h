#pragma once
// Normalisation layers, as torch.nn.BatchNorm1d / BatchNorm2d and torch.nn.LayerNorm.
#include <cstdint>
#include <string>

#include "autograd/norm.h"
#include "nn/module.h"

namespace mt::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  double momentum = 0.1;             // running = (1 - momentum) running + momentum batch
  bool affine = true;                // learnable weight (ones) and bias (zeros)
  bool track_running_stats = true;   // keep running mean (zeros) and var (ones) as buffers, used in eval
};

// Normalises each channel (dim 1) with the batch's statistics in training, and with the running statistics
// in eval (with the batch's when track_running_stats is off). The running statistics are buffers: saved and
// loaded by checkpoints, never handed to optimizers.
class BatchNorm : public Module {
 public:
  Var forward(const Var& x) override;
  std::string describe() const override;

  const Var& weight() const { return weight_; }  // undefined unless affine
  const Var& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }  // undefined unless track_running_stats
  const Tensor& running_var() const { return running_var_; }

 protected:
  // `name` and the input ranks accepted, for messages: BatchNorm1d takes [N, C] or [N, C, L].
  BatchNorm(const char* name, int min_dim, int max_dim, int64_t features, const BatchNormOptions& options,
            DType dtype);

 private:
  const char* name_;
  int min_dim_, max_dim_;
  int64_t features_;
  BatchNormOptions options_;
  Var weight_, bias_;
  Tensor running_mean_, running_var_;
};

class BatchNorm1d : public BatchNorm {  // x [N, C] or [N, C, L]
 public:
  explicit BatchNorm1d(int64_t features, const BatchNormOptions& options = {}, DType dtype = DType::Float32)
      : BatchNorm("BatchNorm1d", 2, 3, features, options, dtype) {}
};

class BatchNorm2d : public BatchNorm {  // x [N, C, H, W]
 public:
  explicit BatchNorm2d(int64_t features, const BatchNormOptions& options = {}, DType dtype = DType::Float32)
      : BatchNorm("BatchNorm2d", 4, 4, features, options, dtype) {}
};

// Normalises over the trailing dims normalized_shape (each slice by its own mean and biased variance), with a
// learnable weight (ones) and bias (zeros) of that shape when elementwise_affine, as torch.nn.LayerNorm. The
// same in training and eval.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::Float32);

  Var forward(const Var& x) override;
  std::string describe() const override;

  const Var& weight() const { return weight_; }  // undefined unless elementwise_affine
  const Var& bias() const { return bias_; }
  const Shape& normalized_shape() const { return normalized_shape_; }

 private:
  Shape normalized_shape_;
  double eps_;
  Var weight_, bias_;
};

}  // namespace mt::nn
