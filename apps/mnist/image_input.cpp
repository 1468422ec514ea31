#include "apps/mnist/image_input.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace mnist_app {
namespace {

constexpr int kSide = 28, kBox = 20;

// The PNG signature and, right after it, the IHDR chunk: length 13, type, width and height (big-endian).
constexpr unsigned char kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr size_t kPngHeaderBytes = 8 + 4 + 4 + 4 + 4;

uint32_t big_endian(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Refuses what is not a PNG, or one larger than the documented limits, from its first 24 bytes: decoding
// costs about 12 bytes a pixel, so the header, not the decoder, decides what an input may cost.
void check_png_header(const unsigned char (&header)[kPngHeaderBytes], size_t got, const std::string& path) {
  if (got < sizeof kPngSignature || !std::equal(kPngSignature, kPngSignature + 8, header))
    throw mt::Error(path + ": not a PNG (it does not start with the PNG signature)");
  if (got < kPngHeaderBytes || big_endian(header + 8) != 13 || std::memcmp(header + 12, "IHDR", 4) != 0)
    throw mt::Error(path + ": corrupt PNG (no image header after the signature)");
  const uint32_t width = big_endian(header + 16), height = big_endian(header + 20);
  if (width == 0 || height == 0) throw mt::Error(path + ": corrupt PNG (the header says " + std::to_string(width) + "x" + std::to_string(height) + ")");
  if (width > kMaxPngSide || height > kMaxPngSide || uint64_t{width} * height > kMaxPngPixels)
    throw mt::Error(path + ": the image is " + std::to_string(width) + "x" + std::to_string(height) +
                    ", larger than predict reads (at most " + std::to_string(kMaxPngSide) + " pixels a side and " +
                    std::to_string(kMaxPngPixels / 1000000) + " million pixels)");
}

// cairo reads the file through this: first the header bytes already read, then the rest.
struct PngStream {
  mt::InputFile& file;
  const unsigned char* prefix;  // the bytes already read
  size_t prefix_size, prefix_used = 0;
};

cairo_status_t read_png_stream(void* closure, unsigned char* data, unsigned int length) {
  auto* in = static_cast<PngStream*>(closure);
  const size_t from_prefix = std::min<size_t>(length, in->prefix_size - in->prefix_used);
  std::memcpy(data, in->prefix + in->prefix_used, from_prefix);
  in->prefix_used += from_prefix;
  try {
    if (in->file.read(data + from_prefix, length - from_prefix) < length - from_prefix) return CAIRO_STATUS_READ_ERROR;
  } catch (const mt::Error&) {
    return CAIRO_STATUS_READ_ERROR;
  }
  return CAIRO_STATUS_SUCCESS;
}

// Luminance in [0, 1] of every pixel, alpha-composited over white as image viewers show it.
std::vector<float> read_grey(const std::string& path, int& width, int& height) {
  mt::InputFile file(path, path);
  unsigned char header[kPngHeaderBytes] = {};
  check_png_header(header, file.read(header, sizeof header), path);
  PngStream stream{file, header, sizeof header};
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create_from_png_stream(read_png_stream, &stream), cairo_surface_destroy);
  // The size is known to be small: cairo's "out of memory" here means data it could not decode.
  if (const cairo_status_t status = cairo_surface_status(surface.get()); status != CAIRO_STATUS_SUCCESS)
    throw mt::Error(path + ": corrupt PNG (" +
                    (status == CAIRO_STATUS_READ_ERROR ? std::string("it ends early") : "cannot decode it") + ")");
  width = cairo_image_surface_get_width(surface.get());
  height = cairo_image_surface_get_height(surface.get());
  if (width < kSide || height < kSide)
    throw mt::Error(path + ": the image is " + std::to_string(width) + "x" + std::to_string(height) +
                    ", smaller than 28x28");
  // Draw onto a known RGB24 surface so every input format (grey, palette, alpha) arrives the same way.
  width = cairo_image_surface_get_width(surface.get());
  height = cairo_image_surface_get_height(surface.get());
  if (width < kSide || height < kSide)
    throw mt::Error(path + ": the image is " + std::to_string(width) + "x" + std::to_string(height) +
                    ", smaller than 28x28");
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> rgb(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height), cairo_surface_destroy);
  cairo_t* cr = cairo_create(rgb.get());
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_surface(cr, surface.get(), 0, 0);
  cairo_paint(cr);
  cairo_destroy(cr);
  cairo_surface_flush(rgb.get());
  const unsigned char* data = cairo_image_surface_get_data(rgb.get());
  const int stride = cairo_image_surface_get_stride(rgb.get());
  std::vector<float> grey(static_cast<size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<size_t>(y) * stride);
    for (int x = 0; x < width; ++x) {
      const uint32_t p = row[x];
      const float r = static_cast<float>((p >> 16) & 0xff), g = static_cast<float>((p >> 8) & 0xff),
                  b = static_cast<float>(p & 0xff);
      grey[static_cast<size_t>(y) * width + x] = (0.299f * r + 0.587f * g + 0.114f * b) / 255.0f;
    }
  }
  return grey;
}

