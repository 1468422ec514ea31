// The IDX reader, MNIST / Fashion-MNIST and the loader, on the real files (reference numbers from Python's gzip
// and NumPy: tests/data_reference/pixel_sums.py) and on malformed files generated here.
// Suites: Datasets* (real files, dataset-level checks), Idx* (the reader), Loader* (batches, shuffling).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "datasets/datasets.h"
#include "datasets/md5.h"
#include "tests/error_message.h"
#include "tests/test_directory.h"

// The largest single allocation since the last reset: "a lying header must not allocate much" is checked
// directly rather than by watching the process's memory (a reserve() touches no pages).
namespace {
std::atomic<std::size_t> g_largest_allocation{0};
}  // namespace

// Out of line: inlined into a caller, GCC pairs the free() with that caller's new and warns of a mismatch.
[[gnu::noinline]] void* operator new(std::size_t n) {
  std::size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (n > seen && !g_largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace mt::datasets {
namespace {

namespace fs = std::filesystem;

bool has_files(const std::string& dir, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (!fs::exists(fs::path(dir) / name)) return false;
  return true;
}

// Real data: skipped with a message when absent, a failure when the environment sets MT_REQUIRE_DATA (CI).
#define REQUIRE_FILES(dir, ...)                                                                           \
  do {                                                                                                    \
    if (!has_files(dir, {__VA_ARGS__})) {                                                                 \
      if (std::getenv("MT_REQUIRE_DATA")) FAIL() << "data files missing in " << (dir);                    \
      GTEST_SKIP() << "data files missing in " << (dir)                                                   \
                   << " (configure with -DMT_MNIST_DIR=... / -DMT_FASHION_MNIST_DIR=...)";                \
    }                                                                                                     \
  } while (0)

#define REQUIRE_MNIST_TEST() REQUIRE_FILES(MT_MNIST_DIR, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
#define REQUIRE_FASHION()                                                                                \
  REQUIRE_FILES(MT_FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",       \
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

int64_t pixel_sum(const ImageDataset& d, int64_t i) {
  const auto image = d.image(i);
  return std::accumulate(image.begin(), image.end(), int64_t{0});
}

int64_t total_pixel_sum(const ImageDataset& d) {
  int64_t total = 0;
  for (int64_t i = 0; i < d.size(); ++i) total += pixel_sum(d, i);
  return total;
}

// --- Real files ------------------------------------------------------------------------------------------------

TEST(DatasetsReal, MnistTestSplitHasTheKnownLabelsAndPixels) {
  REQUIRE_MNIST_TEST();
  // verify = true (the default): the official files are recognised and accepted.
  const MNIST test(Split::Test, {.dir = MT_MNIST_DIR});
  ASSERT_EQ(test.size(), 10000);
  EXPECT_EQ(test.rows(), 28);
  EXPECT_EQ(test.cols(), 28);
  EXPECT_EQ(test.pixels(), 784);
  EXPECT_EQ(test.name(), "MNIST test");
  const int64_t first[] = {7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(test.label(i), first[i]) << i;
  EXPECT_EQ(test.label(9999), 6);
  EXPECT_EQ(pixel_sum(test, 0), 18454);
  EXPECT_EQ(pixel_sum(test, 1), 28850);
  EXPECT_EQ(pixel_sum(test, 9999), 41833);
  const uint8_t row7[] = {84, 185, 159, 151};
  for (int c = 0; c < 4; ++c) EXPECT_EQ(test.image(0)[7 * 28 + 6 + c], row7[c]) << c;
  EXPECT_EQ(total_pixel_sum(test), 264923200);
  std::vector<int64_t> counts(10);
  for (int64_t i = 0; i < test.size(); ++i) ++counts[static_cast<std::size_t>(test.label(i))];
  EXPECT_EQ(counts, (std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_EQ(test.class_names(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_THROW(test.image(10000), Error);
  EXPECT_THROW(test.label(-1), Error);
}

TEST(DatasetsReal, FashionTrainSplitHasTheKnownLabelsPixelsNamesAndStatistics) {
  REQUIRE_FASHION();
  const FashionMNIST train(Split::Train, {.dir = MT_FASHION_MNIST_DIR});
  ASSERT_EQ(train.size(), 60000);
  EXPECT_EQ(train.name(), "Fashion-MNIST train");
  const int64_t first[] = {9, 0, 0, 3, 0};
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(train.label(i), first[i]) << i;
  EXPECT_EQ(pixel_sum(train, 0), 76247);
  EXPECT_EQ(pixel_sum(train, 59999), 16684);
  EXPECT_EQ(train.class_names(), (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}));

  // The normalisation constants are this set's statistics (NumPy: mean 0.286041, std 0.353024).
  const int64_t total = total_pixel_sum(train);
  EXPECT_EQ(total, 3431114169);
  double squares = 0;
  for (int64_t i = 0; i < train.size(); ++i)
    for (uint8_t p : train.image(i)) squares += static_cast<double>(p) * p;
  const double n = 60000.0 * 784, mean = static_cast<double>(total) / 255.0 / n;
  const double std = std::sqrt(squares / (255.0 * 255.0) / n - mean * mean);
  EXPECT_NEAR(mean, 0.286041, 1e-6);
  EXPECT_NEAR(std, 0.353024, 1e-6);
  EXPECT_NEAR(kFashionMnistMean, mean, 5e-5);
  EXPECT_NEAR(kFashionMnistStd, std, 5e-5);
  EXPECT_FLOAT_EQ(kMnistMean, 0.1307f);  // MNIST's training set is not here; these are the well-known values
  EXPECT_FLOAT_EQ(kMnistStd, 0.3081f);

  // The validation set is the last 6000 examples, the training set the first 54000, in file order.
  const TrainValidation split = train_validation_split(train);
  ASSERT_EQ(split.train.size(), 54000);
  ASSERT_EQ(split.validation.size(), 6000);
  EXPECT_EQ(split.train.label(0), 9);
  EXPECT_EQ(pixel_sum(split.train, 0), 76247);
  EXPECT_EQ(pixel_sum(split.validation, 5999), 16684);
  for (int64_t i : {int64_t{0}, int64_t{1234}, int64_t{5999}}) {
    EXPECT_EQ(split.validation.label(i), train.label(54000 + i));
    EXPECT_EQ(split.validation.image(i).data(), train.image(54000 + i).data()) << "subsets share the bytes";
  }
  EXPECT_EQ(total_pixel_sum(split.train) + total_pixel_sum(split.validation), total);
  EXPECT_EQ(train_validation_split(train, 100).validation.size(), 100);
  EXPECT_THROW(train_validation_split(train, 60001), Error);
}

TEST(DatasetsReal, FashionTestSplitIsFoundInTheDebianDirectoryByDefault) {
  REQUIRE_FASHION();
  if (std::string(MT_FASHION_MNIST_DIR) != "/usr/share/datasets/fashion-mnist" || fs::exists("data/fashion"))
    GTEST_SKIP() << "the default search path is only checked against Debian's directory";
  const FashionMNIST test(Split::Test);  // no dir: data/fashion, then /usr/share/datasets/fashion-mnist
  EXPECT_EQ(test.size(), 10000);
  const auto dirs = FashionMNIST::default_dirs();
  EXPECT_NE(std::find(dirs.begin(), dirs.end(), "/usr/share/datasets/fashion-mnist"), dirs.end());
}

TEST(DatasetsReal, SubsetsAreViewsWithCheckedBounds) {
  REQUIRE_MNIST_TEST();
  const MNIST test(Split::Test, {.dir = MT_MNIST_DIR});
  const ImageDataset part = test.subset(5, 10);
  ASSERT_EQ(part.size(), 10);
  EXPECT_EQ(part.name(), "MNIST test[5:15]");
  EXPECT_EQ(part.label(0), 1);  // test labels 5.. are 1, 4, 9, 5, 9
  EXPECT_EQ(part.image(0).data(), test.image(5).data());
  const ImageDataset nested = part.subset(2, 3);
  EXPECT_EQ(nested.label(0), test.label(7));
  EXPECT_EQ(nested.class_names(), test.class_names());
  EXPECT_THROW(part.subset(5, 6), Error);
  EXPECT_THROW(part.subset(-1, 2), Error);
  EXPECT_THROW(part.label(10), Error);
  EXPECT_EQ(test.subset(10000, 0).size(), 0);
}

// --- Loader ----------------------------------------------------------------------------------------------------

TEST(LoaderReal, BatchesAreFloat32InTheUnitRangeWithAPartialLastBatch) {
  REQUIRE_MNIST_TEST();
  const MNIST test(Split::Test, {.dir = MT_MNIST_DIR});
  const ImageDataset few = test.subset(0, 70);
  DataLoader keep(few, {.batch_size = 32, .shuffle = false});
  ASSERT_EQ(keep.num_batches(), 3);
  int64_t seen = 0, batches = 0;
  for (const Batch& batch : keep) {
    const int64_t expected = batches < 2 ? 32 : 6;
    EXPECT_EQ(batch.images.shape(), Shape({expected, 784})) << batches;
    EXPECT_EQ(batch.images.dtype(), DType::Float32);
    ASSERT_EQ(static_cast<int64_t>(batch.labels.size()), expected);
    const std::vector<double> values = batch.images.to_vector();
    EXPECT_GE(*std::min_element(values.begin(), values.end()), 0.0);
    EXPECT_LE(*std::max_element(values.begin(), values.end()), 1.0);
    EXPECT_EQ(*std::max_element(values.begin(), values.end()), 1.0) << "255 maps to exactly 1";
    for (std::size_t b = 0; b < batch.labels.size(); ++b) EXPECT_EQ(batch.labels[b], few.label(seen + int64_t(b)));
    seen += expected;
    ++batches;
  }
  EXPECT_EQ(seen, 70);
  EXPECT_EQ(batches, 3);

  const Batch first = keep.batch(0);
  EXPECT_EQ(first.labels[0], 7);
  EXPECT_FLOAT_EQ(static_cast<float>(first.images.at({0, 7 * 28 + 6})), 84.0f / 255.0f);
  double total = 0;
  for (double v : first.images.narrow(0, 0, 1).to_vector()) total += v;
  EXPECT_NEAR(total, 18454.0 / 255.0, 1e-3);
  EXPECT_EQ(keep.batch(2).labels.back(), few.label(69));
  EXPECT_THROW(keep.batch(3), Error);

  DataLoader drop(few, {.batch_size = 32, .shuffle = false, .drop_last = true});
  ASSERT_EQ(drop.num_batches(), 2);
  EXPECT_EQ(drop.batch(1).images.shape(), Shape({32, 784}));
  int64_t dropped_batches = 0;
  for (const Batch& batch : drop) dropped_batches += static_cast<int64_t>(batch.labels.size()) == 32;
  EXPECT_EQ(dropped_batches, 2);
  EXPECT_EQ(DataLoader(test.subset(0, 64), {.batch_size = 32, .drop_last = true}).num_batches(), 2);
  EXPECT_EQ(DataLoader(test.subset(0, 31), {.batch_size = 32, .drop_last = true}).num_batches(), 0);
  EXPECT_THROW(DataLoader(few, {.batch_size = 0}), Error);
  EXPECT_THROW(DataLoader(few, {.std = 0.0f}), Error);
}

TEST(LoaderReal, MeanStdNormalisationIsAppliedPerPixel) {
  REQUIRE_MNIST_TEST();
  const ImageDataset few = MNIST(Split::Test, {.dir = MT_MNIST_DIR}).subset(0, 8);
  DataLoader normalised(few, {.batch_size = 8, .shuffle = false, .mean = 0.5f, .std = 0.25f});
  const Batch batch = normalised.batch(0);
  EXPECT_FLOAT_EQ(static_cast<float>(batch.images.at({0, 0})), -2.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(batch.images.at({0, 7 * 28 + 6})), (84.0f / 255.0f - 0.5f) / 0.25f);
  DataLoader mnist(few, {.batch_size = 8, .shuffle = false, .mean = kMnistMean, .std = kMnistStd});
  const Batch standard = mnist.batch(0);
  EXPECT_FLOAT_EQ(static_cast<float>(standard.images.at({0, 0})), -0.1307f / 0.3081f);
  EXPECT_FLOAT_EQ(static_cast<float>(standard.images.at({0, 7 * 28 + 7})), (185.0f / 255.0f - 0.1307f) / 0.3081f);
}

TEST(LoaderReal, ShufflingIsAFunctionOfSeedAndEpoch) {
  REQUIRE_MNIST_TEST();
  const ImageDataset few = MNIST(Split::Test, {.dir = MT_MNIST_DIR}).subset(0, 200);
  // The order as pixel sums, which tell the examples apart much better than labels do.
  auto order = [&](uint64_t seed, int64_t epoch) {
    DataLoader loader(few, {.batch_size = 64, .seed = seed});
    loader.set_epoch(epoch);
    std::vector<int64_t> sums;
    for (const Batch& batch : loader) {
      const std::vector<double> values = batch.images.to_vector();
      for (std::size_t b = 0; b < batch.labels.size(); ++b)
        sums.push_back(std::llround(std::accumulate(values.begin() + static_cast<std::ptrdiff_t>(b * 784),
                                          values.begin() + static_cast<std::ptrdiff_t>((b + 1) * 784), 0.0) * 255));
    }
    return sums;
  };
  const std::vector<int64_t> reference = order(1, 3);
  EXPECT_EQ(order(1, 3), reference) << "same seed and epoch, same order";
  EXPECT_NE(order(1, 4), reference) << "another epoch, another order";
  EXPECT_NE(order(2, 3), reference) << "another seed, another order";
  // set_epoch(e) does not depend on the epochs before it.
  DataLoader loader(few, {.batch_size = 200, .seed = 1});
  loader.set_epoch(7);
  loader.set_epoch(3);
  EXPECT_EQ(loader.epoch(), 3);
  const std::vector<int64_t> direct = loader.batch(0).labels;
  DataLoader fresh(few, {.batch_size = 200, .seed = 1});
  fresh.set_epoch(3);
  EXPECT_EQ(fresh.batch(0).labels, direct);

  std::vector<int64_t> sorted = reference, original;
  for (int64_t i = 0; i < few.size(); ++i) original.push_back(pixel_sum(few, i));
  EXPECT_NE(reference, original) << "shuffled";
  std::sort(sorted.begin(), sorted.end());
  std::sort(original.begin(), original.end());
  EXPECT_EQ(sorted, original) << "a shuffle is a permutation";

  DataLoader unshuffled(few, {.batch_size = 200, .shuffle = false, .seed = 5});
  unshuffled.set_epoch(9);
  EXPECT_EQ(unshuffled.batch(0).labels[0], 7);
}

TEST(LoaderSynthetic, EmptyAndTinyDatasets) {
  const std::vector<std::string> names = {"a", "b"};
  const ImageDataset two("two", {0, 255, 51, 102}, {1, 0}, 1, 2, names);
  DataLoader loader(two, {.batch_size = 4, .seed = 3});
  ASSERT_EQ(loader.num_batches(), 1);
  const Batch batch = loader.batch(0);
  EXPECT_EQ(batch.images.shape(), Shape({2, 2}));
  const std::vector<double> values = batch.images.to_vector();
  const bool first_is_one = batch.labels[0] == 1;
  EXPECT_FLOAT_EQ(static_cast<float>(values[first_is_one ? 1 : 3]), 1.0f);
  EXPECT_FLOAT_EQ(static_cast<float>(values[first_is_one ? 2 : 0]), 0.2f);

  DataLoader empty(two.subset(1, 0), {.batch_size = 4});
  empty.set_epoch(5);
  EXPECT_EQ(empty.num_batches(), 0);
  EXPECT_TRUE(empty.begin() == empty.end());
  EXPECT_THROW(empty.batch(0), Error);

  EXPECT_THROW(ImageDataset("bad", {0, 1, 2}, {0, 1}, 1, 2, names), Error);  // 3 bytes for 2 images of 2
  EXPECT_THROW(ImageDataset("bad", {0, 1}, {2}, 1, 2, names), Error);        // label 2 of 2 classes
  EXPECT_THROW(ImageDataset("bad", {}, {}, 0, 2, names), Error);
}

TEST(LoaderSynthetic, DistributedSharesAreDisjointSlicesOfOnePermutation) {
  // 103 one-pixel images whose pixel is their index, so a batch tells which examples it holds.
  std::vector<uint8_t> pixels(103), labels(103, 0);
  std::iota(pixels.begin(), pixels.end(), uint8_t{0});
  const ImageDataset indexed("indexed", pixels, labels, 1, 1, {"only"});
  auto examples = [&](int64_t replicas, int64_t rank, int64_t batch_size, int64_t epoch) {
    DataLoader loader(indexed, {.batch_size = batch_size, .seed = 11, .num_replicas = replicas, .rank = rank});
    loader.set_epoch(epoch);
    std::vector<int64_t> out;
    for (const Batch& batch : loader)
      for (double v : batch.images.to_vector()) out.push_back(std::lround(v * 255));
    return out;
  };
  const std::vector<int64_t> whole = examples(1, 0, 10, 2);
  std::vector<int64_t> seen;
  for (int64_t rank = 0; rank < 3; ++rank) {
    const std::vector<int64_t> share = examples(3, rank, 8, 2);
    ASSERT_EQ(share.size(), 34u) << "103 / 3 examples per rank; the last one of the permutation sits out";
    DataLoader loader(indexed, {.batch_size = 8, .num_replicas = 3, .rank = rank});
    EXPECT_EQ(loader.examples_per_epoch(), 34);
    EXPECT_EQ(loader.num_batches(), 5);
    // Rank r's i-th example is position 3 i + r of the single-process permutation, so the ranks' batch k
    // together is the single process's batch k of 24.
    for (std::size_t i = 0; i < share.size(); ++i) EXPECT_EQ(share[i], whole[3 * i + static_cast<std::size_t>(rank)]);
    seen.insert(seen.end(), share.begin(), share.end());
    EXPECT_NE(examples(3, rank, 8, 3), share) << "another epoch, another share";
    EXPECT_EQ(examples(3, rank, 5, 2), share) << "the share does not depend on the batch size";
  }
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "disjoint shares";
  EXPECT_EQ(seen.size(), 102u);

  EXPECT_THROW(DataLoader(indexed, {.num_replicas = 2, .rank = 2}), Error);
  EXPECT_THROW(DataLoader(indexed, {.num_replicas = 0, .rank = 0}), Error);
  EXPECT_THROW(DataLoader(indexed, {.num_replicas = 2, .rank = -1}), Error);
  EXPECT_EQ(DataLoader(indexed.subset(0, 1), {.num_replicas = 2, .rank = 1}).num_batches(), 0);
}

// --- Generated files -------------------------------------------------------------------------------------------

std::vector<uint8_t> idx_bytes(uint8_t type, std::vector<uint32_t> dims, size_t payload, uint8_t fill = 1) {
  std::vector<uint8_t> out = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<uint8_t>(d >> shift));
  out.resize(out.size() + payload, fill);
  return out;
}

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw, int level = 6) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out(deflateBound(&s, raw.size()) + 64);
  s.next_in = const_cast<Bytef*>(raw.data());
  s.avail_in = static_cast<uInt>(raw.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

// A directory of its own per test: ctest runs the cases in parallel processes.
class IdxFiles : public ::testing::Test {
 protected:
  const test::TestDirectory directory_;
  const fs::path& dir_ = directory_.path();
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return path.string();
  }
  // `load` must throw an mt::Error whose message contains each of `parts` (the file name and the problem).
  template <class F>
  void expect_error(F load, std::initializer_list<std::string> parts) {
    try {
      load();
      ADD_FAILURE() << "no error, expected '" << *parts.begin() << "'";
    } catch (const Error& e) {
      const std::string what = e.what();
      for (const std::string& part : parts)
        EXPECT_NE(what.find(part), std::string::npos) << "expected '" << part << "' in: " << what;
    }
  }
  void expect_read_error(const std::string& path, const std::string& problem) {
    expect_error([&] { read_idx(path); }, {path, problem});
  }
  // Reads `path` expecting `problem`, and checks that no single allocation exceeded `limit` bytes.
  void expect_small_read_error(const std::string& path, const std::string& problem, std::size_t limit) {
    g_largest_allocation = 0;
    expect_read_error(path, problem);
    EXPECT_LE(g_largest_allocation.load(), limit) << "a lying header made the reader allocate that much";
  }
  void write_mnist_test(const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels) {
    write("t10k-images-idx3-ubyte.gz", gzip_bytes(images));
    write("t10k-labels-idx1-ubyte.gz", gzip_bytes(labels));
  }
  std::string images_path() const { return (dir_ / "t10k-images-idx3-ubyte.gz").string(); }
  std::string labels_path() const { return (dir_ / "t10k-labels-idx1-ubyte.gz").string(); }
};
using IdxBadFiles = IdxFiles;
using DatasetsBadFiles = IdxFiles;

const std::vector<uint8_t> kGood = idx_bytes(0x08, {3, 28, 28}, 3 * 784);

TEST_F(IdxFiles, PlainAndGzipFilesOfEveryTypeReadTheSame) {
  const IdxArray gz = read_idx(write("good.gz", gzip_bytes(kGood)));
  EXPECT_EQ(gz.dims, (std::vector<int64_t>{3, 28, 28}));
  EXPECT_EQ(gz.numel(), 3 * 784);
  EXPECT_EQ(gz.content_size, kGood.size());
  EXPECT_EQ(gz.content_crc32, crc32(0, kGood.data(), static_cast<uInt>(kGood.size())));
  const IdxArray plain = read_idx(write("good", kGood));
  EXPECT_EQ(plain.bytes, gz.bytes);
  EXPECT_EQ(read_idx(write("gzip-without-suffix", gzip_bytes(kGood))).bytes, gz.bytes);
  // Two gzip members one after the other (cat a.gz b.gz) are one stream.
  std::vector<uint8_t> first(kGood.begin(), kGood.begin() + 100), second(kGood.begin() + 100, kGood.end());
  std::vector<uint8_t> members = gzip_bytes(first), tail = gzip_bytes(second);
  members.insert(members.end(), tail.begin(), tail.end());
  EXPECT_EQ(read_idx(write("members.gz", members)).bytes, gz.bytes);

  // Big-endian elements of the other five types, converted.
  const auto typed = [&](uint8_t type, std::vector<uint8_t> elements) {
    std::vector<uint8_t> raw = idx_bytes(type, {2}, 0);
    raw.insert(raw.end(), elements.begin(), elements.end());
    return read_idx(write("typed", raw));
  };
  EXPECT_EQ(typed(0x09, {0xff, 0x05}).values(), (std::vector<double>{-1, 5}));
  EXPECT_EQ(typed(0x0B, {0xff, 0xfe, 0x01, 0x2c}).values(), (std::vector<double>{-2, 300}));
  EXPECT_EQ(typed(0x0C, {0x80, 0, 0, 0, 0, 1, 0, 0}).values(), (std::vector<double>{-2147483648.0, 65536}));
  EXPECT_EQ(typed(0x0D, {0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0}).values(), (std::vector<double>{1.5, -10}));
  EXPECT_EQ(typed(0x0E, {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, 0, 0, 0, 0, 0, 0, 0, 0}).values(),
            (std::vector<double>{3.141592653589793, 0}));
  const IdxArray shorts = typed(0x0B, {0, 1, 0, 2});
  EXPECT_EQ(shorts.type, IdxType::Int16);
  EXPECT_EQ(shorts.numel(), 2);
  EXPECT_THROW(shorts.u8(), Error);
  EXPECT_EQ(read_idx(write("zero", idx_bytes(0x08, {0, 28, 28}, 0))).numel(), 0);
}

TEST_F(IdxBadFiles, TruncatedGzipStream) {
  const std::vector<uint8_t> gz = gzip_bytes(kGood);
  expect_read_error(write("truncated.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + gz.size() / 2)),
                    "truncated gzip");
  // Cut inside the 8-byte trailer: all data there, the CRC / size check missing.
  expect_read_error(write("no-trailer.gz", std::vector<uint8_t>(gz.begin(), gz.end() - 3)), "truncated gzip");
}

TEST_F(IdxBadFiles, CorruptGzipData) {
  std::vector<uint8_t> gz = gzip_bytes(kGood);
  gz[gz.size() - 6] ^= 0xff;  // the CRC32 in the trailer
  expect_read_error(write("crc.gz", gz), "corrupt gzip data");
}

TEST_F(IdxBadFiles, NonGzipFileNamedGz) {
  expect_read_error(write("plain.gz", kGood), "not a gzip file");
  expect_read_error(write("text.gz", {'h', 'e', 'l', 'l', 'o'}), "not a gzip file");
}

TEST_F(IdxBadFiles, WrongMagic) {
  std::vector<uint8_t> magic = kGood;
  magic[1] = 8;
  expect_read_error(write("magic", magic), "bad IDX magic");
  expect_read_error(write("magic.gz", gzip_bytes(magic)), "bad IDX magic");
}

TEST_F(IdxBadFiles, WrongTypeCode) {
  std::vector<uint8_t> type = kGood;
  type[2] = 0x07;
  expect_read_error(write("type", type), "unknown IDX type code 07");
  type[2] = 0x0A;
  expect_read_error(write("type.gz", gzip_bytes(type)), "unknown IDX type code 0a");
}

TEST_F(IdxBadFiles, HeaderClaimsMoreThanTheFileHolds) {
  expect_read_error(write("short", idx_bytes(0x08, {4, 28, 28}, 3 * 784)), "the file cannot hold that much");
  expect_read_error(write("short.gz", gzip_bytes(idx_bytes(0x08, {4, 28, 28}, 3 * 784))), "the data ends after");
  expect_read_error(write("header-cut", std::vector<uint8_t>(kGood.begin(), kGood.begin() + 10)),
                    "the data ends inside the IDX header");
  expect_read_error(write("tiny", {0, 0, 8}), "too short for an IDX file");
}

TEST_F(IdxBadFiles, HeaderClaimingBillionsAllocatesNothingLarge) {
  constexpr std::size_t kLimit = std::size_t{4} << 20;  // the file sizes and the reader's 1 MiB chunks
  expect_small_read_error(write("billions.gz", gzip_bytes(idx_bytes(0x08, {4000000000u, 28, 28}, 100))),
                          "more than the 1073741824-byte limit", kLimit);
  expect_small_read_error(write("billions", idx_bytes(0x0E, {2000000000u, 2000000000u}, 100)), "claims", kLimit);
  expect_small_read_error(write("overflow", idx_bytes(0x08, {65536, 65536, 65536, 65536}, 100)), "claims", kLimit);
  // Under the limit but far beyond what a small file can hold.
  expect_small_read_error(write("million.gz", gzip_bytes(idx_bytes(0x08, {1000000, 28, 28}, 100))),
                          "the file cannot hold that much", kLimit);
  // The same claim in a file that could hold it, decompressed (DEFLATE expands up to ~1032:1): 200 MB claimed,
  // 300 kB of incompressible bytes present, which must cost only what is read.
  std::mt19937 random(1);
  std::vector<uint8_t> noise = idx_bytes(0x08, {255102, 28, 28}, 0);
  for (int i = 0; i < 300000; ++i) noise.push_back(static_cast<uint8_t>(random()));
  expect_small_read_error(write("lying.gz", gzip_bytes(noise)), "the data ends after", kLimit);
  // And with a gzip trailer forged to confirm the claimed size: the reader may trust the trailer to reserve
  // memory, but not beyond what this file could plausibly hold.
  std::vector<uint8_t> forged = gzip_bytes(noise);
  const uint32_t claimed = 16 + 255102u * 784;
  for (int k = 0; k < 4; ++k) forged[forged.size() - 4 + k] = static_cast<uint8_t>(claimed >> (8 * k));
  expect_small_read_error(write("forged.gz", forged), "corrupt gzip data", std::size_t{32} << 20);
}

TEST_F(IdxBadFiles, TrailingGarbage) {
  expect_read_error(write("trailing", idx_bytes(0x08, {2, 28, 28}, 3 * 784)), "trailing garbage");
  std::vector<uint8_t> gz = gzip_bytes(kGood);
  gz.insert(gz.end(), {1, 2, 3});
  expect_read_error(write("trailing.gz", gz), "trailing garbage");
  expect_read_error(write("inside.gz", gzip_bytes(idx_bytes(0x08, {2, 28, 28}, 3 * 784))), "trailing garbage");
}

TEST_F(IdxBadFiles, EmptyAndMissingFiles) {
  expect_read_error(write("empty", {}), "empty file");
  expect_read_error(write("empty.gz", {}), "empty file");
  expect_read_error((dir_ / "missing").string(), "cannot open");
}

TEST_F(DatasetsBadFiles, ImageAndLabelCountsDiffer) {
  write_mnist_test(idx_bytes(0x08, {5, 28, 28}, 5 * 784), idx_bytes(0x08, {4}, 4, 3));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); },
               {images_path(), "holds 5 images", labels_path(), "holds 4 labels"});
}

TEST_F(DatasetsBadFiles, ImagesOtherThan28x28) {
  write_mnist_test(idx_bytes(0x08, {4, 27, 29}, 4 * 27 * 29), idx_bytes(0x08, {4}, 4, 3));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); }, {images_path(), "28 x 28", "4 x 27 x 29"});
  write_mnist_test(idx_bytes(0x08, {4, 784}, 4 * 784), idx_bytes(0x08, {4}, 4, 3));
  expect_error([&] { FashionMNIST(Split::Test, {.dir = dir_.string()}); }, {images_path(), "28 x 28", "4 x 784"});
  write_mnist_test(idx_bytes(0x08, {4, 28, 28}, 4 * 784), idx_bytes(0x08, {2, 2}, 4, 3));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); }, {labels_path(), "ubyte N", "2 x 2"});
  // Not verified: with the official names, the sizes (checked from the headers, first) would fail already.
  write_mnist_test(idx_bytes(0x08, {4, 28, 28}, 4 * 784), idx_bytes(0x08, {4}, 4, 10));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string(), .verify = false}); },
               {labels_path(), "label 10", "outside 0..9"});
}

