// viz figures checked by their pixels: sizes, cell and tile colours where the layouts say they are, caption
// colours, well-formed SVG/PDF files, and bad input that must throw without leaving a file behind.
// Set MT_VIZ_OUT=<dir> to keep the figures for a look.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cairo.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "viz/layout.h"
#include "viz/plot.h"
#include "viz/viz.h"

namespace mt::viz {
namespace {

namespace fs = std::filesystem;
using detail::Rect;
using detail::Rgb;

class Png {
 public:
  explicit Png(const fs::path& path) : surface_(cairo_image_surface_create_from_png(path.c_str())) {}
  ~Png() { cairo_surface_destroy(surface_); }
  Png(const Png&) = delete;
  Png& operator=(const Png&) = delete;
  bool ok() const { return cairo_surface_status(surface_) == CAIRO_STATUS_SUCCESS; }
  int width() const { return cairo_image_surface_get_width(surface_); }
  int height() const { return cairo_image_surface_get_height(surface_); }
  Rgb at(double x, double y) const {
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const int stride = cairo_image_surface_get_stride(surface_);
    const uint32_t p = *reinterpret_cast<const uint32_t*>(data + static_cast<int>(y) * stride + static_cast<int>(x) * 4);
    return {((p >> 16) & 0xFF) / 255.0, ((p >> 8) & 0xFF) / 255.0, (p & 0xFF) / 255.0};
  }
  // Counts the pixels of `r` for which pred(colour) holds.
  template <class Pred>
  int count(Rect r, Pred pred) const {
    int n = 0;
    for (int y = static_cast<int>(r.y); y < static_cast<int>(r.bottom()) && y < height(); ++y)
      for (int x = static_cast<int>(r.x); x < static_cast<int>(r.right()) && x < width(); ++x)
        if (pred(at(x, y))) ++n;
    return n;
  }
  Rect all() const { return {0, 0, static_cast<double>(width()), static_cast<double>(height())}; }

 private:
  cairo_surface_t* surface_;
};

void expect_colour(Rgb got, Rgb want, const std::string& where) {
  constexpr double kTol = 2.5 / 255;
  EXPECT_NEAR(got.r, want.r, kTol) << where;
  EXPECT_NEAR(got.g, want.g, kTol) << where;
  EXPECT_NEAR(got.b, want.b, kTol) << where;
}

// Hue tests loose enough for anti-aliased text, strict enough to tell the caption colours and the series apart.
bool greenish(Rgb c) { return c.g > c.r + 0.2 && c.g > c.b + 0.15; }
bool reddish(Rgb c) { return c.r > c.g + 0.25 && c.r > c.b + 0.2; }
bool blueish(Rgb c) { return c.b > c.r + 0.3 && c.b > c.g + 0.1; }
bool orangeish(Rgb c) { return c.r > 0.8 && c.g > 0.35 && c.g < 0.75 && c.b < 0.35; }
bool near_white(Rgb c) { return c.r > 0.9 && c.g > 0.9 && c.b > 0.9; }
bool dark(Rgb c) { return detail::luminance(c) < 0.35; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class VizTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* keep = std::getenv("MT_VIZ_OUT")) {
      dir_ = keep;
      keep_ = true;
    } else {
      dir_ = fs::temp_directory_path() /
             ("mt_viz_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
              std::to_string(getpid()));
    }
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!keep_) fs::remove_all(dir_);
  }
  std::string out(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  bool keep_ = false;
};

History five_epochs() {
  return {{0.45, 0.34, 0.30, 0.27, 0.25},
          {0.40, 0.33, 0.31, 0.29, 0.285},
          {0.84, 0.875, 0.89, 0.90, 0.91},
          {0.855, 0.88, 0.887, 0.893, 0.898}};
}

std::vector<std::vector<int64_t>> three_classes() { return {{50, 3, 0}, {4, 30, 1}, {0, 2, 12}}; }

