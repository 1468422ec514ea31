// The IDX reader, MNIST / Fashion-MNIST and the loader, on the real files (see tests/data_reference/pixel_sums.py
// for the reference numbers) and on malformed files generated here.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/datasets.h"

namespace mt::datasets {
namespace {

namespace fs = std::filesystem;

bool has_files(const std::string& dir, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (!fs::exists(fs::path(dir) / name)) return false;
  return true;
}

#define REQUIRE_FILES(dir, ...)                                                                       \
  do {                                                                                                \
    if (!has_files(dir, {__VA_ARGS__})) {                                                             \
      if (std::getenv("MT_REQUIRE_DATA")) FAIL() << "data files missing in " << (dir);                \
      GTEST_SKIP() << "data files missing in " << (dir) << " (set MT_MNIST_DIR / MT_FASHION_MNIST_DIR)"; \
    }                                                                                                 \
  } while (0)

#define REQUIRE_MNIST_TEST() REQUIRE_FILES(MT_MNIST_DIR, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
#define REQUIRE_FASHION() \
  REQUIRE_FILES(MT_FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")

int64_t pixel_sum(const ImageDataset& d, int64_t i) {
  const auto image = d.image(i);
  return std::accumulate(image.begin(), image.end(), int64_t{0});
}

TEST(DatasetsReal, MnistTestSplitHasTheKnownLabelsAndPixels) {
  REQUIRE_MNIST_TEST();
  const MNIST test(Split::Test, {.dir = MT_MNIST_DIR});
  ASSERT_EQ(test.size(), 10000);
  EXPECT_EQ(test.rows(), 28);
  EXPECT_EQ(test.cols(), 28);
  const int64_t first[] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(test.label(i), first[i]) << i;
  EXPECT_EQ(test.label(9999), 6);
  EXPECT_EQ(pixel_sum(test, 0), 18454);
  EXPECT_EQ(pixel_sum(test, 1), 28850);
  EXPECT_EQ(pixel_sum(test, 9999), 41833);
  EXPECT_EQ(test.image(0)[7 * 28 + 6], 84);
  EXPECT_EQ(test.class_names().at(3), "3");
}

TEST(DatasetsReal, FashionTrainSplitHasTheKnownLabelsPixelsAndNames) {
  REQUIRE_FASHION();
  const FashionMNIST train(Split::Train, {.dir = MT_FASHION_MNIST_DIR});
  ASSERT_EQ(train.size(), 60000);
  const int64_t first[] = {9, 0, 0, 3, 0};
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(train.label(i), first[i]) << i;
  EXPECT_EQ(pixel_sum(train, 0), 76247);
  EXPECT_EQ(pixel_sum(train, 59999), 16684);
  EXPECT_EQ(train.class_names().at(9), "Ankle boot");

  const TrainValidation split = train_validation_split(train);
  EXPECT_EQ(split.train.size(), 54000);
  EXPECT_EQ(split.validation.size(), 6000);
  EXPECT_EQ(pixel_sum(split.validation, 5999), 16684) << "the validation set is the last 6000 images";
}

TEST(Loader, BatchesHaveShapesValuesAndAPartialLastBatch) {
  REQUIRE_MNIST_TEST();
  const MNIST test(Split::Test, {.dir = MT_MNIST_DIR});
  const ImageDataset few = test.subset(0, 70);
  DataLoader keep(few, {.batch_size = 32, .shuffle = false});
  ASSERT_EQ(keep.num_batches(), 3);
  const Batch last = keep.batch(2);
  EXPECT_EQ(last.images.shape(), Shape({6, 784}));
  EXPECT_EQ(last.images.dtype(), DType::Float32);
  const Batch first = keep.batch(0);
  EXPECT_EQ(first.labels[0], 7);
  EXPECT_FLOAT_EQ(static_cast<float>(first.images.at({0, 7 * 28 + 6})), 84.0f / 255.0f);
  double total = 0;
  for (double v : first.images.narrow(0, 0, 1).to_vector()) total += v;
  EXPECT_NEAR(total, 18454.0 / 255.0, 1e-3);
  EXPECT_EQ(DataLoader(few, {.batch_size = 32, .drop_last = true}).num_batches(), 2);

  DataLoader normalised(few, {.batch_size = 8, .shuffle = false, .mean = 0.5f, .std = 0.25f});
  EXPECT_FLOAT_EQ(static_cast<float>(normalised.batch(0).images.at({0, 0})), -2.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(normalised.batch(0).images.at({0, 7 * 28 + 6})), (84.0f / 255.0f - 0.5f) / 0.25f);
}

TEST(Loader, ShufflingIsAFunctionOfSeedAndEpoch) {
  REQUIRE_MNIST_TEST();
  const ImageDataset few = MNIST(Split::Test, {.dir = MT_MNIST_DIR}).subset(0, 200);
  auto order = [&](uint64_t seed, int64_t epoch) {
    DataLoader loader(few, {.batch_size = 200, .seed = seed});
    loader.set_epoch(epoch);
    return loader.batch(0).labels;
  };
  EXPECT_EQ(order(1, 3), order(1, 3));
  EXPECT_NE(order(1, 3), order(1, 4));
  EXPECT_NE(order(1, 3), order(2, 3));
  std::vector<int64_t> sorted = order(1, 3), original;
  for (int64_t i = 0; i < few.size(); ++i) original.push_back(few.label(i));
  std::sort(sorted.begin(), sorted.end());
  std::sort(original.begin(), original.end());
  EXPECT_EQ(sorted, original) << "a shuffle is a permutation";
}

// --- Malformed files -------------------------------------------------------------------------------------------

std::vector<uint8_t> idx_bytes(uint8_t type, std::vector<uint32_t> dims, size_t payload) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  out.resize(out.size() + payload, 1);
  return out;
}

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw) {
  z_stream s{};
  deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&s, raw.size()) + 64);
  s.next_in = const_cast<Bytef*>(raw.data());
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

