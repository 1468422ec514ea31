#pragma once
// Initialisers, as torch.nn.init: each overwrites a tensor in place (any dtype) with values drawn from
// `gen`. For a weight [out, in, ...], fan_in = in * receptive field and fan_out = out * receptive field,
// where the receptive field is the product of the sizes after the first two.
#include <cstdint>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace mt::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };

struct Fans {
  int64_t in, out;
};
Fans fans(const Shape& shape);  // needs at least 2 dims

// The recommended gain for a nonlinearity: 1, 1, 5/3, sqrt(2), sqrt(2 / (1 + a^2)) (a: negative slope).
double gain(Nonlinearity nonlinearity, double a = 0.01);

void uniform_(const Tensor& t, double low, double high, Generator& gen);  // U(low, high)
void normal_(const Tensor& t, double mean, double stddev, Generator& gen);  // N(mean, stddev^2)
void zeros_(const Tensor& t);

// std = gain / sqrt(fan); the uniform version draws from U(-sqrt(3) std, sqrt(3) std).
// PyTorch's Linear uses kaiming_uniform_(W, gen, sqrt(5)), which gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void kaiming_uniform_(const Tensor& t, Generator& gen, double a = 0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);
void kaiming_normal_(const Tensor& t, Generator& gen, double a = 0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyReLU);

// std = gain * sqrt(2 / (fan_in + fan_out)); the uniform version draws from U(-sqrt(3) std, sqrt(3) std).
void xavier_uniform_(const Tensor& t, Generator& gen, double gain = 1);
void xavier_normal_(const Tensor& t, Generator& gen, double gain = 1);

}  // namespace mt::nn::init
