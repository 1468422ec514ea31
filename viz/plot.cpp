#include "viz/plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numbers>

#include "tensor/error.h"

namespace mt::viz::detail {
namespace {

constexpr const char* kFontFamily = "DejaVu Sans";
// cairo image surfaces are limited to 32767 pixels a side; stay well below to catch absurd options early.
constexpr double kMaxPixels = 16384;

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

void select_font(cairo_t* cr, Font font) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         font.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, font.size);
}

Rgb lerp(Rgb a, Rgb b, double t) { return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t}; }

// Piecewise-linear interpolation between evenly spaced colours, t in [0, 1].
template <std::size_t N>
Rgb interpolate(const std::array<Rgb, N>& stops, double t) {
  if (!(t > 0)) return stops.front();  // also catches NaN
  if (t >= 1) return stops.back();
  const double pos = t * (N - 1);
  const std::size_t i = static_cast<std::size_t>(pos);
  return lerp(stops[i], stops[i + 1], pos - static_cast<double>(i));
}

}  // namespace

double resolved_width(const FigureOptions& options, double default_width) {
  return options.width > 0 ? options.width : default_width;
}
double resolved_height(const FigureOptions& options, double default_height) {
  return options.height > 0 ? options.height : default_height;
}

Figure::Figure(const std::string& path, const FigureOptions& options, double default_width, double default_height)
    : path_(path) {
  const std::string ext = lower_extension(path);
  if (ext == ".png") {
    format_ = Format::Png;
  } else if (ext == ".svg") {
    format_ = Format::Svg;
  } else if (ext == ".pdf") {
    format_ = Format::Pdf;
  } else {
    throw Error("viz: cannot tell the format of '" + path + "': the extension must be .png, .svg or .pdf");
  }
  width_ = resolved_width(options, default_width);
  height_ = resolved_height(options, default_height);
  const double scale = options.scale;
  if (!std::isfinite(width_) || !std::isfinite(height_) || !std::isfinite(scale) || width_ < 0 || height_ < 0 ||
      scale <= 0)
    throw Error("viz: bad figure size for '" + path + "': width, height and scale must be positive");
  const double out_w = std::ceil(width_ * scale), out_h = std::ceil(height_ * scale);
  if (out_w < 1 || out_h < 1 || out_w > kMaxPixels || out_h > kMaxPixels)
    throw Error("viz: figure size " + format_number(out_w, 0) + " x " + format_number(out_h, 0) + " for '" + path +
                "' is outside 1.." + format_number(kMaxPixels, 0));

  try {
    file_.emplace(path);
  } catch (const Error& e) {
    throw Error(std::string("viz: ") + e.what());  // names the file and what failed
  }
  switch (format_) {
    case Format::Png:
      surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, static_cast<int>(out_w), static_cast<int>(out_h));
      break;
    case Format::Svg:
      surface_ = cairo_svg_surface_create_for_stream(&Figure::write_chunk, this, out_w, out_h);
      break;
    case Format::Pdf:
      surface_ = cairo_pdf_surface_create_for_stream(&Figure::write_chunk, this, out_w, out_h);
      break;
  }
  if (const cairo_status_t status = cairo_surface_status(surface_); status != CAIRO_STATUS_SUCCESS) {
    release();
    throw Error("viz: cannot write '" + path + "': " + cairo_status_to_string(status));
  }
  cr_ = cairo_create(surface_);
  cairo_scale(cr_, scale, scale);
  set_colour(cr_, {1, 1, 1});
  cairo_paint(cr_);
}

Figure::~Figure() { release(); }

void Figure::release() {
  if (cr_) cairo_destroy(cr_);
  if (surface_) cairo_surface_destroy(surface_);  // an unfinished vector surface writes its rest to file_ here
  cr_ = nullptr;
  surface_ = nullptr;
  file_.reset();  // removes the temporary file unless it was committed
}