// Sample 0 is white in its left half and right (label 1 predicted 1); sample 1 is black and wrong (2 vs 5).
struct TwoSamples {
  std::vector<uint8_t> images = std::vector<uint8_t>(2 * 784, 0);
  std::vector<int64_t> truth{1, 2}, predicted{1, 5};
  TwoSamples() {
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 14; ++x) images[y * 28 + x] = 255;
  }
};

// Unit 0: +1 on the left half, -2 on the right; unit 1: all zeros.
Tensor split_weights() {
  std::vector<float> w(2 * 784, 0);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) w[y * 28 + x] = x < 14 ? 1.0f : -2.0f;
  return Tensor::from_vector(std::span<const float>(w), {2, 784});
}

TEST(VizCore, NiceTicksAreOneTwoFiveTimesPowersOfTen) {
  const detail::Ticks t = detail::nice_ticks(0.835, 0.915, 6);
  ASSERT_GE(t.values.size(), 2u);
  const double step = t.values[1] - t.values[0];
  EXPECT_NEAR(step, 0.01, 1e-12);
  EXPECT_EQ(t.decimals, 2);
  EXPECT_NEAR(t.values.front(), 0.84, 1e-12);
  EXPECT_NEAR(t.values.back(), 0.91, 1e-12);
  EXPECT_NEAR(detail::nice_ticks(0, 0.45, 6).values[1], 0.1, 1e-12);
  EXPECT_NEAR(detail::nice_ticks(0, 14, 6).values[1], 2, 1e-12);
  EXPECT_NEAR(detail::nice_ticks(0, 3e4, 6).values[1], 5000, 1e-9);
  const detail::Ticks big = detail::nice_ticks(0, 990, 5);
  EXPECT_EQ(big.values, (std::vector<double>{0, 200, 400, 600, 800}));
  EXPECT_EQ(big.decimals, 0);
  const detail::Ticks epochs = detail::nice_ticks(0.8, 3.2, 8, true);
  EXPECT_EQ(epochs.values, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(detail::format_number(-0.0001, 2), "0.00");
  EXPECT_EQ(detail::format_number(0.25, 2), "0.25");
}

TEST(VizCore, ColourMapsHaveTheirAnchors) {
  expect_colour(detail::diverging(0), {1, 1, 1}, "diverging(0) is white");
  EXPECT_TRUE(reddish(detail::diverging(1)));
  EXPECT_TRUE(blueish(detail::diverging(-1)));
  EXPECT_GT(detail::luminance(detail::sequential(0)), 0.95);
  EXPECT_LT(detail::luminance(detail::sequential(1)), 0.25);
  for (double t = 0; t < 1; t += 0.1)
    EXPECT_GT(detail::luminance(detail::sequential(t)), detail::luminance(detail::sequential(t + 0.1)));
}

TEST_F(VizTest, LearningCurvesHaveTheRequestedSizeAndBothSeries) {
  plot_learning_curves(five_epochs(), out("curves.png"));
  const Png png(out("curves.png"));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 1200);
  EXPECT_EQ(png.height(), 500);
  const Rect left{0, 0, 600, 500}, right{600, 0, 600, 500};
  EXPECT_GT(png.count(left, blueish), 200);
  EXPECT_GT(png.count(left, orangeish), 200);
  EXPECT_GT(png.count(right, blueish), 200);
  EXPECT_GT(png.count(right, orangeish), 200);

  CurvesOptions options;
  options.figure.scale = 2;
  History train_only = five_epochs();
  train_only.val_loss.clear();
  train_only.val_acc.clear();
  plot_learning_curves(train_only, out("curves2x.png"), options);
  const Png png2(out("curves2x.png"));
  ASSERT_TRUE(png2.ok());
  EXPECT_EQ(png2.width(), 2400);
  EXPECT_EQ(png2.height(), 1000);
  EXPECT_GT(png2.count(png2.all(), blueish), 800);
  EXPECT_EQ(png2.count(png2.all(), orangeish), 0) << "no validation data, so no validation line";
}

