// A grid of test images captioned with their true and predicted labels.
#include <algorithm>
#include <cmath>

#include "tensor/error.h"
#include "viz/layout.h"
#include "viz/viz.h"

namespace mt::viz {
namespace detail {
namespace {

constexpr double kPad = 16, kMinWidth = 400, kGap = 14, kCaptionGap = 6, kCellWidth = 172, kCellHeight = 196;
constexpr Font kCaptionFont{kTickSize + 1, true};

// At least one row, so that a "no data" figure keeps a readable size.
int grid_rows(std::size_t count, int cols) { return std::max(1, static_cast<int>((count + cols - 1) / cols)); }

}  // namespace

std::string caption_one_line(const std::pair<std::string, std::string>& caption) {
  return caption.first + " / " + caption.second;
}

Rect SamplesLayout::image(int i) const {
  const Rect cell = cells.tile(i);
  return {cell.x, cell.y, cell.w, image_h};
}

SamplesLayout samples_layout(const std::vector<std::pair<std::string, std::string>>& captions,
                             const SamplesOptions& options) {
  MeasureContext m;
  // A few samples get a grid of their own size rather than sitting in the corner of a mostly empty one.
  const int cols = std::clamp(static_cast<int>(captions.size()), 1, options.cols);
  const int rows = grid_rows(captions.size(), cols);
  const double top = title_height();
  // Wide enough for the title even with one column.
  const double width = resolved_width(options.figure, std::max(kMinWidth, 2 * kPad + cols * kCellWidth));
  const double height = resolved_height(options.figure, top + kPad + rows * kCellHeight);
  const Rect area{kPad, top, width - 2 * kPad, height - top - kPad};
  const double aspect = static_cast<double>(options.image_width) / options.image_height;
  const double line_h = line_height(m.cr(), kCaptionFont);
  double widest = 0;
  for (const auto& caption : captions) widest = std::max(widest, text_width(m.cr(), caption_one_line(caption), kCaptionFont));

  SamplesLayout layout;
  for (layout.caption_lines = 1; layout.caption_lines <= 2; ++layout.caption_lines) {
    const double caption_h = kCaptionGap + layout.caption_lines * line_h;
    layout.cells = fit_tiles(area, rows, cols, aspect, kGap, caption_h);
    layout.image_h = layout.cells.tile_h - caption_h;
    // A caption may use the gap beside its image too, but not reach the neighbouring caption.
    if (widest <= layout.cells.tile_w + kGap * 0.6) break;
  }
  layout.caption_lines = std::min(layout.caption_lines, 2);
  layout.width = width;
  layout.height = height;
  return layout;
}

}  // namespace detail

namespace {

using namespace detail;

std::string label_text(int64_t label, const std::vector<std::string>& names) {
  return names.empty() ? std::to_string(label) : names[static_cast<std::size_t>(label)];
}

void check_label(int64_t label, std::size_t i, const char* which, const SamplesOptions& options) {
  if (label < 0 || (!options.class_names.empty() && label >= static_cast<int64_t>(options.class_names.size())))
    throw Error(std::string("plot_sample_predictions: ") + which + "[" + std::to_string(i) + "] is " +
                std::to_string(label) + "; labels must be in 0.." +
                (options.class_names.empty() ? std::string("inf") : std::to_string(options.class_names.size() - 1)));
}

// Both pixel types meet here as a function from (sample, pixel) to a grey level in [0, 1].
template <class Pixel, class ToGrey>
void draw_samples(std::span<const Pixel> images, std::span<const int64_t> true_labels,
                  std::span<const int64_t> predicted_labels, const std::string& path, const SamplesOptions& options,
                  ToGrey to_grey) {
  constexpr const char* kWhat = "plot_sample_predictions";
  if (options.rows < 1 || options.cols < 1 || options.image_height < 1 || options.image_width < 1)
    throw Error(std::string(kWhat) + ": rows, cols, image_height and image_width must be positive");
  const std::size_t pixels = static_cast<std::size_t>(options.image_height) * options.image_width;
  const std::size_t count = true_labels.size();
  if (predicted_labels.size() != count)
    throw Error(std::string(kWhat) + ": " + std::to_string(count) + " true labels but " +
                std::to_string(predicted_labels.size()) + " predicted labels");
  if (images.size() != count * pixels)
    throw Error(std::string(kWhat) + ": " + std::to_string(images.size()) + " pixels for " + std::to_string(count) +
                " samples of " + std::to_string(options.image_height) + " x " + std::to_string(options.image_width) +
                " (expected " + std::to_string(count * pixels) + ")");

  std::vector<std::size_t> chosen;
  const std::size_t capacity = static_cast<std::size_t>(options.rows) * options.cols;
  for (std::size_t i = 0; i < count && chosen.size() < capacity; ++i) {
    check_label(true_labels[i], i, "true_labels", options);
    check_label(predicted_labels[i], i, "predicted_labels", options);
    if (!options.only_mistakes || true_labels[i] != predicted_labels[i]) chosen.push_back(i);
  }
  for (std::size_t i : chosen)
    for (std::size_t k = 0; k < pixels; ++k) {
      const double grey = to_grey(images[i * pixels + k]);
      if (std::isnan(grey))
        throw Error(std::string(kWhat) + ": pixel " + std::to_string(k) + " of sample " + std::to_string(i) +
                    " is NaN");
    }

  const std::string title = !options.figure.title.empty() ? options.figure.title
                            : options.only_mistakes       ? "Misclassified samples"
                                                          : "Sample predictions";
  std::vector<std::pair<std::string, std::string>> captions;
  for (std::size_t i : chosen)
    captions.emplace_back("true " + label_text(true_labels[i], options.class_names),
                          "pred " + label_text(predicted_labels[i], options.class_names));
  const SamplesLayout layout = samples_layout(captions, options);
  Figure figure(path, options.figure, layout.width, layout.height);
  if (chosen.empty())
    return draw_no_data(figure, title, options.only_mistakes && count > 0 ? "no misclassified samples" : "no data: no samples");

  cairo_t* cr = figure.cr();
  draw_title(cr, figure.width(), title);
  const double line_h = line_height(cr, kCaptionFont);
  std::vector<uint32_t> rgb(pixels);
  for (std::size_t c = 0; c < chosen.size(); ++c) {
    const std::size_t i = chosen[c];
    for (std::size_t k = 0; k < pixels; ++k) {
      const double grey = std::clamp(to_grey(images[i * pixels + k]), 0.0, 1.0);
      rgb[k] = pack({grey, grey, grey});
    }
    const Rect image = layout.image(static_cast<int>(c));
    draw_image(cr, rgb, options.image_width, options.image_height, image);
    set_colour(cr, kSeparator);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, image.x, image.y, image.w, image.h);
    cairo_stroke(cr);

    const Rgb colour = true_labels[i] == predicted_labels[i] ? kRight : kWrong;
    const double y = image.bottom() + kCaptionGap;
    if (layout.caption_lines == 1) {
      draw_text(cr, caption_one_line(captions[c]), image.cx(), y, kCaptionFont, HAlign::Center, VAlign::Top, colour);
    } else {
      draw_text(cr, captions[c].first, image.cx(), y, kCaptionFont, HAlign::Center, VAlign::Top, colour);
      draw_text(cr, captions[c].second, image.cx(), y + line_h, kCaptionFont, HAlign::Center, VAlign::Top, colour);
    }
  }
  figure.save();
}

}  // namespace

void plot_sample_predictions(std::span<const float> images, std::span<const int64_t> true_labels,
                             std::span<const int64_t> predicted_labels, const std::string& path,
                             const SamplesOptions& options) {
  draw_samples(images, true_labels, predicted_labels, path, options, [](float v) { return static_cast<double>(v); });
}

void plot_sample_predictions(std::span<const uint8_t> images, std::span<const int64_t> true_labels,
                             std::span<const int64_t> predicted_labels, const std::string& path,
                             const SamplesOptions& options) {
  draw_samples(images, true_labels, predicted_labels, path, options, [](uint8_t v) { return v / 255.0; });
}

}  // namespace mt::viz