cairo_status_t Figure::write_chunk(void* closure, const unsigned char* data, unsigned int length) {
  auto* figure = static_cast<Figure*>(closure);
  if (!figure->write_error_.empty()) return CAIRO_STATUS_WRITE_ERROR;
  try {
    figure->file_->write(data, length);
    return CAIRO_STATUS_SUCCESS;
  } catch (const Error& e) {
    figure->write_error_ = e.what();  // cairo's status alone would say "error while writing to output stream"
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

void Figure::save() {
  if (const cairo_status_t status = cairo_status(cr_); status != CAIRO_STATUS_SUCCESS)
    throw Error("viz: drawing '" + path_ + "' failed: " + cairo_status_to_string(status));
  cairo_status_t status = CAIRO_STATUS_SUCCESS;
  if (format_ == Format::Png) {
    cairo_surface_flush(surface_);
    status = cairo_surface_write_to_png_stream(surface_, &Figure::write_chunk, this);
  } else {
    cairo_surface_finish(surface_);
    status = cairo_surface_status(surface_);
  }
  // A failed write's own message names the file and the cause; cairo's status alone is vaguer.
  std::string failure = status != CAIRO_STATUS_SUCCESS ? "cannot write '" + path_ + "': " + cairo_status_to_string(status) : "";
  if (!write_error_.empty()) failure = write_error_;
  if (failure.empty()) {
    try {
      file_->commit();
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  release();
  if (!failure.empty()) throw Error("viz: " + failure);
}

MeasureContext::MeasureContext()
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1)), cr_(cairo_create(surface_)) {}
MeasureContext::~MeasureContext() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

double text_width(cairo_t* cr, const std::string& text, Font font) {
  select_font(cr, font);
  cairo_text_extents_t ext;
  cairo_text_extents(cr, text.c_str(), &ext);
  return ext.x_advance;
}

double line_height(cairo_t* cr, Font font) {
  select_font(cr, font);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

void draw_text(cairo_t* cr, const std::string& text, double x, double y, Font font, HAlign h, VAlign v, Rgb colour,
               double angle) {
  select_font(cr, font);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  cairo_text_extents_t te;
  cairo_text_extents(cr, text.c_str(), &te);
  // Alignment uses the font's ascent/descent rather than the glyphs' ink so that labels side by side share
  // a baseline whatever letters they contain.
  double dx = 0;
  if (h == HAlign::Center) dx = -te.x_advance / 2;
  if (h == HAlign::Right) dx = -te.x_advance;
  double dy = 0;
  if (v == VAlign::Top) dy = fe.ascent;
  if (v == VAlign::Middle) dy = (fe.ascent - fe.descent) / 2;
  if (v == VAlign::Bottom) dy = -fe.descent;
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, dx, dy);
  set_colour(cr, colour);
  cairo_show_text(cr, text.c_str());
  cairo_restore(cr);
}

Rgb sequential(double t) {
  // Close to ColorBrewer "Blues": light enough at 0 to be read as empty, dark enough at 1 for white text.
  static constexpr std::array<Rgb, 5> kStops{
      {{0.969, 0.984, 1.000}, {0.776, 0.859, 0.937}, {0.420, 0.682, 0.839}, {0.129, 0.443, 0.710},
       {0.031, 0.188, 0.420}}};
  return interpolate(kStops, t);
}

Rgb diverging(double t) {
  // ColorBrewer "RdBu" reversed so that positive is warm; white sits exactly at 0.
  static constexpr std::array<Rgb, 5> kStops{
      {{0.020, 0.188, 0.380}, {0.263, 0.576, 0.765}, {1.000, 1.000, 1.000}, {0.839, 0.376, 0.302},
       {0.404, 0.000, 0.122}}};
  return interpolate(kStops, (t + 1) / 2);
}

double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

void set_colour(cairo_t* cr, Rgb c, double alpha) { cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha); }

void fill_rect(cairo_t* cr, Rect r, Rgb c) {
  set_colour(cr, c);
  cairo_rectangle(cr, r.x, r.y, r.w, r.h);
  cairo_fill(cr);
}

Ticks nice_ticks(double lo, double hi, int target, bool integers_only) {
  Ticks ticks;
  if (!(hi > lo)) {
    ticks.values = {lo};
    return ticks;
  }
  for (int attempt = 0; attempt < 4 && ticks.values.size() < 2; ++attempt, target *= 2) {
    const double raw = (hi - lo) / std::max(target, 1);
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double norm = raw / magnitude;
    double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
    if (integers_only) step = std::max(step, 1.0);
    ticks.values.clear();
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; ++k) ticks.values.push_back(k * step);
    ticks.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  }
  return ticks;
}

