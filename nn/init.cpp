#include "nn/init.h"

#include <cmath>
#include <string>

namespace mt::nn::init {

Fans fans(const Shape& shape) {
  if (shape.size() < 2)
    throw Error("init: fan in and fan out need a tensor of at least 2 dims, got shape " + shape.str());
  int64_t receptive = 1;
  for (int d = 2; d < shape.size(); ++d) receptive *= shape[d];
  return {shape[1] * receptive, shape[0] * receptive};
}

double gain(Nonlinearity nonlinearity, double a) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid:
      return 1;
    case Nonlinearity::Tanh:
      return 5.0 / 3;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2 / (1 + a * a));
  }
  throw Error("init::gain: unknown nonlinearity");
}

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  t.copy_(Tensor::uniform(t.shape(), low, high, gen, t.dtype()));
}

void normal_(const Tensor& t, double mean, double stddev, Generator& gen) {
  t.copy_(Tensor::normal(t.shape(), mean, stddev, gen, t.dtype()));
}

void zeros_(const Tensor& t) { t.fill_(0); }

namespace {

double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity) {
  const Fans f = fans(t.shape());
  const int64_t fan = mode == FanMode::FanIn ? f.in : f.out;
  if (fan == 0) throw Error("init: kaiming of a tensor " + t.str() + " with a zero fan");
  return gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}

double xavier_std(const Tensor& t, double g) {
  const Fans f = fans(t.shape());
  return g * std::sqrt(2.0 / static_cast<double>(f.in + f.out));
}

}  // namespace

void kaiming_uniform_(const Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(const Tensor& t, Generator& gen, double a, FanMode mode, Nonlinearity nonlinearity) {
  normal_(t, 0, kaiming_std(t, a, mode, nonlinearity), gen);
}

void xavier_uniform_(const Tensor& t, Generator& gen, double g) {
  const double bound = std::sqrt(3.0) * xavier_std(t, g);
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(const Tensor& t, Generator& gen, double g) { normal_(t, 0, xavier_std(t, g), gen); }

}  // namespace mt::nn::init