// Bilinear sample of `img` at (x, y), zero outside.
float sample(const std::vector<float>& img, int width, int height, float x, float y) {
  const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
  const float fx = x - static_cast<float>(x0), fy = y - static_cast<float>(y0);
  auto at = [&](int xi, int yi) {
    return xi < 0 || yi < 0 || xi >= width || yi >= height ? 0.0f : img[static_cast<size_t>(yi) * width + xi];
  };
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
}

}  // namespace

std::vector<float> load_digit_png(const std::string& path) {
  int width = 0, height = 0;
  std::vector<float> ink = read_grey(path, width, height);
  // MNIST digits are light on dark; judge the background by the border and invert a light one.
  double border = 0;
  for (int x = 0; x < width; ++x) border += ink[x] + ink[static_cast<size_t>(height - 1) * width + x];
  for (int y = 0; y < height; ++y) border += ink[static_cast<size_t>(y) * width] + ink[static_cast<size_t>(y) * width + width - 1];
  if (border / (2.0 * (width + height)) > 0.5)
    for (float& v : ink) v = 1 - v;

  // Bounding box of the ink.
  int left = width, right = -1, top = height, bottom = -1;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      if (ink[static_cast<size_t>(y) * width + x] > 0.1f) {
        left = std::min(left, x), right = std::max(right, x);
        top = std::min(top, y), bottom = std::max(bottom, y);
      }
  if (right < 0) throw mt::Error(path + ": the image is blank: no digit found");

  // Scale the box to fit 20x20, averaging over each target pixel's footprint when shrinking.
  const float box_w = static_cast<float>(right - left + 1), box_h = static_cast<float>(bottom - top + 1);
  const float scale = static_cast<float>(kBox) / std::max(box_w, box_h);
  const int out_w = std::max(1, static_cast<int>(std::lround(box_w * scale)));
  const int out_h = std::max(1, static_cast<int>(std::lround(box_h * scale)));
  const int taps = std::max(1, static_cast<int>(std::ceil(1 / scale)));
  std::vector<float> box(static_cast<size_t>(out_w) * out_h);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      float total = 0;
      for (int sy = 0; sy < taps; ++sy)
        for (int sx = 0; sx < taps; ++sx)
          total += sample(ink, width, height, static_cast<float>(left) + (static_cast<float>(x) + (sx + 0.5f) / taps) / scale - 0.5f,
                          static_cast<float>(top) + (static_cast<float>(y) + (sy + 0.5f) / taps) / scale - 0.5f);
      box[static_cast<size_t>(y) * out_w + x] = std::clamp(total / static_cast<float>(taps * taps), 0.0f, 1.0f);
    }

  // Place it so that its centre of mass lands on the centre of the 28x28 field.
  double mass = 0, cx = 0, cy = 0;
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      const double v = box[static_cast<size_t>(y) * out_w + x];
      mass += v, cx += v * x, cy += v * y;
    }
  const int dx = static_cast<int>(std::lround(kSide / 2.0 - (mass > 0 ? cx / mass : out_w / 2.0) - 0.5));
  const int dy = static_cast<int>(std::lround(kSide / 2.0 - (mass > 0 ? cy / mass : out_h / 2.0) - 0.5));
  std::vector<float> field(kSide * kSide, 0.0f);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      const int fx = x + dx, fy = y + dy;
      if (fx >= 0 && fy >= 0 && fx < kSide && fy < kSide) field[fy * kSide + fx] = box[static_cast<size_t>(y) * out_w + x];
    }
  return field;
}

}  // namespace mnist_app