std::string format_number(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  // "-0.00" reads as a bug on an axis.
  if (s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

Range padded_range(std::span<const double> values, double fraction) {
  if (values.empty()) return {0, 1};
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  double lo = *lo_it, hi = *hi_it;
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double half = std::max(std::abs(hi) * 0.1, 0.5);
    return {lo - half, hi + half};
  }
  const double pad = (hi - lo) * fraction;
  return {lo - pad, hi + pad};
}

Axes draw_axes(cairo_t* cr, Rect panel, Range x, Range y, const AxesLabels& labels) {
  constexpr double kPad = 10, kTickLen = 5, kGap = 6;
  const Font tick_font{kTickSize, false}, label_font{kLabelSize, false}, title_font{kLabelSize + 2, true};
  const Ticks xt = nice_ticks(x.lo, x.hi, 8, labels.integer_x);
  const Ticks yt = nice_ticks(y.lo, y.hi, 6);
  double y_tick_w = 0;
  for (double v : yt.values) y_tick_w = std::max(y_tick_w, text_width(cr, format_number(v, yt.decimals), tick_font));

  const double title_h = labels.title.empty() ? 0 : line_height(cr, title_font) + kGap;
  const double label_h = line_height(cr, label_font), tick_h = line_height(cr, tick_font);
  Axes axes{};
  axes.x = x;
  axes.y = y;
  const double left = kPad + (labels.y_label.empty() ? 0 : label_h + kGap) + y_tick_w + kTickLen + 3;
  const double bottom = kPad + (labels.x_label.empty() ? 0 : label_h + kGap) + tick_h + kTickLen + 3;
  // The right margin leaves room for half of a last x tick label centred on the frame.
  const double right = kPad + text_width(cr, format_number(x.hi, xt.decimals), tick_font) / 2;
  axes.area = {panel.x + left, panel.y + kPad + title_h, panel.w - left - right, panel.h - kPad - title_h - bottom};
  const Rect& a = axes.area;

  if (!labels.title.empty())
    draw_text(cr, labels.title, a.cx(), panel.y + kPad, title_font, HAlign::Center, VAlign::Top);

  cairo_set_line_width(cr, 1);
  set_colour(cr, kGrid);
  for (double v : xt.values) {
    cairo_move_to(cr, axes.px(v), a.y);
    cairo_line_to(cr, axes.px(v), a.bottom());
  }
  for (double v : yt.values) {
    cairo_move_to(cr, a.x, axes.py(v));
    cairo_line_to(cr, a.right(), axes.py(v));
  }
  cairo_stroke(cr);

  set_colour(cr, kFrame);
  cairo_rectangle(cr, a.x, a.y, a.w, a.h);
  for (double v : xt.values) {
    cairo_move_to(cr, axes.px(v), a.bottom());
    cairo_line_to(cr, axes.px(v), a.bottom() + kTickLen);
  }
  for (double v : yt.values) {
    cairo_move_to(cr, a.x, axes.py(v));
    cairo_line_to(cr, a.x - kTickLen, axes.py(v));
  }
  cairo_stroke(cr);
  for (double v : xt.values)
    draw_text(cr, format_number(v, xt.decimals), axes.px(v), a.bottom() + kTickLen + 3, tick_font, HAlign::Center,
              VAlign::Top);
  for (double v : yt.values)
    draw_text(cr, format_number(v, yt.decimals), a.x - kTickLen - 3, axes.py(v), tick_font, HAlign::Right,
              VAlign::Middle);

  if (!labels.x_label.empty())
    draw_text(cr, labels.x_label, a.cx(), panel.bottom() - kPad, label_font, HAlign::Center, VAlign::Bottom);
  if (!labels.y_label.empty())
    draw_text(cr, labels.y_label, panel.x + kPad, a.cy(), label_font, HAlign::Center, VAlign::Top, kText,
              -std::numbers::pi / 2);
  return axes;
}

namespace {

void marker_path(cairo_t* cr, Marker marker, double x, double y, double size) {
  if (marker == Marker::Circle) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, size, 0, 2 * std::numbers::pi);
  } else if (marker == Marker::Square) {
    cairo_rectangle(cr, x - size, y - size, 2 * size, 2 * size);
  }
}

