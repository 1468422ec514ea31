#pragma once
// The cnn of `mnist --model cnn`, shared with bench/bench_conv and described in --help and the README.
#include <cstdint>
#include <memory>

#include "nn/nn.h"

namespace mnist_app {

inline constexpr const char* kCnnDescription =
    "conv 32 3x3 pad 1, batch norm, ReLU, max-pool 2; conv 64 3x3 pad 1, batch norm, ReLU, max-pool 2;\n"
    "                         fc 128, ReLU, dropout 0.25, fc 10; 421,738 parameters; trained on images shifted\n"
    "                         by up to 2 pixels";
inline constexpr int64_t kCnnParameters = 421738;

// Input [N, 1, 28, 28], output [N, classes]. Convolutions without bias: the batch norm after each has its own.
// Weights from `gen`, dropout masks from `dropout_seed`.
std::shared_ptr<mt::nn::Sequential> make_cnn(mt::Generator& gen, uint64_t dropout_seed, int64_t classes = 10);

}  // namespace mnist_app