TEST_F(VizTest, StepLossDrawsAndValidatesSmoothing) {
  std::vector<double> losses;
  for (int i = 0; i < 500; ++i) losses.push_back(2.0 * std::exp(-i / 80.0) + 0.1 * std::sin(i));
  plot_step_loss(losses, out("steps.png"));
  const Png png(out("steps.png"));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 1000);
  EXPECT_EQ(png.height(), 450);
  EXPECT_GT(png.count(png.all(), blueish), 300);
  StepLossOptions bad;
  bad.smoothing = 1;
  EXPECT_THROW(plot_step_loss(losses, out("bad.png"), bad), Error);
}

TEST_F(VizTest, ConfusionCellsShowTheirCountsColours) {
  ConfusionOptions options;
  options.class_names = {"cat", "dog", "bird"};
  plot_confusion_matrix(three_classes(), out("confusion.png"), options);
  const Png png(out("confusion.png"));
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png.width(), 960);
  EXPECT_EQ(png.height(), 800);

  const detail::ConfusionLayout layout = detail::confusion_layout(options.class_names, 50, options.figure);
  // The count sits at the centre of a cell, so the fill colour is read just above it.
  auto fill_of = [&](int t, int p) {
    const Rect cell = layout.cells.tile(t * 3 + p);
    return png.at(cell.cx(), cell.y + cell.h * 0.2);
  };
  expect_colour(fill_of(0, 0), detail::sequential(1), "darkest cell (50)");
  expect_colour(fill_of(0, 2), detail::sequential(0), "lightest cell (0)");
  expect_colour(fill_of(1, 1), detail::sequential(30.0 / 50), "cell of 30");
  // Text contrast: white digits on the dark cell, dark digits on a light one.
  const Rect darkest = layout.cells.tile(0), light = layout.cells.tile(1);
  const Rect centre_of_dark{darkest.cx() - 15, darkest.cy() - 8, 30, 16};
  const Rect centre_of_light{light.cx() - 15, light.cy() - 8, 30, 16};
  EXPECT_GT(png.count(centre_of_dark, near_white), 5);
  EXPECT_GT(png.count(centre_of_light, dark), 5);
  // Colour bar: dark at the top, light at the bottom.
  EXPECT_LT(detail::luminance(png.at(layout.colorbar.cx(), layout.colorbar.y + 3)), 0.3);
  EXPECT_GT(detail::luminance(png.at(layout.colorbar.cx(), layout.colorbar.bottom() - 3)), 0.9);
}

TEST_F(VizTest, TenByTenConfusionWithLongNamesFits) {
  std::vector<std::vector<int64_t>> counts(10, std::vector<int64_t>(10, 3));
  for (int i = 0; i < 10; ++i) counts[i][i] = 950;
  ConfusionOptions options;
  options.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  plot_confusion_matrix(counts, out("fashion_confusion.png"), options);
  const Png png(out("fashion_confusion.png"));
  ASSERT_TRUE(png.ok());
  const detail::ConfusionLayout layout = detail::confusion_layout(options.class_names, 950, options.figure);
  EXPECT_TRUE(layout.rotate_x_labels);
  const Rect matrix = layout.cells.bounds();
  EXPECT_GT(matrix.x, 100) << "room for the row names";
  EXPECT_LT(layout.colorbar.right() + 40, png.width());
  EXPECT_GT(layout.cells.tile_w, 40);
}