void draw_marker(cairo_t* cr, Marker marker, double x, double y, Rgb colour) {
  if (marker == Marker::None) return;
  marker_path(cr, marker, x, y, 4.2);
  set_colour(cr, colour);
  cairo_fill_preserve(cr);
  set_colour(cr, {1, 1, 1});
  cairo_set_line_width(cr, 1.2);
  cairo_stroke(cr);
}

}  // namespace

void draw_series(cairo_t* cr, const Axes& axes, const Series& series) {
  cairo_save(cr);
  // Markers may stick out of the plot area by their radius; lines may not leave it at all.
  cairo_rectangle(cr, axes.area.x - 6, axes.area.y - 6, axes.area.w + 12, axes.area.h + 12);
  cairo_clip(cr);
  set_colour(cr, series.colour, series.alpha);
  cairo_set_line_width(cr, series.line_width);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (std::size_t i = 0; i < series.x.size(); ++i) {
    const double px = axes.px(series.x[i]), py = axes.py(series.y[i]);
    if (i == 0)
      cairo_move_to(cr, px, py);
    else
      cairo_line_to(cr, px, py);
  }
  cairo_stroke(cr);
  for (std::size_t i = 0; i < series.x.size(); ++i)
    draw_marker(cr, series.marker, axes.px(series.x[i]), axes.py(series.y[i]), series.colour);
  cairo_restore(cr);
}

void draw_legend(cairo_t* cr, const Axes& axes, std::span<const Series> series) {
  if (series.empty()) return;
  constexpr double kPad = 8, kSwatch = 30, kInset = 10;
  const Font font{kTickSize + 1, false};
  double label_w = 0;
  for (const Series& s : series) label_w = std::max(label_w, text_width(cr, s.label, font));
  const double row_h = line_height(cr, font) + 4;
  const double w = kPad * 3 + kSwatch + label_w, h = kPad * 2 + row_h * static_cast<double>(series.size());
  const Rect& a = axes.area;
  const std::array<Rect, 4> corners{{{a.right() - kInset - w, a.y + kInset, w, h},
                                     {a.right() - kInset - w, a.bottom() - kInset - h, w, h},
                                     {a.x + kInset, a.y + kInset, w, h},
                                     {a.x + kInset, a.bottom() - kInset - h, w, h}}};
  // Score each corner by how much of the data it would hide, sampling the lines every few pixels.
  auto covered = [&](const Rect& r) {
    int count = 0;
    for (const Series& s : series)
      for (std::size_t i = 0; i + 1 < s.x.size() || (i == 0 && s.x.size() == 1); ++i) {
        const double x0 = axes.px(s.x[i]), y0 = axes.py(s.y[i]);
        const double x1 = s.x.size() == 1 ? x0 : axes.px(s.x[i + 1]), y1 = s.x.size() == 1 ? y0 : axes.py(s.y[i + 1]);
        const int steps = std::max(1, static_cast<int>(std::hypot(x1 - x0, y1 - y0) / 3));
        for (int k = 0; k <= steps; ++k) {
          const double px = x0 + (x1 - x0) * k / steps, py = y0 + (y1 - y0) * k / steps;
          if (px > r.x - 6 && px < r.right() + 6 && py > r.y - 6 && py < r.bottom() + 6) ++count;
        }
      }
    return count;
  };
  Rect box = corners[0];
  int best = std::numeric_limits<int>::max();
  for (const Rect& r : corners)
    if (const int c = covered(r); c < best) {
      best = c;
      box = r;
    }

  cairo_rectangle(cr, box.x, box.y, box.w, box.h);
  set_colour(cr, {1, 1, 1}, 0.92);
  cairo_fill_preserve(cr);
  set_colour(cr, {0.8, 0.8, 0.8});
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const double cy = box.y + kPad + row_h * (static_cast<double>(i) + 0.5);
    set_colour(cr, s.colour, s.alpha);
    cairo_set_line_width(cr, s.line_width);
    cairo_move_to(cr, box.x + kPad, cy);
    cairo_line_to(cr, box.x + kPad + kSwatch, cy);
    cairo_stroke(cr);
    draw_marker(cr, s.marker, box.x + kPad + kSwatch / 2, cy, s.colour);
    draw_text(cr, s.label, box.x + kPad * 2 + kSwatch, cy, font, HAlign::Left, VAlign::Middle);
  }
}

