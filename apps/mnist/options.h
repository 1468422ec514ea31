#pragma once
// The command line of apps/mnist: subcommand, options and their defaults.
#include <cstdint>
#include <string>
#include <vector>

namespace mnist_app {

struct Options {
  std::string command = "train";  // train | eval | predict | help (--help) | version (--version)
  std::string data;                // empty: $MNIST_DATA, ./data/<dataset>, the Debian dataset directory
  std::string dataset = "mnist";   // mnist | fashion | idx (any MNIST-format files in --data)
  int epochs = 5;
  int batch_size = 32;
  double lr = 1e-3;
  std::string schedule = "cosine";  // cosine | constant
  std::string optimizer = "adam";   // adam | adamw | sgd
  std::string architecture = "mlp";  // train: mlp | cnn (--model); eval and predict read it from the model file
  std::vector<int64_t> hidden = {256, 128, 64, 32};
  uint64_t seed = 0;
  int threads = 0;  // 0: every core
  int64_t val_size = 6000;
  int64_t train_on_test = 0;  // > 0: train on the first N test images, test on the rest (no training files needed)
  std::string out = "out";
  bool resume = false;  // --resume DIR: go on from DIR/checkpoint.bin (and write there: out = DIR)
  std::string format = "png";  // png | svg | pdf
  bool figures = true;
  bool quiet = false;
  std::string model;  // eval, predict: the model file (--model FILE)
  std::string image;  // predict: the PNG to classify
};

// Thrown for a bad command line; main() prints it in one line and exits with code 2.
struct UsageError {
  std::string message;
};

Options parse_options(int argc, char** argv);
// Parameters of the 784-<hidden>-<classes> mlp; throws UsageError when the count does not fit an int64_t.
int64_t mlp_parameter_count(const std::vector<int64_t>& hidden, int64_t classes = 10);
std::string help_text();

}  // namespace mnist_app
