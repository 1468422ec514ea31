#pragma once
// Evaluation figures drawn with cairo: learning curves, a per-step loss curve, a confusion matrix, sample
// predictions and first-layer weights. Each function takes plain data so it works outside MNIST too.
//
// Every function writes one file whose format follows the extension of `path`: .png, .svg or .pdf.
// Bad input (NaN, mismatched sizes, labels out of range) and an unwritable path throw mt::Error, and no
// partial file is left behind: the figure goes to a temporary file that is renamed only once cairo reports
// success. Empty input is not an error: it gives a figure that says "no data", so a training script can always
// produce its report.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mt::viz {

// Size in pixels for .png, in points for .svg/.pdf, before `scale`. 0 keeps the figure's default size.
struct FigureOptions {
  double width = 0;
  double height = 0;
  double scale = 1;   // multiplies the output size; 2 gives crisp PNGs for high-DPI screens and slides
  std::string title;  // empty: the figure's default title
};

// Per-epoch metrics; element e belongs to epoch e + 1. Any series may be empty (say, no validation set);
// the non-empty ones must all have the same length. Accuracies are drawn as given (fractions or percents).
struct History {
  std::vector<double> train_loss, val_loss;
  std::vector<double> train_acc, val_acc;
};

struct CurvesOptions {
  FigureOptions figure;  // default 1200 x 500
};
// Two panels side by side: loss per epoch and accuracy per epoch, train and validation lines with markers.
void plot_learning_curves(const History& history, const std::string& path, const CurvesOptions& options = {});

struct StepLossOptions {
  FigureOptions figure;    // default 1000 x 450
  double smoothing = 0.95;  // weight of the past in the exponential moving average, in [0, 1)
};
// The raw loss of every training step (faint) under its bias-corrected exponential moving average.
void plot_step_loss(std::span<const double> losses, const std::string& path, const StepLossOptions& options = {});

struct ConfusionOptions {
  FigureOptions figure;                  // default 960 x 800
  std::vector<std::string> class_names;  // empty: "0", "1", ...; otherwise one per class
};
// counts[t][p] = number of samples of true class t predicted as class p (an N x N matrix). True classes are the
// rows, predictions the columns; the title gives the overall accuracy and a column beside the matrix the
// accuracy (recall) of each class.
void plot_confusion_matrix(const std::vector<std::vector<int64_t>>& counts, const std::string& path,
                           const ConfusionOptions& options = {});

struct SamplesOptions {
  FigureOptions figure;  // default size fits the grid: about 180 x 200 per image
  int rows = 4;
  int cols = 5;
  int image_height = 28;
  int image_width = 28;
  bool only_mistakes = false;            // keep only samples with true label != predicted label
  std::vector<std::string> class_names;  // empty: labels are printed as numbers
};
// The first rows * cols samples (after the only_mistakes filter) as greyscale images, each captioned
// "true X / pred Y" in green when right and red when wrong. `images` holds the samples one after the other,
// image_height * image_width row-major pixels each: floats in [0, 1] (0 black, 1 white) or bytes in [0, 255].
void plot_sample_predictions(std::span<const float> images, std::span<const int64_t> true_labels,
                             std::span<const int64_t> predicted_labels, const std::string& path,
                             const SamplesOptions& options = {});
void plot_sample_predictions(std::span<const uint8_t> images, std::span<const int64_t> true_labels,
                             std::span<const int64_t> predicted_labels, const std::string& path,
                             const SamplesOptions& options = {});

struct WeightsOptions {
  FigureOptions figure;  // default size fits the grid: about 90 x 90 per tile
  int max_units = 64;    // draw the first max_units units
  int columns = 0;       // tiles per row; 0 gives a square-ish grid
  int image_height = 28;
  int image_width = 28;
};
// One tile per hidden unit of a first layer: weight is [units, image_height * image_width], float32 or float64,
// the layout nn::Linear uses (out_features x in_features). For a [pixels, units] tensor pass weight.t().
// Each tile is scaled by its own max |w| so that 0 is white, positive weights red and negative ones blue.
void plot_first_layer_weights(const Tensor& weight, const std::string& path, const WeightsOptions& options = {});

}  // namespace mt::viz