uint32_t pack(Rgb c) {
  auto byte = [](double v) { return static_cast<uint32_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  return 0xFF000000u | byte(c.r) << 16 | byte(c.g) << 8 | byte(c.b);
}

void draw_image(cairo_t* cr, std::span<const uint32_t> pixels, int width, int height, Rect dest) {
  cairo_surface_t* image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(image) == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush(image);
    unsigned char* data = cairo_image_surface_get_data(image);
    const int stride = cairo_image_surface_get_stride(image);
    for (int r = 0; r < height; ++r)
      std::copy_n(pixels.data() + static_cast<std::size_t>(r) * width, width,
                  reinterpret_cast<uint32_t*>(data + static_cast<std::ptrdiff_t>(r) * stride));
    cairo_surface_mark_dirty(image);
    cairo_save(cr);
    cairo_rectangle(cr, dest.x, dest.y, dest.w, dest.h);
    cairo_clip(cr);
    cairo_translate(cr, dest.x, dest.y);
    cairo_scale(cr, dest.w / width, dest.h / height);
    cairo_set_source_surface(cr, image, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
  }
  // A failed image surface puts cr in an error state too, which Figure::save() reports.
  if (cairo_surface_status(image) != CAIRO_STATUS_SUCCESS) cairo_set_source_surface(cr, image, 0, 0);
  cairo_surface_destroy(image);
}

namespace {
constexpr double kBarTickLen = 4, kBarGap = 6;
}

double colorbar_extent(cairo_t* cr, Range range, const std::string& label) {
  const Font tick_font{kTickSize, false};
  const Ticks ticks = nice_ticks(range.lo, range.hi, 5);
  double w = 0;
  for (double v : ticks.values) w = std::max(w, text_width(cr, format_number(v, ticks.decimals), tick_font));
  return kBarTickLen + 3 + w + kBarGap + (label.empty() ? 0 : line_height(cr, {kLabelSize, false}));
}

void draw_colorbar(cairo_t* cr, Rect bar, const std::function<Rgb(double)>& map, Range range,
                   const std::string& label) {
  // One gradient rather than a strip per pixel keeps SVG and PDF files small; 64 stops follow any map closely.
  constexpr int kStops = 64;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bar.bottom(), 0, bar.y);
  for (int i = 0; i < kStops; ++i) {
    const double t = static_cast<double>(i) / (kStops - 1);
    const Rgb c = map(range.lo + t * (range.hi - range.lo));
    cairo_pattern_add_color_stop_rgb(gradient, t, c.r, c.g, c.b);
  }
  cairo_rectangle(cr, bar.x, bar.y, bar.w, bar.h);
  cairo_set_source(cr, gradient);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  set_colour(cr, kFrame);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, bar.x, bar.y, bar.w, bar.h);
  const Font tick_font{kTickSize, false};
  const Ticks ticks = nice_ticks(range.lo, range.hi, 5);
  double tick_w = 0;
  for (double v : ticks.values) {
    const double y = bar.bottom() - (v - range.lo) / (range.hi - range.lo) * bar.h;
    cairo_move_to(cr, bar.right(), y);
    cairo_line_to(cr, bar.right() + kBarTickLen, y);
    tick_w = std::max(tick_w, text_width(cr, format_number(v, ticks.decimals), tick_font));
  }
  set_colour(cr, kFrame);
  cairo_stroke(cr);
  for (double v : ticks.values) {
    const double y = bar.bottom() - (v - range.lo) / (range.hi - range.lo) * bar.h;
    draw_text(cr, format_number(v, ticks.decimals), bar.right() + kBarTickLen + 3, y, tick_font, HAlign::Left,
              VAlign::Middle);
  }
  if (!label.empty())
    draw_text(cr, label, bar.right() + kBarTickLen + 3 + tick_w + kBarGap, bar.cy(), {kLabelSize, false},
              HAlign::Center, VAlign::Bottom, kText, std::numbers::pi / 2);
}

