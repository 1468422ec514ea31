// The DataLoader's image layout and its training-time augmentation: [B, 1, rows, cols] as a view of the same
// batch, off by default, seeded by (seed, epoch, batch), whole-pixel shifts within the bound, rotations that
// keep the ink.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "datasets/datasets.h"

namespace mt::datasets {
namespace {

// 8 images of 12x12, each a filled 4x4 square at a different place, away from the border.
ImageDataset squares() {
  std::vector<uint8_t> images(8 * 144, 0), labels(8);
  for (int i = 0; i < 8; ++i) {
    for (int r = 3 + i % 3; r < 7 + i % 3; ++r)
      for (int c = 3 + i % 4; c < 7 + i % 4; ++c) images[static_cast<size_t>(i * 144 + r * 12 + c)] = 200;
    labels[static_cast<size_t>(i)] = static_cast<uint8_t>(i % 10);
  }
  return ImageDataset("squares", images, labels, 12, 12, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

TEST(LoaderImages, ImageLayoutIsAViewOfTheSameBatch) {
  const DataLoader flat(squares(), {.batch_size = 4, .seed = 3});
  const DataLoader images(squares(), {.batch_size = 4, .seed = 3, .image_layout = true});
  const Batch a = flat.batch(1), b = images.batch(1);
  EXPECT_EQ(a.images.shape(), Shape({4, 144}));
  EXPECT_EQ(b.images.shape(), Shape({4, 1, 12, 12}));
  EXPECT_TRUE(b.images.is_contiguous());
  EXPECT_EQ(a.images.to_vector(), b.images.to_vector());
  EXPECT_EQ(a.labels, b.labels);
}

// The whole-pixel shift (dr, dc) that turns `original` into `moved`, or none.
bool is_shift(const std::vector<double>& original, const std::vector<double>& moved, int max_shift) {
  for (int dr = -max_shift; dr <= max_shift; ++dr)
    for (int dc = -max_shift; dc <= max_shift; ++dc) {
      bool same = true;
      for (int r = 0; r < 12 && same; ++r)
        for (int c = 0; c < 12 && same; ++c) {
          const int sr = r - dr, sc = c - dc;
          const double expected = sr >= 0 && sr < 12 && sc >= 0 && sc < 12 ? original[static_cast<size_t>(sr * 12 + sc)] : 0;
          same = std::abs(moved[static_cast<size_t>(r * 12 + c)] - expected) < 1e-6;
        }
      if (same) return true;
    }
  return false;
}

TEST(LoaderImages, ShiftsMoveImagesByWholePixelsWithinTheBoundAndAreSeeded) {
  const LoaderOptions plain{.batch_size = 8, .shuffle = false};
  LoaderOptions shifted = plain;
  shifted.augment.max_shift = 2;
  const DataLoader off(squares(), plain), on(squares(), shifted), again(squares(), shifted);
  const Tensor original = off.batch(0).images, moved = on.batch(0).images;
  EXPECT_EQ(again.batch(0).images.to_vector(), moved.to_vector());  // same seed, epoch and batch: same images
  int unmoved = 0;
  for (int64_t i = 0; i < 8; ++i) {
    const std::vector<double> a = original.select(0, i).to_vector(), b = moved.select(0, i).to_vector();
    EXPECT_TRUE(is_shift(a, b, 2)) << "image " << i;
    unmoved += a == b;
  }
  EXPECT_LT(unmoved, 3);  // 1 in 25 is unmoved on average
  DataLoader next(squares(), shifted);
  next.set_epoch(1);
  EXPECT_NE(next.batch(0).images.to_vector(), moved.to_vector());  // another epoch, other shifts
  next.set_epoch(0);
  EXPECT_EQ(next.batch(0).images.to_vector(), moved.to_vector());
}

TEST(LoaderImages, RotationsKeepTheInkAndStayNearTheOriginal) {
  LoaderOptions rotated{.batch_size = 8, .shuffle = false};
  rotated.augment.max_rotation = 10;
  const Tensor original = DataLoader(squares(), {.batch_size = 8, .shuffle = false}).batch(0).images;
  const Tensor turned = DataLoader(squares(), rotated).batch(0).images;
  for (int64_t i = 0; i < 8; ++i) {
    const std::vector<double> a = original.select(0, i).to_vector(), b = turned.select(0, i).to_vector();
    double ink_a = 0, ink_b = 0, diff = 0;
    for (size_t p = 0; p < a.size(); ++p) ink_a += a[p], ink_b += b[p], diff += std::abs(a[p] - b[p]);
    EXPECT_NEAR(ink_b, ink_a, 0.08 * ink_a) << "image " << i;  // bilinear resampling keeps the mass
    EXPECT_GT(diff, 0) << "image " << i;
    EXPECT_LT(diff, 0.6 * ink_a) << "image " << i;  // at most 10 degrees: still mostly the same square
  }
}

TEST(LoaderImages, RejectsBadAugmentation) {
  LoaderOptions bad;
  bad.augment.max_shift = -1;
  EXPECT_THROW(DataLoader(squares(), bad), Error);
  bad.augment = {.max_shift = 0, .max_rotation = 400};
  EXPECT_THROW(DataLoader(squares(), bad), Error);
}

}  // namespace
}  // namespace mt::datasets