TEST_F(DatasetsBadFiles, MissingFilesNameWhereTheyWereLookedForAndTheFetchCommand) {
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4}, 4, 3)));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); },
               {"MNIST test: files not found", dir_.string(), "t10k-images-idx3-ubyte.gz (or t10k-images-idx3-ubyte) missing",
                "t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte) found",
                "cmake -DDATASET=mnist -DDEST=data -P cmake/fetch_data.cmake"});
  expect_error([&] { FashionMNIST(Split::Train, {.dir = dir_.string()}); },
               {"Fashion-MNIST train: files not found", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "cmake -DDATASET=fashion -DDEST=data -P cmake/fetch_data.cmake", "dataset-fashion-mnist"});
}

TEST_F(DatasetsBadFiles, AReadErrorInADatasetNamesTheFile) {
  write("t10k-images-idx3-ubyte.gz", kGood);  // not gzip
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {3}, 3, 3)));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); }, {images_path(), "not a gzip file"});
}

TEST_F(DatasetsBadFiles, AnOfficialNameWithOtherContentFailsVerification) {
  REQUIRE_MNIST_TEST();
  // The real labels with the last one changed: a valid IDX file of the right size, but not the official one.
  IdxArray real = read_idx(std::string(MT_MNIST_DIR) + "/t10k-labels-idx1-ubyte.gz");
  std::vector<uint8_t> raw = idx_bytes(0x08, {10000}, 0);
  raw.insert(raw.end(), real.bytes.begin(), real.bytes.end());
  raw.back() = static_cast<uint8_t>((raw.back() + 1) % 10);
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(raw));
  fs::copy_file(std::string(MT_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz", images_path());
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); },
               {labels_path(), "does not match the official MNIST file t10k-labels-idx1-ubyte", "CRC32 4ab9eff9",
                "verify = false"});
  EXPECT_EQ(MNIST(Split::Test, {.dir = dir_.string(), .verify = false}).label(9999), 7);
  // A recompressed official file is still official: the content is what is checked.
  std::vector<uint8_t> official = idx_bytes(0x08, {10000}, 0);
  official.insert(official.end(), real.bytes.begin(), real.bytes.end());
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(official));
  EXPECT_EQ(MNIST(Split::Test, {.dir = dir_.string()}).label(9999), 6);
  // Small foreign files with the official names: the size alone gives them away.
  write_mnist_test(idx_bytes(0x08, {4, 28, 28}, 4 * 784), idx_bytes(0x08, {4}, 4, 3));
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); },
               {images_path(), "expected 7840016 bytes with CRC32 91373bdf", "got 3152 bytes"});
  EXPECT_EQ(MNIST(Split::Test, {.dir = dir_.string(), .verify = false}).size(), 4);
}