TEST_F(VizTest, SamplePredictionsCaptionsAreGreenWhenRightAndRedWhenWrong) {
  const TwoSamples s;
  SamplesOptions options;
  options.rows = 1;
  options.cols = 2;
  plot_sample_predictions(s.images, s.truth, s.predicted, out("samples.png"), options);
  const Png png(out("samples.png"));
  ASSERT_TRUE(png.ok());
  const detail::SamplesLayout layout =
      detail::samples_layout({{"true 1", "pred 1"}, {"true 2", "pred 5"}}, options);
  EXPECT_EQ(png.width(), static_cast<int>(std::ceil(layout.width)));
  auto caption = [&](int i) {
    const Rect cell = layout.cells.tile(i), image = layout.image(i);
    return Rect{cell.x - 6, image.bottom() + 1, cell.w + 12, cell.bottom() - image.bottom()};
  };
  EXPECT_GT(png.count(caption(0), greenish), 20);
  EXPECT_EQ(png.count(caption(0), reddish), 0);
  EXPECT_GT(png.count(caption(1), reddish), 20);
  EXPECT_EQ(png.count(caption(1), greenish), 0);
  // The image itself: white left half, black right half for sample 0, all black for sample 1.
  const Rect img0 = layout.image(0), img1 = layout.image(1);
  expect_colour(png.at(img0.x + img0.w * 0.25, img0.cy()), {1, 1, 1}, "white half of sample 0");
  expect_colour(png.at(img0.x + img0.w * 0.75, img0.cy()), {0, 0, 0}, "black half of sample 0");
  expect_colour(png.at(img1.cx(), img1.cy()), {0, 0, 0}, "sample 1");
}

