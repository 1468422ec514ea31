#pragma once
// Where each figure puts its grid of cells, images or tiles. The figures draw from these layouts and the tests
// read pixels at the same places, so a test checks colours where the figure says it drew them.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "viz/plot.h"

namespace mt::viz::detail {

struct ConfusionLayout {
  TileGrid cells;      // n x n, true classes down, predictions across
  Rect colorbar;
  double accuracy_x = 0;  // centre of the per-class accuracy column
  double label_size = 0;  // font size of the class names
  double count_size = 0;  // font size of the counts, small enough for the widest count to fit a cell
  bool rotate_x_labels = false;
};
ConfusionLayout confusion_layout(const std::vector<std::string>& class_names, int64_t max_count,
                                 const FigureOptions& options);

struct SamplesLayout {
  TileGrid cells;  // each cell: the image on top, caption_lines of caption below
  double image_h = 0;
  int caption_lines = 1;
  double width = 0, height = 0;  // of the figure
  Rect image(int i) const;
};
// captions[i] = {"true X", "pred Y"}; two lines are used when any caption does not fit one.
SamplesLayout samples_layout(const std::vector<std::pair<std::string, std::string>>& captions,
                             const SamplesOptions& options);

struct WeightsLayout {
  TileGrid tiles;
  Rect colorbar;
  double width = 0, height = 0;  // of the figure
};
WeightsLayout weights_layout(int units, const WeightsOptions& options);

// Shared text of the captions so that layout and drawing agree on what is measured.
std::string caption_one_line(const std::pair<std::string, std::string>& caption);

}  // namespace mt::viz::detail
