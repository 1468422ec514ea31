#pragma once
// The cnn of `mnist --model cnn`, shared with bench/bench_conv and described in --help and the README.
#include <cstdint>
#include <memory>

#include "nn/nn.h"

namespace mnist_app {

inline constexpr const char* kCnnDescription =
    "conv 32, conv 32, max-pool 2; conv 64, conv 64, max-pool 2 (each conv 3x3 pad 1,\n"
    "                         batch norm, ReLU); fc 256, ReLU, dropout 0.25, fc 10; 870,826 parameters;\n"
    "                         trained on images shifted by up to 1 pixel";
inline constexpr int64_t kCnnParameters = 870826;
// Training images are shifted by up to this many pixels along each axis (datasets::Augmentation::max_shift).
inline constexpr int64_t kCnnMaxShift = 1;

// Input [N, 1, 28, 28], output [N, classes]. Convolutions without bias: the batch norm after each has its own.
// Weights from `gen`, dropout masks from `dropout_seed`.
std::shared_ptr<mt::nn::Sequential> make_cnn(mt::Generator& gen, uint64_t dropout_seed, int64_t classes = 10);

}  // namespace mnist_app