Rect TileGrid::tile(int i) const {
  const int r = i / cols, c = i % cols;
  const Rect b = bounds();
  return {b.x + c * (tile_w + gap), b.y + r * (tile_h + gap), tile_w, tile_h};
}

Rect TileGrid::bounds() const {
  const double w = cols * tile_w + (cols - 1) * gap, h = rows * tile_h + (rows - 1) * gap;
  return {area.x + (area.w - w) / 2, area.y + (area.h - h) / 2, w, h};
}

TileGrid fit_tiles(Rect area, int rows, int cols, double tile_aspect, double gap, double extra_h) {
  TileGrid grid;
  grid.area = area;
  grid.rows = rows;
  grid.cols = cols;
  grid.gap = gap;
  const double max_w = (area.w - (cols - 1) * gap) / cols;
  const double max_h = (area.h - (rows - 1) * gap) / rows;
  // Each cell is the tile plus extra_h below it (a caption); the tile keeps its aspect.
  const double tile_h = std::max(0.0, std::min(max_w / tile_aspect, max_h - extra_h));
  grid.tile_w = tile_h * tile_aspect;
  grid.tile_h = tile_h + extra_h;
  return grid;
}

double title_height() {
  MeasureContext m;
  return 14 + line_height(m.cr(), {kTitleSize, true}) + 12;
}

double draw_title(cairo_t* cr, double width, const std::string& title) {
  // A long custom title on a narrow figure shrinks rather than losing its ends.
  Font font{kTitleSize, true};
  const double w = text_width(cr, title, font);
  if (w > width - 24) font.size = std::max(8.0, font.size * (width - 24) / w);
  draw_text(cr, title, width / 2, 14, font, HAlign::Center, VAlign::Top);
  return title_height();
}

void draw_no_data(Figure& figure, const std::string& title, const std::string& message) {
  cairo_t* cr = figure.cr();
  const double top = draw_title(cr, figure.width(), title);
  const Rect box{20, top, figure.width() - 40, figure.height() - top - 20};
  const double dashes[] = {6, 4};
  cairo_set_dash(cr, dashes, 2, 0);
  set_colour(cr, {0.75, 0.75, 0.75});
  cairo_set_line_width(cr, 1.5);
  cairo_rectangle(cr, box.x, box.y, box.w, box.h);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
  draw_text(cr, message, box.cx(), box.cy(), {kLabelSize + 4, false}, HAlign::Center, VAlign::Middle, kMutedText);
  figure.save();
}

void require_finite(std::span<const double> values, const char* what, const std::string& name) {
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw Error(std::string(what) + ": " + name + "[" + std::to_string(i) + "] is " + format_number(values[i], 3) +
                  "; only finite values can be drawn");
}

}  // namespace mt::viz::detail
