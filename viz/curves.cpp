// Learning curves per epoch and the smoothed per-step loss.
#include <algorithm>
#include <cmath>

#include "tensor/error.h"
#include "viz/plot.h"
#include "viz/viz.h"

namespace mt::viz {
namespace {

using namespace detail;

std::vector<double> epochs(std::size_t n) {
  std::vector<double> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(i + 1);
  return x;
}

Range epoch_range(std::size_t n) {
  // A small margin so that end markers clear the frame, never reaching the meaningless epoch 0.
  if (n <= 1) return {0.5, 1.5};
  const double pad = std::min(0.5, 0.04 * static_cast<double>(n - 1));
  return {1 - pad, static_cast<double>(n) + pad};
}

// One panel of train/validation series; an empty panel says so instead of drawing empty axes.
void draw_panel(cairo_t* cr, Rect panel, const std::string& title, const std::string& y_label,
                std::vector<Series> series) {
  std::erase_if(series, [](const Series& s) { return s.y.empty(); });
  if (series.empty()) {
    draw_text(cr, title, panel.cx(), panel.y + 10, {kLabelSize + 2, true}, HAlign::Center, VAlign::Top);
    draw_text(cr, "no data", panel.cx(), panel.cy(), {kLabelSize + 2, false}, HAlign::Center, VAlign::Middle,
              kMutedText);
    return;
  }
  std::vector<double> all_y;
  for (const Series& s : series) all_y.insert(all_y.end(), s.y.begin(), s.y.end());
  const Axes axes =
      draw_axes(cr, panel, epoch_range(series.front().x.size()), padded_range(all_y, 0.08), {title, "epoch", y_label, true});
  for (const Series& s : series) draw_series(cr, axes, s);
  draw_legend(cr, axes, series);
}

}  // namespace

void plot_learning_curves(const History& history, const std::string& path, const CurvesOptions& options) {
  constexpr const char* kWhat = "plot_learning_curves";
  const std::pair<const std::vector<double>*, const char*> all[] = {{&history.train_loss, "train_loss"},
                                                                    {&history.val_loss, "val_loss"},
                                                                    {&history.train_acc, "train_acc"},
                                                                    {&history.val_acc, "val_acc"}};
  std::size_t n = 0;
  const char* n_name = "";
  for (const auto& [values, name] : all) {
    require_finite(*values, kWhat, name);
    if (values->empty()) continue;
    if (n != 0 && values->size() != n)
      throw Error(std::string(kWhat) + ": " + name + " has " + std::to_string(values->size()) + " epochs but " +
                  n_name + " has " + std::to_string(n) + "; every non-empty series needs one value per epoch");
    n = values->size();
    n_name = name;
  }

  Figure figure(path, options.figure, 1200, 500);
  const std::string title = options.figure.title.empty() ? "Learning curves" : options.figure.title;
  if (n == 0) return draw_no_data(figure, title, "no data: the history is empty");

  cairo_t* cr = figure.cr();
  const double top = draw_title(cr, figure.width(), title);
  const double half = figure.width() / 2;
  const double panel_h = figure.height() - top - 4;
  const std::vector<double> x = epochs(n);
  draw_panel(cr, {8, top, half - 16, panel_h}, "Loss", "loss",
             {{"train", x, history.train_loss, kBlue, Marker::Circle},
              {"validation", x, history.val_loss, kOrange, Marker::Square}});
  draw_panel(cr, {half + 8, top, half - 16, panel_h}, "Accuracy", "accuracy",
             {{"train", x, history.train_acc, kBlue, Marker::Circle},
              {"validation", x, history.val_acc, kOrange, Marker::Square}});
  figure.save();
}

void plot_step_loss(std::span<const double> losses, const std::string& path, const StepLossOptions& options) {
  constexpr const char* kWhat = "plot_step_loss";
  require_finite(losses, kWhat, "losses");
  if (!(options.smoothing >= 0 && options.smoothing < 1))
    throw Error(std::string(kWhat) + ": smoothing is " + format_number(options.smoothing, 3) +
                "; it must be in [0, 1)");

  Figure figure(path, options.figure, 1000, 450);
  const std::string title = options.figure.title.empty() ? "Training loss per step" : options.figure.title;
  if (losses.empty()) return draw_no_data(figure, title, "no data: no training steps");

  // Debiased like TensorBoard's smoothing, so the curve starts at the first losses rather than at 0.
  std::vector<double> smooth(losses.size());
  double ema = 0, weight = 0;
  for (std::size_t i = 0; i < losses.size(); ++i) {
    ema = options.smoothing * ema + (1 - options.smoothing) * losses[i];
    weight = options.smoothing * weight + (1 - options.smoothing);
    smooth[i] = ema / weight;
  }
  const std::vector<double> x = epochs(losses.size());
  const std::vector<double> raw(losses.begin(), losses.end());

  cairo_t* cr = figure.cr();
  const double top = draw_title(cr, figure.width(), title);
  const double n = static_cast<double>(losses.size());
  const Range x_range = losses.size() == 1 ? Range{0.5, 1.5} : Range{1, n};
  const std::vector<Series> series{{"raw", x, raw, kBlue, Marker::None, 1, 0.3},
                                   {"smoothed", x, smooth, kBlue, Marker::None, 2.2, 1}};
  const Axes axes = draw_axes(cr, {8, top, figure.width() - 16, figure.height() - top - 4}, x_range,
                              padded_range(raw, 0.05), {"", "step", "loss", true});
  for (const Series& s : series) draw_series(cr, axes, s);
  draw_legend(cr, axes, series);
  figure.save();
}

}  // namespace mt::viz
