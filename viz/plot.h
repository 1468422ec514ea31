#pragma once
// The plotting core every figure of viz.h is drawn with: an output file (Figure), text, colour maps, "nice"
// ticks, axes with their data-to-pixel transform, legends, images, colour bars and grids of tiles.
// Internal to the viz module (and its tests); coordinates are in figure units, y pointing down.
#include <cairo.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tensor/file_io.h"
#include "viz/viz.h"

namespace mt::viz::detail {

struct Rgb {
  double r = 0, g = 0, b = 0;
};

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
  double cx() const { return x + w / 2; }
  double cy() const { return y + h / 2; }
};

// Palette shared by the figures so that they look like one family.
inline constexpr Rgb kText{0.13, 0.13, 0.13};
inline constexpr Rgb kMutedText{0.40, 0.40, 0.40};
inline constexpr Rgb kGrid{0.90, 0.90, 0.90};
inline constexpr Rgb kFrame{0.35, 0.35, 0.35};
inline constexpr Rgb kSeparator{0.55, 0.55, 0.55};
inline constexpr Rgb kBlue{0.12, 0.47, 0.71};
inline constexpr Rgb kOrange{1.00, 0.50, 0.05};
inline constexpr Rgb kRight{0.10, 0.58, 0.20};
inline constexpr Rgb kWrong{0.84, 0.15, 0.15};

inline constexpr double kTitleSize = 18;
inline constexpr double kLabelSize = 14;
inline constexpr double kTickSize = 12;

// One output file. Draw on cr() in figure units (width() x height()), then save(); cairo writes through a
// stream into an mt::AtomicFile next to `path` that save() commits (every write and cairo's status checked),
// and the destructor deletes it when save() never ran or failed.
class Figure {
 public:
  Figure(const std::string& path, const FigureOptions& options, double default_width, double default_height);
  ~Figure();
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  cairo_t* cr() const { return cr_; }
  double width() const { return width_; }
  double height() const { return height_; }
  void save();

 private:
  enum class Format { Png, Svg, Pdf };
  void release();
  static cairo_status_t write_chunk(void* closure, const unsigned char* data, unsigned int length);

  std::string path_;
  std::optional<AtomicFile> file_;
  std::string write_error_;  // the first failed write's message
  Format format_ = Format::Png;
  double width_ = 0, height_ = 0;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

// Sizes resolved the way Figure does (0 -> default), for layouts that tests recompute.
double resolved_width(const FigureOptions& options, double default_width);
double resolved_height(const FigureOptions& options, double default_height);

// Text. The toy API is enough here: labels are short and single-line.
struct Font {
  double size = kLabelSize;
  bool bold = false;
};
enum class HAlign { Left, Center, Right };
enum class VAlign { Top, Middle, Baseline, Bottom };
double text_width(cairo_t* cr, const std::string& text, Font font);
double line_height(cairo_t* cr, Font font);  // ascent + descent
void draw_text(cairo_t* cr, const std::string& text, double x, double y, Font font, HAlign h, VAlign v,
               Rgb colour = kText, double angle = 0);
// Measuring needs a cairo context even when nothing is drawn yet (layouts are computed before the Figure).
class MeasureContext {
 public:
  MeasureContext();
  ~MeasureContext();
  MeasureContext(const MeasureContext&) = delete;
  MeasureContext& operator=(const MeasureContext&) = delete;
  cairo_t* cr() const { return cr_; }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// Colour maps.
Rgb sequential(double t);  // t in [0, 1]: white -> dark blue
Rgb diverging(double t);   // t in [-1, 1]: blue -> white -> red
double luminance(Rgb c);   // relative luminance in [0, 1], to pick readable text over a colour
void set_colour(cairo_t* cr, Rgb c, double alpha = 1);
void fill_rect(cairo_t* cr, Rect r, Rgb c);

// Ticks at 1, 2 or 5 x 10^k inside [lo, hi], about `target` of them (at least two).
struct Ticks {
  std::vector<double> values;
  int decimals = 0;
};
Ticks nice_ticks(double lo, double hi, int target, bool integers_only = false);
std::string format_number(double value, int decimals);

// A data range widened so that markers and lines do not touch the frame; a single value gets a unit-ish span.
struct Range {
  double lo = 0, hi = 1;
};
Range padded_range(std::span<const double> values, double fraction);

// A plot area with its data ranges. px/py map data to figure coordinates.
struct Axes {
  Rect area;
  Range x, y;
  double px(double v) const { return area.x + (v - x.lo) / (x.hi - x.lo) * area.w; }
  double py(double v) const { return area.bottom() - (v - y.lo) / (y.hi - y.lo) * area.h; }
};
struct AxesLabels {
  std::string title, x_label, y_label;
  bool integer_x = false;
};
// Draws title, grid, frame, ticks and axis titles inside `panel`, and returns the plot area for the data.
Axes draw_axes(cairo_t* cr, Rect panel, Range x, Range y, const AxesLabels& labels);

enum class Marker { None, Circle, Square };
struct Series {
  std::string label;
  std::vector<double> x, y;
  Rgb colour;
  Marker marker = Marker::Circle;
  double line_width = 2;
  double alpha = 1;
};
void draw_series(cairo_t* cr, const Axes& axes, const Series& series);
// A legend in whichever corner of the plot area covers the fewest data points.
void draw_legend(cairo_t* cr, const Axes& axes, std::span<const Series> series);

// An image given as 0xRRGGBB pixels, scaled without smoothing so that each pixel stays a sharp square.
void draw_image(cairo_t* cr, std::span<const uint32_t> pixels, int width, int height, Rect dest);
uint32_t pack(Rgb c);

// A vertical colour bar for data values in `range`, map(value) giving the colour, with nice ticks on its right
// and a rotated label beyond them.
void draw_colorbar(cairo_t* cr, Rect bar, const std::function<Rgb(double)>& map, Range range,
                   const std::string& label);
double colorbar_extent(cairo_t* cr, Range range, const std::string& label);  // width right of the bar

// rows x cols equal tiles filling `area` (centred), `gap` apart; tile(i) counts row by row.
struct TileGrid {
  Rect area;
  int rows = 1, cols = 1;
  double tile_w = 0, tile_h = 0, gap = 0;
  Rect tile(int i) const;
  Rect bounds() const;  // the tiles and the gaps between them
};
// Fits rows x cols tiles of aspect tile_aspect (w / h, plus extra_h below each tile) into `area`.
TileGrid fit_tiles(Rect area, int rows, int cols, double tile_aspect, double gap, double extra_h = 0);

// Title at the top of a figure; returns the y where the content may start.
double draw_title(cairo_t* cr, double width, const std::string& title);
double title_height();
// A figure that says why there is nothing to draw.
void draw_no_data(Figure& figure, const std::string& title, const std::string& message);

// Throws mt::Error "<what>: <name>[i] is not finite" for the first NaN or infinity.
void require_finite(std::span<const double> values, const char* what, const std::string& name);

}  // namespace mt::viz::detail
