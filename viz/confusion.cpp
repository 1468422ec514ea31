// Confusion matrix heatmap with counts, class names, per-class accuracy and a colour bar.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/error.h"
#include "viz/layout.h"
#include "viz/viz.h"

namespace mt::viz {
namespace detail {
namespace {

constexpr double kDefaultWidth = 960, kDefaultHeight = 800;
constexpr double kPad = 16, kGap = 8, kBarWidth = 18;
const std::string kAccuracyHeader = "accuracy";

// 99.97% must not print as "100.0%": one more decimal when rounding would claim perfection.
std::string percent(double fraction) {
  const std::string one = format_number(100 * fraction, 1);
  return (one == "100.0" && fraction < 1 ? format_number(100 * fraction, 2) : one) + "%";
}

// White on dark cells; zeros in grey so that the few real confusions stand out among them.
Rgb text_colour(int64_t count, Rgb cell) {
  if (luminance(cell) < 0.5) return {1, 1, 1};
  return count == 0 ? Rgb{0.62, 0.62, 0.62} : kText;
}

}  // namespace

ConfusionLayout confusion_layout(const std::vector<std::string>& class_names, int64_t max_count,
                                 const FigureOptions& options) {
  MeasureContext m;
  cairo_t* cr = m.cr();
  const int n = static_cast<int>(class_names.size());
  const double width = resolved_width(options, kDefaultWidth), height = resolved_height(options, kDefaultHeight);
  ConfusionLayout layout;
  layout.label_size = kTickSize + 1;
  const Font label_font{layout.label_size, false}, axis_font{kLabelSize, false};
  double name_w = 0;
  for (const std::string& name : class_names) name_w = std::max(name_w, text_width(cr, name, label_font));
  const double name_h = line_height(cr, label_font), axis_h = line_height(cr, axis_font);
  const double acc_w = std::max(text_width(cr, kAccuracyHeader, label_font), text_width(cr, "100.0%", label_font));

  const double top = title_height() + name_h + kGap;  // the accuracy column's header sits above the matrix
  const double left = kPad + axis_h + kGap + name_w + kGap;
  const double right = 2 * kGap + acc_w + 2 * kGap + kBarWidth + colorbar_extent(cr, {0, 1}, "count") + kPad;
  auto fit = [&](double bottom) {
    return std::max(0.0, std::min((width - left - right) / n, (height - top - bottom) / n));
  };
  const double flat_bottom = kGap + name_h + kGap + axis_h + kPad;
  double cell = fit(flat_bottom);
  // Names wider than a column are turned 45 degrees; the bottom margin then grows with the longest name.
  if (name_w > cell * 0.92) {
    layout.rotate_x_labels = true;
    cell = fit(kGap + (name_w + name_h) * std::numbers::sqrt2 / 2 + kGap + axis_h + kPad);
  }
  const double block_w = left + n * cell + right;
  const double x0 = (width - block_w) / 2 + left;
  layout.cells = fit_tiles({x0, top, n * cell, n * cell}, n, n, 1, 0);
  const Rect matrix = layout.cells.bounds();
  layout.accuracy_x = matrix.right() + 2 * kGap + acc_w / 2;
  layout.colorbar = {matrix.right() + 4 * kGap + acc_w, matrix.y, kBarWidth, matrix.h};

  const std::string widest = std::to_string(max_count);
  layout.count_size = std::min(kTickSize + 1, cell * 0.38);
  const double w = text_width(cr, widest, {layout.count_size, false});
  if (w > cell * 0.86) layout.count_size *= cell * 0.86 / w;
  return layout;
}

}  // namespace detail

void plot_confusion_matrix(const std::vector<std::vector<int64_t>>& counts, const std::string& path,
                           const ConfusionOptions& options) {
  using namespace detail;
  constexpr const char* kWhat = "plot_confusion_matrix";
  const std::size_t n = counts.size();
  int64_t max_count = 0, total = 0, correct = 0;
  for (std::size_t t = 0; t < n; ++t) {
    if (counts[t].size() != n)
      throw Error(std::string(kWhat) + ": row " + std::to_string(t) + " has " + std::to_string(counts[t].size()) +
                  " columns but the matrix has " + std::to_string(n) + " rows; it must be square");
    for (std::size_t p = 0; p < n; ++p) {
      if (counts[t][p] < 0)
        throw Error(std::string(kWhat) + ": count [" + std::to_string(t) + "][" + std::to_string(p) + "] is " +
                    std::to_string(counts[t][p]) + "; counts cannot be negative");
      max_count = std::max(max_count, counts[t][p]);
      total += counts[t][p];
    }
    correct += counts[t][t];
  }
  if (!options.class_names.empty() && options.class_names.size() != n)
    throw Error(std::string(kWhat) + ": " + std::to_string(options.class_names.size()) + " class names for a " +
                std::to_string(n) + " x " + std::to_string(n) + " matrix");

  Figure figure(path, options.figure, kDefaultWidth, kDefaultHeight);
  std::string title = options.figure.title.empty() ? "Confusion matrix" : options.figure.title;
  if (n == 0) return draw_no_data(figure, title, "no data: the matrix has no classes");
  title += total > 0 ? " \u2014 accuracy " + percent(static_cast<double>(correct) / static_cast<double>(total)) +
                           " (" + std::to_string(correct) + " / " + std::to_string(total) + ")"
                     : " \u2014 no samples";

  std::vector<std::string> names = options.class_names;
  if (names.empty())
    for (std::size_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  const ConfusionLayout layout = confusion_layout(names, max_count, options.figure);
  const Rect matrix = layout.cells.bounds();
  const Font label_font{layout.label_size, false}, axis_font{kLabelSize, false};
  cairo_t* cr = figure.cr();
  draw_title(cr, figure.width(), title);

  const double scale = max_count > 0 ? static_cast<double>(max_count) : 1;
  for (std::size_t t = 0; t < n; ++t) {
    int64_t row_total = 0;
    for (std::size_t p = 0; p < n; ++p) {
      const Rect cell = layout.cells.tile(static_cast<int>(t * n + p));
      const Rgb colour = sequential(static_cast<double>(counts[t][p]) / scale);
      // Overlap by a pixel: cell edges falling between pixels would otherwise show as faint lines.
      fill_rect(cr, {cell.x, cell.y, cell.w + 0.5, cell.h + 0.5}, colour);
      draw_text(cr, std::to_string(counts[t][p]), cell.cx(), cell.cy(), {layout.count_size, false}, HAlign::Center,
                VAlign::Middle, text_colour(counts[t][p], colour));
      row_total += counts[t][p];
    }
    const Rect row = layout.cells.tile(static_cast<int>(t * n));
    draw_text(cr, names[t], matrix.x - kGap, row.cy(), label_font, HAlign::Right, VAlign::Middle);
    draw_text(cr, row_total > 0 ? percent(static_cast<double>(counts[t][t]) / static_cast<double>(row_total)) : "\u2013",
              layout.accuracy_x, row.cy(), label_font, HAlign::Center, VAlign::Middle, kMutedText);
  }
  set_colour(cr, kFrame);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, matrix.x, matrix.y, matrix.w, matrix.h);
  cairo_stroke(cr);

  const double label_h = line_height(cr, label_font);
  double names_bottom = matrix.bottom() + kGap + label_h;
  for (std::size_t p = 0; p < n; ++p) {
    const Rect col = layout.cells.tile(static_cast<int>(p));
    if (layout.rotate_x_labels) {
      // Text ends at the column centre and runs down-left, so long names never cross into the matrix.
      draw_text(cr, names[p], col.cx() + label_h * 0.3, matrix.bottom() + kGap, label_font, HAlign::Right,
                VAlign::Middle, kText, -std::numbers::pi / 4);
      names_bottom = std::max(names_bottom, matrix.bottom() + kGap +
                                                (text_width(cr, names[p], label_font) + label_h) * std::numbers::sqrt2 / 2);
    } else {
      draw_text(cr, names[p], col.cx(), matrix.bottom() + kGap, label_font, HAlign::Center, VAlign::Top);
    }
  }
  draw_text(cr, "predicted label", matrix.cx(), names_bottom + kGap, axis_font, HAlign::Center, VAlign::Top);
  double names_w = 0;
  for (const std::string& name : names) names_w = std::max(names_w, text_width(cr, name, label_font));
  draw_text(cr, "true label", matrix.x - kGap - names_w - kGap, matrix.cy(), axis_font, HAlign::Center,
            VAlign::Bottom, kText, -std::numbers::pi / 2);
  draw_text(cr, kAccuracyHeader, layout.accuracy_x, matrix.y - 6, label_font, HAlign::Center, VAlign::Bottom,
            kMutedText);

  draw_colorbar(cr, layout.colorbar, [scale](double v) { return sequential(v / scale); }, {0, scale}, "count");
  figure.save();
}

}  // namespace mt::viz