// --- Content verification of the official files --------------------------------------------------------------

TEST(Md5, RfcTestSuiteAndPiecewiseUpdates) {
  auto md5 = [](const std::string& text) {
    return md5_hex(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  };
  // RFC 1321, appendix A.5.
  EXPECT_EQ(md5(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(md5("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(md5("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), "d174ab98d277d9f5a5611c2c9f419d9f");
  const std::string digits =
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  EXPECT_EQ(md5(digits), "57edf4a22be3c955ac49da2e2107b67a");
  // Pieces across the 64-byte blocks, and lengths around the 56-byte padding boundary (Python's hashlib).
  Md5 pieces;
  for (std::size_t at = 0, n = 1; at < digits.size(); at += n, n = n * 2 + 1)
    pieces.update(std::span(reinterpret_cast<const uint8_t*>(digits.data()) + at, std::min(n, digits.size() - at)));
  EXPECT_EQ(pieces.hex(), md5(digits));
  EXPECT_EQ(md5(std::string(55, 'x')), "04364420e25c512fd958a70738aa8f72");
  EXPECT_EQ(md5(std::string(56, 'x')), "668a72d5ba17f08e62dabcafad6db14b");
  EXPECT_EQ(md5(std::string(64, 'x')), "c1bb4f81d892b2d57947682aeb252456");
}

TEST(DatasetsReal, TheMd5OfTheStoredFileIsThePublishersChecksum) {
  REQUIRE_MNIST_TEST();
  const std::string dir = MT_MNIST_DIR;
  // The values cmake/fetch_data.cmake checks downloads against (torchvision's).
  EXPECT_EQ(read_idx(dir + "/t10k-images-idx3-ubyte.gz", {.file_md5 = true}).file_md5,
            "9fb629c4189551a2d022fa330f9573f3");
  EXPECT_EQ(read_idx(dir + "/t10k-labels-idx1-ubyte.gz", {.file_md5 = true}).file_md5,
            "ec29112dd5afa0611ce80d1b7f02629c");
  EXPECT_EQ(read_idx(dir + "/t10k-labels-idx1-ubyte.gz").file_md5, "") << "hashed without being asked";
}

TEST(DatasetsReal, PixelStatisticsOfTheMnistTestSplit) {
  REQUIRE_MNIST_TEST();
  // NumPy (tests/data_reference/pixel_sums.py): mean 0.132515, std 0.310480.
  const PixelStatistics stats = pixel_statistics(MNIST(Split::Test, {.dir = MT_MNIST_DIR}));
  EXPECT_NEAR(stats.mean, 0.132515, 1e-6);
  EXPECT_NEAR(stats.std, 0.310480, 1e-6);
  const ImageDataset none("none", {}, {}, 28, 28, {"0"});
  EXPECT_THROW(pixel_statistics(none), Error);
}

// The MNIST test split, every pixel v turned into 255 - v, six times over: 60000 real (inverted) digits, of
// the official training files' shape and sizes, and their labels.
struct InvertedDigits {
  std::vector<uint8_t> images, labels;
};

InvertedDigits inverted_digits(int copies) {
  const IdxArray images = read_idx(std::string(MT_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz");
  const IdxArray labels = read_idx(std::string(MT_MNIST_DIR) + "/t10k-labels-idx1-ubyte.gz");
  const auto n = static_cast<uint32_t>(10000 * copies);
  InvertedDigits out{idx_bytes(0x08, {n, 28, 28}, 0), idx_bytes(0x08, {n}, 0)};
  for (int c = 0; c < copies; ++c) {
    for (uint8_t v : images.bytes) out.images.push_back(static_cast<uint8_t>(255 - v));
    out.labels.insert(out.labels.end(), labels.bytes.begin(), labels.bytes.end());
  }
  return out;
}

TEST_F(DatasetsBadFiles, SixtyThousandInvertedDigitsAreRefusedAsMnistAndLoadAsIdxData) {
  REQUIRE_MNIST_TEST();
  const InvertedDigits train = inverted_digits(6);
  ASSERT_EQ(train.images.size(), 47040016u) << "the official training images' size";
  ASSERT_EQ(train.labels.size(), 60008u);
  write("train-images-idx3-ubyte.gz", gzip_bytes(train.images, 1));
  write("train-labels-idx1-ubyte.gz", gzip_bytes(train.labels, 1));
  const std::string images = (dir_ / "train-images-idx3-ubyte.gz").string();
  expect_error([&] { MNIST(Split::Train, {.dir = dir_.string()}); },
               {images, "not the official MNIST file train-images-idx3-ubyte.gz", "its size is right (47040016 bytes",
                "not the official f68b3c2dcbeaaa9fbdd348bbdeb94873", "IdxDataset"});
  // Decompressed, the same: only the official .gz is known.
  fs::remove(images);
  write("train-images-idx3-ubyte", train.images);
  expect_error([&] { MNIST(Split::Train, {.dir = dir_.string()}); },
               {(dir_ / "train-images-idx3-ubyte").string(), "not the official MNIST file", "its MD5 is"});
  // The CRC32 that cmake/fetch_data.cmake records beside a .gz it verified lets a copy of that content pass: here
  // records of these very files, as if they were the official ones (a record is believed as the script's word).
  auto record = [&](const std::string& stem, const std::vector<uint8_t>& content, uint32_t flip, uint64_t size) {
    char text[48];
    std::snprintf(text, sizeof text, "%08x %llu\n",
                  static_cast<uint32_t>(crc32(0, content.data(), static_cast<uInt>(content.size()))) ^ flip,
                  static_cast<unsigned long long>(size));
    return write(stem + ".crc32", std::vector<uint8_t>(text, text + std::strlen(text)));
  };
  const std::string images_record = record("train-images-idx3-ubyte", train.images, 0, train.images.size());
  record("train-labels-idx1-ubyte", train.labels, 0, train.labels.size());
  const MNIST recorded(Split::Train, {.dir = dir_.string()});
  EXPECT_EQ(recorded.size(), 60000);
  EXPECT_EQ(recorded.image(0)[7 * 28 + 6], 255 - 84);
  char wanted[16];
  std::snprintf(wanted, sizeof wanted, "%08x", static_cast<uint32_t>(crc32(0, train.images.data(), static_cast<uInt>(train.images.size()))));
  record("train-images-idx3-ubyte", train.images, 1, train.images.size());
  expect_error([&] { MNIST(Split::Train, {.dir = dir_.string()}); },
               {(dir_ / "train-images-idx3-ubyte").string(), std::string("its content's CRC32 is ") + wanted,
                "recorded in " + images_record, "IdxDataset"});
  record("train-images-idx3-ubyte", train.images, 0, 7840016);
  expect_error([&] { MNIST(Split::Train, {.dir = dir_.string()}); },
               {images_record, "records 7840016 bytes of content", "holds 47040016"});
  write("train-images-idx3-ubyte.crc32", {'9', '1', '3', '7', '\n'});
  expect_error([&] { MNIST(Split::Train, {.dir = dir_.string()}); },
               {images_record, "not a record written by cmake/fetch_data.cmake"});
  EXPECT_EQ(MNIST(Split::Train, {.dir = dir_.string(), .verify = false}).size(), 60000);

  // As data of one's own they load, with MNIST's classes from the labels.
  const IdxDataset own(Split::Train, {.dir = dir_.string()});
  ASSERT_EQ(own.size(), 60000);
  EXPECT_EQ(own.name(), dir_.filename().string() + " train");
  EXPECT_EQ(own.class_names(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  EXPECT_EQ(own.label(0), 7);
  EXPECT_EQ(own.label(59999), 6);
  EXPECT_EQ(own.image(0)[7 * 28 + 6], 255 - 84);
  EXPECT_EQ(own.image(50000)[7 * 28 + 6], 255 - 84);
  // Their statistics are those of the test split mirrored: 1 - 0.132515, and the same spread.
  const PixelStatistics stats = pixel_statistics(own);
  EXPECT_NEAR(stats.mean, 0.867485, 1e-6);
  EXPECT_NEAR(stats.std, 0.310480, 1e-6);

  // The official test files beside them are still accepted as MNIST's (their content's CRC32 is known).
  fs::copy_file(std::string(MT_MNIST_DIR) + "/t10k-images-idx3-ubyte.gz", images_path());
  fs::copy_file(std::string(MT_MNIST_DIR) + "/t10k-labels-idx1-ubyte.gz", labels_path());
  EXPECT_EQ(MNIST(Split::Test, {.dir = dir_.string()}).size(), 10000);
}

TEST_F(DatasetsBadFiles, TheRefusalOffersTheCallersRemedy) {
  write_mnist_test(idx_bytes(0x08, {4, 28, 28}, 4 * 784), idx_bytes(0x08, {4}, 4, 3));
  const std::string message = mt::test::error_message([&] {
    MNIST(Split::Test, {.dir = dir_.string(), .how_to_load_other_data = "use --dataset idx"});
  });
  EXPECT_NE(message.find("expected 7840016 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("; or use --dataset idx."), std::string::npos) << message;
  EXPECT_EQ(message.find("DatasetOptions"), std::string::npos) << message;
  const std::string missing = mt::test::error_message(
      [&] { MNIST(Split::Train, {.dir = dir_.string(), .how_to_choose_dir = "pass --data DIR"}); });
  EXPECT_NE(missing.find("; or pass --data DIR."), std::string::npos) << missing;
  EXPECT_EQ(missing.find("DatasetOptions"), std::string::npos) << missing;
}

// --- IdxDataset: MNIST's format, one's own data ---------------------------------------------------------------

class IdxDatasetFiles : public IdxFiles {
 protected:
  // Images whose pixels all equal their index (mod 256), and `labels`.
  void write_split(const std::string& prefix, const std::vector<uint8_t>& labels, bool gzip) {
    const auto n = static_cast<uint32_t>(labels.size());
    std::vector<uint8_t> images = idx_bytes(0x08, {n, 28, 28}, 0);
    for (uint32_t i = 0; i < n; ++i) images.resize(images.size() + 784, static_cast<uint8_t>(i));
    std::vector<uint8_t> label_file = idx_bytes(0x08, {n}, 0);
    label_file.insert(label_file.end(), labels.begin(), labels.end());
    const std::string suffix = gzip ? ".gz" : "";
    write(prefix + "-images-idx3-ubyte" + suffix, gzip ? gzip_bytes(images) : images);
    write(prefix + "-labels-idx1-ubyte" + suffix, gzip ? gzip_bytes(label_file) : label_file);
  }
  void write_text(const std::string& name, const std::string& text) {
    write(name, std::vector<uint8_t>(text.begin(), text.end()));
  }
  DatasetOptions options() const { return {.dir = dir_.string()}; }
};

TEST_F(IdxDatasetFiles, ClassesComeFromTheLabelsOfBothSplits) {
  write_split("train", {0, 4, 1, 1, 3}, false);  // plain files
  write_split("t10k", {2, 0, 1}, true);          // gzip
  const IdxDataset train(Split::Train, options()), test(Split::Test, options());
  const std::vector<std::string> five = {"0", "1", "2", "3", "4"};
  EXPECT_EQ(train.class_names(), five);
  EXPECT_EQ(test.class_names(), five) << "the test split's own labels only reach 2";
  EXPECT_EQ(train.name(), dir_.filename().string() + " train");
  EXPECT_EQ(test.name(), dir_.filename().string() + " test");
  ASSERT_EQ(train.size(), 5);
  ASSERT_EQ(test.size(), 3);
  EXPECT_EQ(train.label(1), 4);
  EXPECT_EQ(train.image(3)[500], 3);
  EXPECT_EQ(test.label(0), 2);
  // Without the other split's files, the split's own labels decide.
  fs::remove(dir_ / "train-labels-idx1-ubyte");
  EXPECT_EQ(IdxDataset(Split::Test, options()).class_names(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(IdxDataset(Split::Test, {.dir = dir_.string() + "/"}).name(), dir_.filename().string() + " test");
}

TEST_F(IdxDatasetFiles, ClassesTxtNamesTheClassesInLabelOrder) {
  write_split("train", {0, 2, 1}, true);
  write_split("t10k", {1, 1}, true);
  write_text("classes.txt", "cat\ndog\nsea lion\n");
  EXPECT_EQ(IdxDataset(Split::Train, options()).class_names(), (std::vector<std::string>{"cat", "dog", "sea lion"}));
  write_text("classes.txt", "cat\r\ndog\r\nsea lion");  // \r\n, no final newline
  EXPECT_EQ(IdxDataset(Split::Test, options()).class_names(), (std::vector<std::string>{"cat", "dog", "sea lion"}));
  const std::string names = (dir_ / "classes.txt").string();
  // Fewer names than the labels need: the label and the file holding it are named.
  write_text("classes.txt", "cat\ndog\n");
  expect_error([&] { IdxDataset(Split::Test, options()); },
               {(dir_ / "train-labels-idx1-ubyte.gz").string(), "label 2", names, "names 2 classes (labels 0..1)"});
  // More names than labels: the count must match.
  write_text("classes.txt", "cat\ndog\nsea lion\nowl\n");
  expect_error([&] { IdxDataset(Split::Train, options()); },
               {names, "names 4 classes", "only reach 2 (3 classes)"});
  write_text("classes.txt", "cat\n\nsea lion\n");
  expect_error([&] { IdxDataset(Split::Train, options()); }, {names, "line 2 is empty"});
  write_text("classes.txt", "");
  expect_error([&] { IdxDataset(Split::Train, options()); }, {names, "line 1 is empty"});
  std::string many;
  for (int i = 0; i < 257; ++i) many.append("c").append(std::to_string(i)).append("\n");
  write_text("classes.txt", many);
  expect_error([&] { IdxDataset(Split::Train, options()); }, {names, "more than 256 class names"});
  fs::remove(dir_ / "classes.txt");
  fs::create_directory(dir_ / "classes.txt");
  expect_error([&] { IdxDataset(Split::Train, options()); }, {names, "is a directory"});
}

TEST_F(IdxDatasetFiles, MnistsStructuralChecksStay) {
  write_split("train", {0, 1}, true);
  write("t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4, 27, 29}, 4 * 27 * 29)));
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4}, 4, 1)));
  expect_error([&] { IdxDataset(Split::Test, options()); }, {images_path(), "ubyte N x 28 x 28", "4 x 27 x 29"});
  write("t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(0x0C, {4, 28, 28}, 4 * 784 * 4)));
  expect_error([&] { IdxDataset(Split::Test, options()); }, {images_path(), "int 4 x 28 x 28"});
  write("t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(0x08, {5, 28, 28}, 5 * 784)));
  expect_error([&] { IdxDataset(Split::Test, options()); }, {"holds 5 images", "holds 4 labels"});
  write("t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4, 28, 28}, 4 * 784)));
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {2, 2}, 4, 1)));
  expect_error([&] { IdxDataset(Split::Test, options()); }, {labels_path(), "ubyte N", "2 x 2"});
  // The other split's labels are read with the same checks.
  write("t10k-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4}, 4, 1)));
  write("train-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(0x08, {2, 1}, 2, 1)));
  expect_error([&] { IdxDataset(Split::Test, options()); }, {"train-labels-idx1-ubyte.gz", "ubyte N", "2 x 1"});
  write("train-labels-idx1-ubyte.gz", kGood);  // not gzip
  expect_error([&] { IdxDataset(Split::Test, options()); }, {"train-labels-idx1-ubyte.gz", "not a gzip file"});
  // The official names mean nothing here: no size or checksum is asked of these files.
  fs::remove(dir_ / "train-labels-idx1-ubyte.gz");
  EXPECT_EQ(IdxDataset(Split::Test, options()).size(), 4);
  // Missing files are named, without MNIST's download command; no directory at all is refused.
  fs::remove(images_path());
  expect_error([&] { IdxDataset(Split::Test, options()); },
               {dir_.filename().string() + " test: files not found", "t10k-images-idx3-ubyte.gz (or t10k-images-idx3-ubyte) missing"});
  EXPECT_EQ(mt::test::error_message([&] { IdxDataset(Split::Test, options()); }).find("cmake"), std::string::npos);
  expect_error([&] { IdxDataset(Split::Test, {}); }, {"IdxDataset: no directory given"});
}

// --- Faults and hostile input -----------------------------------------------------------------------------

// A gzip file of `header` followed by `zeros` zero bytes, compressed as it is made (no buffer of the raw size).
std::vector<uint8_t> gzip_with_zeros(const std::vector<uint8_t>& header, std::size_t zeros) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<uint8_t> out, buffer(1 << 16);
  const std::vector<uint8_t> block(1 << 20, 0);
  auto feed = [&](const uint8_t* data, std::size_t n, int flush) {
    s.next_in = const_cast<Bytef*>(data);
    s.avail_in = static_cast<uInt>(n);
    do {
      s.next_out = buffer.data();
      s.avail_out = static_cast<uInt>(buffer.size());
      deflate(&s, flush);
      out.insert(out.end(), buffer.data(), buffer.data() + (buffer.size() - s.avail_out));
    } while (s.avail_out == 0);
  };
  feed(header.data(), header.size(), Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, block.size());
    feed(block.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  feed(nullptr, 0, Z_FINISH);
  deflateEnd(&s);
  return out;
}

TEST_F(IdxBadFiles, FifosDirectoriesAndDevicesAreRefusedAtOnceWithWhatTheyAre) {
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  alarm(20);  // before the fix, opening the FIFO waited for a writer forever
  expect_read_error(fifo, "is a FIFO");
  expect_error([&] { read_idx_header(fifo); }, {fifo, "is a FIFO"});
  alarm(0);
  expect_read_error(dir_.string(), "is a directory");
  expect_read_error("/dev/zero", "is a device");
  fs::create_symlink("loop", dir_ / "loop");
  expect_read_error((dir_ / "loop").string(), "symlink loop");
  expect_read_error((dir_ / "missing").string(), "missing");
}

TEST_F(IdxBadFiles, APlainFileLongerThanItsHeaderSaysIsRefusedBeforeItsElementsAreRead) {
  // 1 GiB (sparse) after a header announcing 10000 images: refused from the header and the file's size.
  const std::string path = write("long", idx_bytes(0x08, {10000, 28, 28}, 0));
  fs::resize_file(path, std::uintmax_t{1} << 30);
  g_largest_allocation = 0;
  expect_read_error(path, "trailing garbage: " + std::to_string((std::uintmax_t{1} << 30) - 7840016) + " bytes after");
  EXPECT_LE(g_largest_allocation.load(), std::size_t{2} << 20) << "the reader allocated for the file's size";
}

TEST_F(IdxBadFiles, AHeaderOtherThanTheExpectedOneIsRefusedBeforeItsElements) {
  const std::string path = write("images.gz", gzip_with_zeros(idx_bytes(0x08, {200000, 28, 28}, 0), 200000 * 784));
  g_largest_allocation = 0;
  expect_error([&] { read_idx(path, {.expect = IdxHeader{IdxType::UInt8, {10000, 28, 28}}}); },
               {path, "the header says ubyte 200000 x 28 x 28, expected ubyte 10000 x 28 x 28"});
  EXPECT_LE(g_largest_allocation.load(), std::size_t{2} << 20);
  const IdxHeader header = read_idx_header(path);
  EXPECT_EQ(header.dims, (std::vector<int64_t>{200000, 28, 28}));
  EXPECT_EQ(header.content_size(), 16u + 200000u * 784u);
  EXPECT_EQ(read_idx(write("good.gz", gzip_bytes(kGood)), {.expect = IdxHeader{IdxType::UInt8, {3, 28, 28}}}).numel(),
            3 * 784);
}

TEST_F(DatasetsBadFiles, SplitsClaimingMoreThanTheyMayHoldCostNothing) {
  // 200000 real (blank) images under the official test file's name: 157 MB inflated before the fix.
  write("t10k-images-idx3-ubyte.gz", gzip_with_zeros(idx_bytes(0x08, {200000, 28, 28}, 0), 200000 * 784));
  write("t10k-labels-idx1-ubyte.gz", gzip_with_zeros(idx_bytes(0x08, {200000}, 0), 200000));
  g_largest_allocation = 0;
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string()}); },
               {images_path(), "expected 7840016 bytes", "got 156800016 bytes (by its header: shape 200000 x 28 x 28)"});
  EXPECT_LE(g_largest_allocation.load(), std::size_t{2} << 20);
  // Unverified, 100 million labels for 4 images: the counts disagree in the headers, so neither is read.
  write("t10k-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(0x08, {4, 28, 28}, 4 * 784)));
  write("t10k-labels-idx1-ubyte.gz", gzip_with_zeros(idx_bytes(0x08, {100000000}, 0), 100000000));
  g_largest_allocation = 0;
  expect_error([&] { MNIST(Split::Test, {.dir = dir_.string(), .verify = false}); },
               {images_path(), "holds 4 images", labels_path(), "holds 100000000 labels"});
  EXPECT_LE(g_largest_allocation.load(), std::size_t{2} << 20);
}

}  // namespace
}  // namespace mt::datasets