class BadFiles : public ::testing::Test {
 protected:
  fs::path dir_ = fs::path(::testing::TempDir()) / "mt_bad_idx";
  void SetUp() override {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path.string();
  }
  // read_idx must throw an mt::Error naming the file and containing `problem`.
  void expect_error(const std::string& path, const std::string& problem) {
    try {
      read_idx(path);
      ADD_FAILURE() << path << ": no error, expected '" << problem << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(problem), std::string::npos) << "expected '" << problem << "' in: " << what;
    }
  }
};

TEST_F(BadFiles, EachProblemIsNamed) {
  const std::vector<uint8_t> good = idx_bytes(0x08, {3, 28, 28}, 3 * 784);
  std::vector<uint8_t> gz = gzip_bytes(good);
  EXPECT_EQ(read_idx(write("good.gz", gz)).numel(), 3 * 784);
  EXPECT_EQ(read_idx(write("good", good)).dims, (std::vector<int64_t>{3, 28, 28}));

  expect_error(write("truncated.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + gz.size() / 2)), "truncated gzip");
  expect_error(write("plain.gz", good), "not a gzip file");
  std::vector<uint8_t> magic = good;
  magic[0] = 1;
  expect_error(write("magic", magic), "bad IDX magic");
  std::vector<uint8_t> type = good;
  type[2] = 0x07;
  expect_error(write("type", type), "unknown IDX type code");
  expect_error(write("short", idx_bytes(0x08, {4, 28, 28}, 3 * 784)), "the file cannot hold that much");
  expect_error(write("short.gz", gzip_bytes(idx_bytes(0x08, {4, 28, 28}, 3 * 784))), "the data ends after");
  expect_error(write("billions.gz", gzip_bytes(idx_bytes(0x08, {4000000000u, 28, 28}, 100))), "claims");
  expect_error(write("billions", idx_bytes(0x0E, {2000000000u, 2000000000u}, 100)), "claims");
  expect_error(write("trailing", idx_bytes(0x08, {2, 28, 28}, 3 * 784)), "trailing garbage");
  std::vector<uint8_t> gz_trailing = gz;
  gz_trailing.insert(gz_trailing.end(), {1, 2, 3});
  expect_error(write("trailing.gz", gz_trailing), "trailing garbage");
  expect_error(write("empty", {}), "empty file");
  expect_error((dir_ / "missing").string(), "cannot open");
}

TEST_F(BadFiles, DatasetLevelChecksNameTheFiles) {
  const auto images = [](uint32_t n, uint32_t side) { return gzip_bytes(idx_bytes(0x08, {n, side, side}, n * side * side)); };
  const auto labels = [](uint32_t n) { return gzip_bytes(idx_bytes(0x08, {n}, n)); };
  auto expect_mnist_error = [&](const std::string& problem) {
    try {
      MNIST(Split::Test, {.dir = dir_.string()});
      ADD_FAILURE() << "no error, expected '" << problem << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  };
  write("t10k-images-idx3-ubyte.gz", images(5, 28));
  write("t10k-labels-idx1-ubyte.gz", labels(4));
  expect_mnist_error("holds");  // 5 images, 4 labels
  write("t10k-images-idx3-ubyte.gz", images(4, 27));
  expect_mnist_error("28 x 28");
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  expect_mnist_error("cmake -DDATASET=mnist");  // missing files: names the fetch command
}

TEST_F(BadFiles, AnOfficialNameWithOtherContentFailsVerification) {
  REQUIRE_MNIST_TEST();
  // The real labels with one label changed: a valid IDX file, but not the official one.
  IdxArray real = read_idx(std::string(MT_MNIST_DIR) + "/t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = idx_bytes(0x08, {10000}, 0);
  raw.insert(raw.end(), real.bytes.begin(), real.bytes.end());
  raw.back() = static_cast<uint8_t>((raw.back() + 1) % 10);
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(raw));
  fs::copy_file(std::string(MT_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz", dir_ / "t10k-images-idx3-ubyte.gz");
  try {
    MNIST(Split::Test, {.dir = dir_.string()});
    ADD_FAILURE() << "a modified official file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not match the official"), std::string::npos) << e.what();
  }
  EXPECT_EQ(MNIST(Split::Test, {.dir = dir_.string(), .verify = false}).label(9999), 7);
}

}  // namespace
}  // namespace mt::datasets
