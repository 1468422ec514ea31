#pragma once
// The layers' computations as plain functions on Vars, for models written without Module objects.
#include <cstdint>
#include <span>

#include "autograd/ops.h"
#include "tensor/random.h"

namespace mt::nn {

// Elementwise activations and the softmax family are the autograd ops themselves.
using mt::elu;          // x > 0 ? x : alpha (e^x - 1)
using mt::gelu;         // x Phi(x), or its tanh approximation
using mt::leaky_relu;   // x > 0 ? x : negative_slope x
using mt::log_softmax;  // (x, dim): x - log sum e^x, stable
using mt::relu;         // max(x, 0)
using mt::sigmoid;      // 1 / (1 + e^-x)
using mt::silu;         // x sigmoid(x)
using mt::softplus;     // ln(1 + e^(beta x)) / beta
using mt::softmax;      // (x, dim): e^x / sum e^x, stable
using mt::tanh;         // tanh x

// -mean_i log softmax(logits)[i, labels[i]] for logits [N, C] and labels in [0, C): the fused, stable
// softmax cross-entropy with mean reduction (torch.nn.functional.cross_entropy).
using mt::cross_entropy;

// x W^T + b for x [..., in], W [out, in], b [out] (b may be undefined: no bias), through the fused
// mt::linear op on rows [N, in]; other ranks are folded into rows.
Var linear(const Var& x, const Var& weight, const Var& bias = Var());

// Inverted dropout: zeroes each element with probability p, drawn from gen, and scales the rest by
// 1/(1-p); the identity when not training or p == 0.
Var dropout(const Var& x, double p, Generator& gen, bool training = true);

}  // namespace mt::nn