TEST_F(VizTest, OnlyMistakesKeepsTheWrongOnes) {
  const TwoSamples s;
  std::vector<float> images(s.images.begin(), s.images.end());
  for (float& v : images) v /= 255;
  SamplesOptions options;
  options.only_mistakes = true;
  options.class_names = {"zero", "one", "two", "three", "four", "five"};
  plot_sample_predictions(images, s.truth, s.predicted, out("mistakes.png"), options);
  const Png png(out("mistakes.png"));
  ASSERT_TRUE(png.ok());
  EXPECT_GT(png.count(png.all(), reddish), 20);
  EXPECT_EQ(png.count(png.all(), greenish), 0);
  const detail::SamplesLayout layout = detail::samples_layout({{"true two", "pred five"}}, options);
  expect_colour(png.at(layout.image(0).cx(), layout.image(0).cy()), {0, 0, 0}, "the wrong sample is the black one");

  // No mistakes at all gives a "no data" figure rather than an error.
  const std::vector<int64_t> same{1, 2};
  plot_sample_predictions(images, s.truth, same, out("no_mistakes.png"), options);
  const Png none(out("no_mistakes.png"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none.count(none.all(), reddish), 0);
}

TEST_F(VizTest, WeightTilesShowTheSignPattern) {
  plot_first_layer_weights(split_weights(), out("weights.png"));
  const Png png(out("weights.png"));
  ASSERT_TRUE(png.ok());
  WeightsOptions options;
  const detail::WeightsLayout layout = detail::weights_layout(2, options);
  EXPECT_EQ(png.width(), static_cast<int>(std::ceil(layout.width)));
  EXPECT_EQ(png.height(), static_cast<int>(std::ceil(layout.height)));
  const Rect t0 = layout.tiles.tile(0), t1 = layout.tiles.tile(1);
  // Normalised by max |w| = 2: the left half is +0.5 (light red), the right half -1 (darkest blue).
  expect_colour(png.at(t0.x + t0.w * 0.25, t0.cy()), detail::diverging(0.5), "positive half");
  expect_colour(png.at(t0.x + t0.w * 0.75, t0.cy()), detail::diverging(-1), "negative half");
  EXPECT_TRUE(reddish(png.at(t0.x + t0.w * 0.25, t0.cy())));
  EXPECT_TRUE(blueish(png.at(t0.x + t0.w * 0.75, t0.cy())));
  expect_colour(png.at(t1.cx(), t1.cy()), {1, 1, 1}, "an all-zero unit is white");
  // The separator between the two tiles is grey, neither white nor a map colour.
  const Rgb gap = png.at((t0.right() + t1.x) / 2, t0.cy());
  EXPECT_NEAR(gap.r, detail::kSeparator.r, 0.05);

  // The same weights as a float64 [784, units] tensor, passed transposed.
  const Tensor pixels_by_units = split_weights().to(DType::Float64).t().contiguous();
  plot_first_layer_weights(pixels_by_units.t(), out("weights_t.png"));
  const Png png_t(out("weights_t.png"));
  ASSERT_TRUE(png_t.ok());
  expect_colour(png_t.at(t0.x + t0.w * 0.75, t0.cy()), detail::diverging(-1), "negative half, transposed input");
  EXPECT_THROW(plot_first_layer_weights(pixels_by_units, out("wrong.png")), Error);
}

TEST_F(VizTest, SvgAndPdfAreWellFormed) {
  const TwoSamples s;
  for (const std::string ext : {"svg", "pdf"}) {
    const std::vector<std::string> files{"curves." + ext, "steps." + ext, "confusion." + ext, "samples." + ext,
                                         "weights." + ext};
    plot_learning_curves(five_epochs(), out(files[0]));
    plot_step_loss(std::vector<double>{1.0, 0.8, 0.7, 0.65}, out(files[1]));
    plot_confusion_matrix(three_classes(), out(files[2]));
    plot_sample_predictions(s.images, s.truth, s.predicted, out(files[3]));
    plot_first_layer_weights(split_weights(), out(files[4]));
    for (const std::string& f : files) {
      const std::string text = read_file(out(f));
      ASSERT_GT(text.size(), 500u) << f;
      if (ext == "svg") {
        EXPECT_EQ(text.rfind("<?xml", 0), 0u) << f;
        EXPECT_NE(text.find("<svg"), std::string::npos) << f;
        EXPECT_NE(text.find("</svg>"), std::string::npos) << f;
      } else {
        EXPECT_EQ(text.rfind("%PDF-", 0), 0u) << f;
        EXPECT_NE(text.find("%%EOF", text.size() - 32), std::string::npos) << f;
      }
      EXPECT_FALSE(fs::exists(out(f) + ".part")) << f;
    }
  }
}

TEST_F(VizTest, EmptyInputGivesANoDataFigure) {
  plot_learning_curves({}, out("empty_curves.png"));
  plot_step_loss({}, out("empty_steps.png"));
  plot_confusion_matrix({}, out("empty_confusion.png"));
  plot_sample_predictions(std::span<const float>{}, {}, {}, out("empty_samples.png"));
  plot_first_layer_weights(Tensor::zeros({0, 784}), out("empty_weights.pdf"));
  for (const char* f : {"empty_curves.png", "empty_steps.png", "empty_confusion.png", "empty_samples.png"}) {
    const Png png(out(f));
    ASSERT_TRUE(png.ok()) << f;
    EXPECT_GT(png.width(), 300) << f;
    EXPECT_GT(png.height(), 150) << f;
    EXPECT_GT(png.count(png.all(), dark), 50) << f << " has a readable message";
  }
  EXPECT_EQ(read_file(out("empty_weights.pdf")).rfind("%PDF-", 0), 0u);
}

TEST_F(VizTest, BadInputThrowsAndLeavesNoFile) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  History h = five_epochs();
  h.val_loss[2] = nan;
  EXPECT_THROW(plot_learning_curves(h, out("a.png")), Error);
  h = five_epochs();
  h.val_acc.pop_back();
  EXPECT_THROW(plot_learning_curves(h, out("a.png")), Error);
  EXPECT_THROW(plot_step_loss(std::vector<double>{1, nan}, out("a.png")), Error);

  EXPECT_THROW(plot_confusion_matrix({{1, 2}, {3}}, out("a.png")), Error);
  EXPECT_THROW(plot_confusion_matrix({{1, -2}, {3, 4}}, out("a.png")), Error);
  ConfusionOptions names;
  names.class_names = {"only one"};
  EXPECT_THROW(plot_confusion_matrix({{1, 2}, {3, 4}}, out("a.png"), names), Error);

  const TwoSamples s;
  EXPECT_THROW(plot_sample_predictions(std::span<const uint8_t>(s.images).first(700), s.truth, s.predicted,
                                       out("a.png")),
               Error);
  EXPECT_THROW(plot_sample_predictions(s.images, s.truth, std::vector<int64_t>{1}, out("a.png")), Error);
  EXPECT_THROW(plot_sample_predictions(s.images, s.truth, std::vector<int64_t>{1, -3}, out("a.png")), Error);
  SamplesOptions few;
  few.class_names = {"a", "b", "c"};
  EXPECT_THROW(plot_sample_predictions(s.images, s.truth, s.predicted, out("a.png"), few), Error);
  std::vector<float> nan_images(2 * 784, 0.5f);
  nan_images[100] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(plot_sample_predictions(nan_images, s.truth, s.predicted, out("a.png")), Error);

  EXPECT_THROW(plot_first_layer_weights(Tensor::zeros({4, 100}), out("a.png")), Error);
  EXPECT_THROW(plot_first_layer_weights(Tensor::zeros({784}), out("a.png")), Error);
  EXPECT_THROW(plot_first_layer_weights(Tensor(), out("a.png")), Error);
  const Tensor nan_weights = Tensor::zeros({2, 784}, DType::Float64);
  nan_weights.narrow(0, 1, 1).narrow(1, 5, 1).fill_(nan);
  EXPECT_THROW(plot_first_layer_weights(nan_weights, out("a.png")), Error);

  EXPECT_THROW(plot_learning_curves(five_epochs(), out("a.jpg")), Error);
  CurvesOptions tiny;
  tiny.figure.scale = 0;
  EXPECT_THROW(plot_learning_curves(five_epochs(), out("a.png"), tiny), Error);
  EXPECT_FALSE(fs::exists(out("a.png")));
  EXPECT_FALSE(fs::exists(out("a.png.part")));
}

