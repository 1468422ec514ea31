#pragma once
// Turns a PNG of a hand-written digit into the 28x28 input the model was trained on.
#include <cstdint>
#include <string>
#include <vector>

namespace mnist_app {

// The largest PNG predict decodes, checked from the file's header before decoding (about 12 bytes a pixel).
constexpr uint32_t kMaxPngSide = 16384;
constexpr uint64_t kMaxPngPixels = 16'000'000;

// Reads `path` (any size from 28x28, greyscale or colour) and prepares it the way MNIST's digits were: light
// ink on a dark background (a dark-on-light image is inverted), the ink's bounding box scaled to fit 20x20
// keeping its aspect ratio, then placed in a 28x28 field with its centre of mass at the centre.
// Returns 784 values in [0, 1], row-major. Throws mt::Error naming the file when it is not a regular file, not a PNG ("not a PNG"), a corrupt
// one ("corrupt PNG"), or larger than the limits above.
std::vector<float> load_digit_png(const std::string& path);

}  // namespace mnist_app
