// First-layer weights as image tiles on a diverging colour map.
#include <algorithm>
#include <cmath>

#include "tensor/error.h"
#include "viz/layout.h"
#include "viz/viz.h"

namespace mt::viz {
namespace detail {
namespace {

constexpr double kPad = 16, kMinWidth = 480, kTile = 88, kSeparatorWidth = 2, kBarWidth = 16, kBarGap = 24;
const std::string kBarLabel = "w / max |w| of the unit";

int grid_cols(int units, const WeightsOptions& options) {
  if (options.columns > 0) return options.columns;
  return std::max(1, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(units)))));
}

}  // namespace

WeightsLayout weights_layout(int units, const WeightsOptions& options) {
  MeasureContext m;
  const int cols = grid_cols(units, options);
  const int rows = std::max(1, (units + cols - 1) / cols);
  const double aspect = static_cast<double>(options.image_width) / options.image_height;
  const double bar_w = kBarGap + kBarWidth + colorbar_extent(m.cr(), {-1, 1}, kBarLabel);
  const double top = title_height();
  // The rotated bar label sets the least height, the title the least width, however few the units.
  const double min_bar_h = std::max(160.0, text_width(m.cr(), kBarLabel, {kLabelSize, false}) + 16);
  const double width =
      resolved_width(options.figure, std::max(kMinWidth, 2 * kPad + cols * (kTile * aspect + kSeparatorWidth) + bar_w));
  const double height = resolved_height(
      options.figure, top + kPad + std::max(min_bar_h, rows * (kTile + kSeparatorWidth)));
  WeightsLayout layout;
  layout.tiles = fit_tiles({kPad, top, width - 2 * kPad - bar_w, height - top - kPad}, rows, cols, aspect, kSeparatorWidth);
  const Rect grid = layout.tiles.bounds();
  // The bar spans the middle of the grid: one as tall as a big grid would dwarf its labels.
  const Rect& area = layout.tiles.area;
  const double bar_h = std::min(area.h, std::max(min_bar_h, grid.h * 0.6));
  layout.colorbar = {grid.right() + kBarGap, area.cy() - bar_h / 2, kBarWidth, bar_h};
  layout.width = width;
  layout.height = height;
  return layout;
}

}  // namespace detail

void plot_first_layer_weights(const Tensor& weight, const std::string& path, const WeightsOptions& options) {
  using namespace detail;
  constexpr const char* kWhat = "plot_first_layer_weights";
  if (options.max_units < 0 || options.columns < 0 || options.image_height < 1 || options.image_width < 1)
    throw Error(std::string(kWhat) + ": max_units and columns must be >= 0, image_height and image_width positive");
  if (!weight.defined()) throw Error(std::string(kWhat) + ": the weight tensor is undefined");
  const int64_t pixels = static_cast<int64_t>(options.image_height) * options.image_width;
  if (weight.dim() != 2 || weight.size(1) != pixels)
    throw Error(std::string(kWhat) + ": expected a [units, " + std::to_string(pixels) + "] weight (" +
                std::to_string(options.image_height) + " x " + std::to_string(options.image_width) +
                " images), got " + weight.str() + "; pass weight.t() for a [pixels, units] tensor");
  const int units = static_cast<int>(std::min<int64_t>(weight.size(0), options.max_units));
  const Tensor values = weight.narrow(0, 0, units).to(DType::Float64).contiguous();
  const double* w = values.data<double>();
  require_finite({w, static_cast<std::size_t>(units * pixels)}, kWhat, "weight");

  const WeightsLayout layout = weights_layout(units, options);
  const std::string title = options.figure.title.empty()
                                ? "First-layer weights (" + std::to_string(units) + " of " +
                                      std::to_string(weight.size(0)) + " units)"
                                : options.figure.title;
  Figure figure(path, options.figure, layout.width, layout.height);
  if (units == 0) return draw_no_data(figure, title, "no data: the layer has no units");

  cairo_t* cr = figure.cr();
  draw_title(cr, figure.width(), title);
  // The separators are a grey frame behind each tile, showing through the gaps; empty grid slots stay white.
  for (int u = 0; u < units; ++u) {
    const Rect t = layout.tiles.tile(u);
    fill_rect(cr, {t.x - kSeparatorWidth, t.y - kSeparatorWidth, t.w + 2 * kSeparatorWidth, t.h + 2 * kSeparatorWidth},
              kSeparator);
  }
  std::vector<uint32_t> rgb(static_cast<std::size_t>(pixels));
  for (int u = 0; u < units; ++u) {
    const double* unit = w + static_cast<std::ptrdiff_t>(u) * pixels;
    double max_abs = 0;
    for (int64_t k = 0; k < pixels; ++k) max_abs = std::max(max_abs, std::abs(unit[k]));
    const double inv = max_abs > 0 ? 1 / max_abs : 0;
    for (int64_t k = 0; k < pixels; ++k) rgb[static_cast<std::size_t>(k)] = pack(diverging(unit[k] * inv));
    draw_image(cr, rgb, options.image_width, options.image_height, layout.tiles.tile(u));
  }
  draw_colorbar(cr, layout.colorbar, diverging, {-1, 1}, kBarLabel);
  figure.save();
}

}  // namespace mt::viz