TEST_F(VizTest, UnwritablePathThrowsForEveryFormat) {
  for (const char* ext : {".png", ".svg", ".pdf"}) {
    const std::string path = out("no/such/dir/curves") + ext;
    try {
      plot_learning_curves(five_epochs(), path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot write"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(path));
  }
  // A directory where the file should go: cairo can open nothing there either.
  fs::create_directories(out("taken.png"));
  EXPECT_THROW(plot_confusion_matrix(three_classes(), out("taken.png")), Error);
  EXPECT_TRUE(fs::is_directory(out("taken.png")));
}

TEST_F(VizTest, AFailedWriteIsAnErrorNamingTheFileAndLeavesNoFile) {
  // Writes beyond 1000 bytes fail with EFBIG, as on a full disk (root included); SIGXFSZ ignored so that
  // write() reports it.
  rlimit saved{};
  getrlimit(RLIMIT_FSIZE, &saved);
  const auto previous = std::signal(SIGXFSZ, SIG_IGN);
  for (const char* ext : {".png", ".svg", ".pdf"}) {
    const std::string path = out(std::string("full") + ext);
    std::string message;
    rlimit limit = saved;
    limit.rlim_cur = 1000;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
    try {
      plot_learning_curves(five_epochs(), path);
    } catch (const Error& e) {
      message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    EXPECT_NE(message.find(path + ": cannot write: File too large"), std::string::npos) << ext << ": " << message;
    EXPECT_FALSE(fs::exists(path));
  }
  std::signal(SIGXFSZ, previous);
  for (const auto& e : fs::directory_iterator(out("")))
    EXPECT_EQ(e.path().filename().string().find(".full"), std::string::npos) << "left behind: " << e.path();
}

}  // namespace
}  // namespace mt::viz
