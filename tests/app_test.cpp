// End to end: runs the apps/mnist binary on a small real subset of the MNIST test split.
#include <cairo.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>

#include "apps/mnist/models.h"
#include "datasets/datasets.h"
#include "optim/lr_scheduler.h"
#include "tensor/version.h"
#include "tests/test_directory.h"
#include "viz/layout.h"
#include "viz/plot.h"

namespace {

namespace fs = std::filesystem;

struct AppRun {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Each test has its own directory: ctest runs them in parallel.
fs::path test_dir() { return mt::test::test_directory_path(); }

// `shell` runs first in the same shell (ulimit, trap), as a prefix of the command line.
AppRun run_app(const std::string& args, const std::string& shell = "") {
  fs::create_directories(test_dir());
  const fs::path log = test_dir() / "output.txt";
  const std::string command = shell + std::string(MT_MNIST_APP) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

// The app under a resource limit: RLIMIT_FSIZE makes writes beyond `bytes` fail (EFBIG, as on a full disk, root
// included), reported by write() since SIGXFSZ is ignored; RLIMIT_AS makes allocations beyond it fail. The
// output comes through a pipe, which neither limit reaches.
AppRun run_app_with_limit(const std::string& args, int resource, rlim_t bytes) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {-1, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit limit{bytes, bytes};
    std::signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(resource, &limit) != 0) _exit(97);
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    const std::string command = std::string(MT_MNIST_APP) + " " + args;
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  close(pipe_fds[1]);
  std::string output;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) output.append(buffer, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool have_mnist() {
  return fs::exists(fs::path(MT_MNIST_DIR) / "t10k-images-idx3-ubyte.gz") &&
         fs::exists(fs::path(MT_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz");
}

#define REQUIRE_MNIST()                                                                              \
  do {                                                                                               \
    if (!have_mnist()) {                                                                             \
      if (std::getenv("MT_REQUIRE_DATA")) FAIL() << "MNIST test files missing in " << MT_MNIST_DIR; \
      GTEST_SKIP() << "MNIST test files missing in " << MT_MNIST_DIR;                                \
    }                                                                                                \
  } while (0)

// Training on 3500 of the test images, validating on 500 and testing on the other 6000.
std::string train_args(const fs::path& out, int threads) {
  return "train --data " + std::string(MT_MNIST_DIR) + " --train-on-test 4000 --val-size 500 --epochs 1 --threads " +
         std::to_string(threads) + " --seed 3 --quiet --out " + out.string();
}

double test_accuracy(const std::string& output) {
  const auto at = output.find("Test accuracy: ");
  return at == std::string::npos ? -1 : std::stod(output.substr(at + 15));
}

// The CSV without its seconds column, which is the only part allowed to differ between runs.
std::string csv_without_times(const std::string& csv) {
  std::stringstream in(csv), out;
  for (std::string line; std::getline(in, line);) out << line.substr(0, line.rfind(',')) << "\n";
  return out.str();
}

class AppTest : public ::testing::Test {
 protected:
  const mt::test::TestDirectory directory_;  // a failed test's files stay for a look
  const fs::path dir_ = directory_ / "out";
};

TEST_F(AppTest, TrainsWritesEverythingAndIsReproducibleAcrossThreadCounts) {
  REQUIRE_MNIST();
  const AppRun one = run_app(train_args(dir_ / "one", 1));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("Epoch 1/1, Loss: "), std::string::npos) << one.output;
  EXPECT_GT(test_accuracy(one.output), 0.75) << one.output;
  for (const char* name : {"model.bin", "metrics.csv", "metrics.json", "curves.png", "step_loss.png", "confusion.png",
                           "samples.png", "mistakes.png", "weights.png"})
    EXPECT_TRUE(fs::exists(dir_ / "one" / name)) << name << " missing; output:\n" << one.output;

  const std::string csv = read_file(dir_ / "one" / "metrics.csv");
  std::stringstream lines(csv);
  std::string header, row, extra;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_EQ(header, "epoch,loss,train_acc,val_acc,seconds");
  EXPECT_FALSE(std::getline(lines, extra)) << "one epoch, one row: " << csv;
  double epoch, loss, train_acc, val_acc, seconds;
  char c;
  std::stringstream(row) >> epoch >> c >> loss >> c >> train_acc >> c >> val_acc >> c >> seconds;
  EXPECT_EQ(epoch, 1);
  EXPECT_GT(loss, 0.05);
  EXPECT_LT(loss, 1.5);
  EXPECT_GT(train_acc, 0.6);
  EXPECT_GT(val_acc, 0.7);
  EXPECT_NE(read_file(dir_ / "one" / "metrics.json").find("\"test_accuracy\": 0."), std::string::npos);

  const AppRun two = run_app(train_args(dir_ / "two", 2));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(csv_without_times(read_file(dir_ / "two" / "metrics.csv")), csv_without_times(csv));
  EXPECT_TRUE(read_file(dir_ / "two" / "model.bin") == read_file(dir_ / "one" / "model.bin")) << "weights differ";
  EXPECT_EQ(test_accuracy(two.output), test_accuracy(one.output));
}

// `figure` is the cnn's filters figure of `model_file`: 32 tiles of 3 x 3 taps in rows of 8, the size viz lays them
// out at, and each tap's colour that of its weight over the largest |weight| of its filter.
void expect_filters_of(const fs::path& model_file, const fs::path& figure) {
  mt::Generator unused(0);
  const auto cnn = mnist_app::make_cnn(unused, 0);
  mt::nn::load(*cnn, model_file.string());
  const mt::Tensor w = dynamic_cast<const mt::nn::Conv2d&>((*cnn)[0]).weight().value();
  ASSERT_EQ(w.shape(), mt::Shape({32, 1, 3, 3}));
  mt::viz::WeightsOptions options;
  options.image_height = 3;
  options.image_width = 3;
  options.columns = 8;
  const mt::viz::detail::WeightsLayout layout = mt::viz::detail::weights_layout(32, options);
  cairo_surface_t* png = cairo_image_surface_create_from_png(figure.c_str());
  ASSERT_EQ(cairo_surface_status(png), CAIRO_STATUS_SUCCESS) << figure;
  EXPECT_EQ(cairo_image_surface_get_width(png), static_cast<int>(std::ceil(layout.width)));
  EXPECT_EQ(cairo_image_surface_get_height(png), static_cast<int>(std::ceil(layout.height)));
  const unsigned char* data = cairo_image_surface_get_data(png);
  const int stride = cairo_image_surface_get_stride(png);
  const std::vector<double> weights = w.to_vector();
  for (int filter = 0; filter < 32; ++filter) {
    const auto taps = std::span<const double>(weights).subspan(9 * filter, 9);
    double max_abs = 0;
    for (double v : taps) max_abs = std::max(max_abs, std::abs(v));
    const mt::viz::detail::Rect tile = layout.tiles.tile(filter);
    for (int tap = 0; tap < 9; ++tap) {
      const int x = static_cast<int>(tile.x + (tap % 3 + 0.5) * tile.w / 3);
      const int y = static_cast<int>(tile.y + (tap / 3 + 0.5) * tile.h / 3);
      const uint32_t pixel = *reinterpret_cast<const uint32_t*>(data + y * stride + x * 4);
      const uint32_t want = mt::viz::detail::pack(mt::viz::detail::diverging(taps[tap] / max_abs));
      for (int shift : {16, 8, 0})  // red, green, blue: within 2 of 255 (the PNG's rounding)
        EXPECT_NEAR(static_cast<int>((pixel >> shift) & 0xFF), static_cast<int>((want >> shift) & 0xFF), 2)
            << "filter " << filter << ", tap " << tap;
    }
  }
  cairo_surface_destroy(png);
}

TEST_F(AppTest, TrainsTheCnnReproduciblyAndEvalReadsItBack) {
  REQUIRE_MNIST();
  auto cnn_args = [&](const char* sub, int threads) {
    return "train --model cnn --data " + std::string(MT_MNIST_DIR) +
           " --train-on-test 1500 --val-size 300 --epochs 1 --seed 1 --quiet --threads " + std::to_string(threads) +
           " --out " + (dir_ / sub).string();
  };
  const AppRun one = run_app(cnn_args("one", 1));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("870826 parameters"), std::string::npos) << one.output;
  EXPECT_GT(test_accuracy(one.output), 0.75) << one.output;  // one epoch of 1200 images
  expect_filters_of(dir_ / "one" / "model.bin", dir_ / "one" / "filters.png");
  EXPECT_FALSE(fs::exists(dir_ / "one" / "weights.png"));
  const AppRun two = run_app(cnn_args("two", 2) + " --no-figures");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_TRUE(read_file(dir_ / "two" / "model.bin") == read_file(dir_ / "one" / "model.bin")) << "weights differ";
  // eval recognises the cnn from the file and reproduces the test accuracy (running statistics included).
  const AppRun eval = run_app("eval --data " + std::string(MT_MNIST_DIR) + " --train-on-test 1500 --no-figures --model " +
                              (dir_ / "one" / "model.bin").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  char expected[32];
  std::snprintf(expected, sizeof expected, "test accuracy: %.4f", test_accuracy(one.output));
  EXPECT_NE(eval.output.find(expected), std::string::npos) << eval.output << "\nexpected " << expected;
  EXPECT_EQ(run_app("train --model resnet").exit_code, 2);
}

// A digit as an 8-bit greyscale PNG of twice its size, dark ink on white as a person would draw it.
void write_digit_png(std::span<const uint8_t> pixels, const fs::path& png) {
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 56, 56);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x) {
      const uint32_t v = 255 - pixels[(y / 2) * 28 + x / 2];
      reinterpret_cast<uint32_t*>(data + y * stride)[x] = (v << 16) | (v << 8) | v;
    }
  cairo_surface_mark_dirty(surface);
  ASSERT_EQ(cairo_surface_write_to_png(surface, png.c_str()), CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy(surface);
}

TEST_F(AppTest, PredictsAKnownTestImageFromAPng) {
  REQUIRE_MNIST();
  ASSERT_EQ(run_app(train_args(dir_, 2) + " --no-figures").exit_code, 0);
  // Test image 0 is a 7.
  const mt::datasets::MNIST test(mt::datasets::Split::Test, {.dir = MT_MNIST_DIR});
  ASSERT_EQ(test.label(0), 7);
  const fs::path png = dir_ / "seven.png";
  write_digit_png(test.image(0), png);

  const AppRun predicted = run_app("predict --model " + (dir_ / "model.bin").string() + " " + png.string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_NE(predicted.output.find("seven.png: 7\n"), std::string::npos) << predicted.output;
  EXPECT_NE(predicted.output.find("  9: 0."), std::string::npos) << "all ten probabilities are listed";
}

// An IDX file of `dims` holding `elements`, gzipped when the name ends in .gz (at level 1: large files are made).
void write_idx(const fs::path& path, std::vector<uint32_t> dims, const std::vector<uint8_t>& elements) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(d >> shift));
  bytes.insert(bytes.end(), elements.begin(), elements.end());
  if (path.extension() != ".gz") {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return;
  }
  gzFile gz = gzopen(path.c_str(), "wb1");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
}

// Images and labels of one split, named as MNIST names them (`prefix` train or t10k, `suffix` "" or ".gz").
void write_split(const fs::path& dir, const std::string& prefix, const std::string& suffix,
                 const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels) {
  fs::create_directories(dir);
  write_idx(dir / (prefix + "-images-idx3-ubyte" + suffix), {static_cast<uint32_t>(labels.size()), 28, 28}, images);
  write_idx(dir / (prefix + "-labels-idx1-ubyte" + suffix), {static_cast<uint32_t>(labels.size())}, labels);
}

std::string accuracy_text(const std::string& output, const std::string& after) {
  const auto at = output.find(after);
  return at == std::string::npos ? "none" : output.substr(at + after.size(), 6);
}

TEST_F(AppTest, TrainsEvaluatesAndPredictsOnOwnIdxDataWithItsClassNames) {
  REQUIRE_MNIST();
  // The test split's zeros, ones and twos: three classes, 2000 to train on (plain files), the rest to test (gzip).
  const mt::datasets::MNIST mnist(mt::datasets::Split::Test, {.dir = MT_MNIST_DIR});
  std::vector<uint8_t> images[2], labels[2];
  int64_t a_two = -1;
  for (int64_t i = 0; i < mnist.size(); ++i) {
    if (mnist.label(i) > 2) continue;
    const int part = labels[0].size() < 2000 ? 0 : 1;
    if (part == 1 && mnist.label(i) == 2 && a_two < 0) a_two = i;
    images[part].insert(images[part].end(), mnist.image(i).begin(), mnist.image(i).end());
    labels[part].push_back(static_cast<uint8_t>(mnist.label(i)));
  }
  const fs::path data = test_dir() / "digits";
  write_split(data, "train", "", images[0], labels[0]);
  write_split(data, "t10k", ".gz", images[1], labels[1]);
  const std::string model = " --model " + (dir_ / "model.bin").string();
  const std::string common = " --dataset idx --data " + data.string() + " --hidden 32 --quiet";

  const AppRun train = run_app("train" + common + " --epochs 2 --val-size 200 --seed 1 --out " + dir_.string());
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("digits test: 1800 training, 200 validation, " + std::to_string(labels[1].size()) +
                              " test images; 25219 parameters"),
            std::string::npos)
      << "a 784-32-3 mlp: " << train.output;
  EXPECT_GT(test_accuracy(train.output), 0.9) << train.output;
  EXPECT_TRUE(fs::exists(dir_ / "confusion.png")) << train.output;
  // eval normalises as training did (the statistics of the training images, read again): the same accuracy.
  const AppRun eval = run_app("eval" + common + model + " --no-figures");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_EQ(accuracy_text(eval.output, "test accuracy: "), accuracy_text(train.output, "Test accuracy: "))
      << eval.output << train.output;

  const fs::path png = dir_ / "two.png";
  write_digit_png(mnist.image(a_two), png);
  const AppRun numbered = run_app("predict" + common + model + " " + png.string());
  ASSERT_EQ(numbered.exit_code, 0) << numbered.output;
  EXPECT_NE(numbered.output.find("two.png: 2\n  0: 0."), std::string::npos) << numbered.output;
  EXPECT_EQ(numbered.output.find("  3: "), std::string::npos) << "three classes only: " << numbered.output;
  std::ofstream(data / "classes.txt") << "zero\none\ntwo\n";
  const AppRun named = run_app("predict" + common + model + " " + png.string());
  ASSERT_EQ(named.exit_code, 0) << named.output;
  EXPECT_NE(named.output.find("two.png: two\n  zero: 0."), std::string::npos) << named.output;
  EXPECT_NE(named.output.find("\n  two: 0."), std::string::npos) << named.output;

  // The cnn too gets one output per class.
  const fs::path cnn = dir_ / "cnn";
  const AppRun cnn_train = run_app("train" + common + " --model cnn --epochs 1 --val-size 200 --no-figures --out " +
                                   cnn.string());
  ASSERT_EQ(cnn_train.exit_code, 0) << cnn_train.output;
  EXPECT_NE(cnn_train.output.find("; 869027 parameters"), std::string::npos)
      << "870826 less fc 10's 256 x 7 + 7: " << cnn_train.output;
  EXPECT_GT(test_accuracy(cnn_train.output), 0.9) << cnn_train.output;
  const AppRun cnn_named = run_app("predict" + common + " --model " + (cnn / "model.bin").string() + " " + png.string());
  ASSERT_EQ(cnn_named.exit_code, 0) << cnn_named.output;
  EXPECT_NE(cnn_named.output.find("two.png: two\n  zero: 0."), std::string::npos) << cnn_named.output;

  std::ofstream(data / "classes.txt") << "zero\none\ntwo\nthree\n";
  const AppRun too_many = run_app("eval" + common + model);
  EXPECT_EQ(too_many.exit_code, 1) << too_many.output;
  EXPECT_NE(too_many.output.find("classes.txt: names 4 classes, but the labels of digits only reach 2"),
            std::string::npos)
      << too_many.output;
  const AppRun no_dir = run_app("train --dataset idx --quiet");
  EXPECT_EQ(no_dir.exit_code, 2) << no_dir.output;
  EXPECT_EQ(no_dir.output, "mnist: --dataset idx needs --data DIR, the directory holding the four IDX files\n");
}

TEST_F(AppTest, InvertedDigitsAreRefusedAsMnistNamingDatasetIdxAndTrainAsIdxData) {
  REQUIRE_MNIST();
  // 60000 real digits inverted (the test split six times, 255 - v), under the training files' names and sizes,
  // beside the official test files.
  const mt::datasets::MNIST mnist(mt::datasets::Split::Test, {.dir = MT_MNIST_DIR});
  std::vector<uint8_t> images, labels;
  for (int copy = 0; copy < 6; ++copy)
    for (int64_t i = 0; i < mnist.size(); ++i) {
      for (uint8_t v : mnist.image(i)) images.push_back(static_cast<uint8_t>(255 - v));
      labels.push_back(static_cast<uint8_t>(mnist.label(i)));
    }
  const fs::path data = test_dir() / "inverted";
  write_split(data, "train", ".gz", images, labels);
  fs::copy_file(fs::path(MT_MNIST_DIR) / "t10k-images-idx3-ubyte.gz", data / "t10k-images-idx3-ubyte.gz");
  fs::copy_file(fs::path(MT_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz", data / "t10k-labels-idx1-ubyte.gz");

  const AppRun refused = run_app("train --data " + data.string() + " --quiet --out " + dir_.string());
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  for (const char* part : {"train-images-idx3-ubyte.gz: not the official MNIST file train-images-idx3-ubyte.gz",
                           "its MD5 is", "to train on other data in MNIST's format, use --dataset idx --data DIR"})
    EXPECT_NE(refused.output.find(part), std::string::npos) << part << " missing in: " << refused.output;
  EXPECT_EQ(refused.output.find("DatasetOptions"), std::string::npos) << "a C++ field: " << refused.output;
  EXPECT_FALSE(fs::exists(dir_ / "model.bin"));

  // With inverted test images too, the same files train as data of one's own.
  write_split(data, "t10k", ".gz", std::vector<uint8_t>(images.begin(), images.begin() + 10000 * 784),
              std::vector<uint8_t>(labels.begin(), labels.begin() + 10000));
  const AppRun own = run_app("train --dataset idx --data " + data.string() +
                             " --epochs 1 --hidden 32 --seed 1 --quiet --no-figures --out " + dir_.string());
  ASSERT_EQ(own.exit_code, 0) << own.output;
  EXPECT_NE(own.output.find("inverted test: 54000 training, 6000 validation, 10000 test images"), std::string::npos)
      << own.output;
  EXPECT_GT(test_accuracy(own.output), 0.9) << own.output;
}

TEST_F(AppTest, MissingDataNamesTheFilesAndTheFetchCommand) {
  const AppRun run = run_app("--data " + (dir_ / "nowhere").string() + " --quiet");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("nowhere"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("cmake -DDATASET=mnist"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("; or pass --data DIR."), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("DatasetOptions"), std::string::npos) << "a C++ field: " << run.output;
}

TEST_F(AppTest, BadOptionsGiveOneLineAndExitCode2) {
  for (const char* args : {"--epochs zero", "--bogus", "--optimizer rmsprop", "--lr -1", "predict --model x", "--lr inf",
                           "--lr 1e999", "--lr nan", "--hidden 9223372036854775807", "--hidden 4611686018427387904,4"}) {
    const AppRun run = run_app(args);
    EXPECT_EQ(run.exit_code, 2) << args << ": " << run.output;
    EXPECT_EQ(run.output.find('\n'), run.output.size() - 1) << args << " printed more than one line: " << run.output;
  }
  const AppRun version = run_app("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output, "mnist (microtorch) " MT_VERSION_STRING "\n");
  const AppRun help = run_app("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--batch-size N       per process: under mpirun -np N the global batch is N x this [32]"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--dataset NAME       mnist | fashion | idx [mnist]"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("classes named by DIR/classes.txt"), std::string::npos) << help.output;
}

TEST_F(AppTest, DivergenceStopsWithAClearMessageAndKeepsTheLastGoodModel) {
  REQUIRE_MNIST();
  const std::string data = " --data " + std::string(MT_MNIST_DIR) + " --train-on-test 2000 --val-size 200 --quiet --out " +
                           dir_.string();
  ASSERT_EQ(run_app("--epochs 1" + data).exit_code, 0);
  const std::string good_model = read_file(dir_ / "model.bin");
  const AppRun run = run_app("--epochs 1 --lr 100" + data);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("diverged"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("at epoch 1, step "), std::string::npos) << run.output;
  EXPECT_TRUE(read_file(dir_ / "model.bin") == good_model) << "the last good model file must stay intact";
  const AppRun nan = run_app("--epochs 1 --optimizer sgd --lr 1e30" + data);
  EXPECT_EQ(nan.exit_code, 3) << nan.output;
  EXPECT_NE(nan.output.find("the loss became "), std::string::npos) << nan.output;
}

struct Stopped {
  int status;
  std::string log;
};

// Trains for long and sends `signal` once the first epoch has been written, in the middle of a later one.
Stopped stop_training(const fs::path& dir, int signal, const char* epochs = "1000") {
  fs::create_directories(dir);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string log = (dir / "log.txt").string();
    if (!std::freopen(log.c_str(), "w", stdout) || !std::freopen(log.c_str(), "a", stderr)) _exit(99);
    const std::string data = MT_MNIST_DIR, out = dir.string();
    execl(MT_MNIST_APP, MT_MNIST_APP, "--data", data.c_str(), "--train-on-test", "4000", "--val-size", "500", "--epochs",
          epochs, "--quiet", "--no-figures", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  if (pid < 0) return {-1, "fork failed"};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir / "metrics.csv") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, read_file(dir / "log.txt")};
}

TEST_F(AppTest, CtrlCTermAndHupFinishTheStepSaveAndExitWith128PlusTheSignal) {
  REQUIRE_MNIST();
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    const fs::path dir = dir_ / std::to_string(signal);
    // The largest --epochs too: its step history is not reserved up front (that was a bad_alloc at once).
    const Stopped run = stop_training(dir, signal, signal == SIGTERM ? "2147483647" : "1000");
    ASSERT_TRUE(WIFEXITED(run.status)) << "signal " << signal << ": " << run.log;
    EXPECT_EQ(WEXITSTATUS(run.status), 128 + signal) << run.log;
    EXPECT_NE(run.log.find("Interrupted: saved the model and metrics so far."), std::string::npos) << run.log;
    EXPECT_NE(read_file(dir / "metrics.csv").find("\n1,"), std::string::npos);
    EXPECT_GT(fs::file_size(dir / "model.bin"), 900000u);
    const AppRun eval = run_app("eval --data " + std::string(MT_MNIST_DIR) + " --no-figures --model " +
                                (dir / "model.bin").string());
    EXPECT_EQ(eval.exit_code, 0) << "the saved model loads: " << eval.output;
  }
}

// Runs `args` and sends `signal` once the first epoch has been written, in the middle of a later one.
int stop_after_first_epoch(const std::string& args, const fs::path& out, int signal) {
  fs::create_directories(out);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string command = "exec " + std::string(MT_MNIST_APP) + " " + args + " > " + (out / "log.txt").string() + " 2>&1";
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  if (pid < 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(out / "metrics.csv") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The "lr" of each epoch in metrics.json: the rate of its last step, printed to the last bit.
std::vector<double> epoch_rates(const std::string& json) {
  std::vector<double> rates;
  for (size_t at = json.find("\"lr\": "); at != std::string::npos; at = json.find("\"lr\": ", at + 1))
    rates.push_back(std::strtod(json.c_str() + at + 6, nullptr));
  return rates;
}

// The cnn (dropout masks, shifted images, batch norm statistics) on the cosine schedule, stopped by SIGTERM in
// epoch 2 and resumed with --resume: the same weights, metrics and test accuracy as three epochs straight.
TEST_F(AppTest, ResumeAfterASignalEndsWithTheBitsOfAnUninterruptedRun) {
  REQUIRE_MNIST();
  const std::string args = "train --model cnn --data " + std::string(MT_MNIST_DIR) +
                           " --train-on-test 900 --val-size 300 --epochs 3 --seed 4 --quiet --no-figures --threads 2";
  const AppRun straight = run_app(args + " --out " + (dir_ / "straight").string());
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  ASSERT_EQ(stop_after_first_epoch(args + " --out " + (dir_ / "resumed").string(), dir_ / "resumed", SIGTERM), 143)
      << read_file(dir_ / "resumed" / "log.txt");
  const std::string stopped = read_file(dir_ / "resumed" / "log.txt");
  EXPECT_NE(stopped.find("mnist --resume " + (dir_ / "resumed").string() + " goes on from there."), std::string::npos)
      << stopped;
  const AppRun resumed = run_app(args + " --resume " + (dir_ / "resumed").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("Resumed "), std::string::npos) << resumed.output;
  EXPECT_TRUE(read_file(dir_ / "resumed" / "model.bin") == read_file(dir_ / "straight" / "model.bin")) << "weights differ";
  EXPECT_EQ(test_accuracy(resumed.output), test_accuracy(straight.output)) << resumed.output;
  EXPECT_EQ(csv_without_times(read_file(dir_ / "resumed" / "metrics.csv")),
            csv_without_times(read_file(dir_ / "straight" / "metrics.csv")));

  // --schedule cosine is optim::CosineAnnealingLR over every step of the run, stepped after each batch: the
  // rate of each epoch's last step is the scheduler's, to the last bit.
  const std::vector<double> rates = epoch_rates(read_file(dir_ / "straight" / "metrics.json"));
  ASSERT_EQ(rates.size(), 3u);
  const int64_t per_epoch = (600 + 31) / 32;
  mt::Var p(mt::Tensor::zeros({1}), true);
  mt::optim::Adam adam({p}, {.lr = 1e-3});
  mt::optim::CosineAnnealingLR cosine(adam, {.T_max = 3 * per_epoch});
  for (int64_t step = 1; step <= 3 * per_epoch; ++step) {
    if (step % per_epoch == 0) {
      EXPECT_EQ(rates[static_cast<size_t>(step / per_epoch - 1)], adam.learning_rate()) << "step " << step;
    }
    cosine.step();
  }
  EXPECT_EQ(epoch_rates(read_file(dir_ / "resumed" / "metrics.json")), rates);
}

// A run that ended after 1 epoch, resumed with --epochs 3 (a constant rate: the cosine would have been planned
// for the shorter run), ends as a 3-epoch run; checkpoints that do not fit are refused naming the file.
TEST_F(AppTest, ResumeWithMoreEpochsContinuesAFinishedRunAndRefusesWhatDoesNotFit) {
  REQUIRE_MNIST();
  const std::string args = "train --data " + std::string(MT_MNIST_DIR) +
                           " --train-on-test 4000 --val-size 500 --seed 3 --quiet --no-figures --schedule constant";
  const AppRun straight = run_app(args + " --epochs 3 --out " + (dir_ / "straight").string());
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const fs::path run = dir_ / "run";
  ASSERT_EQ(run_app(args + " --epochs 1 --out " + run.string()).exit_code, 0);
  const AppRun resumed = run_app(args + " --epochs 3 --resume " + run.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_TRUE(read_file(run / "model.bin") == read_file(dir_ / "straight" / "model.bin")) << "weights differ";
  EXPECT_EQ(test_accuracy(resumed.output), test_accuracy(straight.output)) << resumed.output;
  EXPECT_EQ(epoch_rates(read_file(run / "metrics.json")), std::vector<double>(3, 1e-3));

  const std::string checkpoint = "resume from '" + (run / "checkpoint.bin").string() + "'";
  const AppRun wider = run_app(args + " --epochs 4 --hidden 512,128,64,32 --resume " + run.string());
  EXPECT_EQ(wider.exit_code, 1) << wider.output;
  EXPECT_NE(wider.output.find(checkpoint + ": '0.weight' has shape [256, 784] in the file but [512, 784] in the model"),
            std::string::npos) << wider.output;
  const AppRun smaller = run_app(args + " --epochs 4 --hidden 64 --resume " + run.string());
  EXPECT_EQ(smaller.exit_code, 1) << smaller.output;
  EXPECT_NE(smaller.output.find(checkpoint + ": the header announces a "), std::string::npos) << smaller.output;
  const AppRun batch = run_app(args + " --epochs 4 --batch-size 64 --resume " + run.string());
  EXPECT_EQ(batch.exit_code, 1) << batch.output;
  EXPECT_NE(batch.output.find(checkpoint + ": the run had 110 batches an epoch, this one has 55"), std::string::npos)
      << batch.output;
  const AppRun reseeded = run_app(args + " --epochs 4 --seed 4 --resume " + run.string());
  EXPECT_EQ(reseeded.exit_code, 1) << reseeded.output;
  EXPECT_NE(reseeded.output.find(checkpoint + ": the run drew its data order from seed 3, this one from 4 (another --seed?)"),
            std::string::npos) << reseeded.output;
  const AppRun sgd = run_app(args + " --epochs 4 --optimizer sgd --resume " + run.string());
  EXPECT_EQ(sgd.exit_code, 1) << sgd.output;
  EXPECT_NE(sgd.output.find(checkpoint + ": the entry 'state.0.exp_avg' is not part of this state"), std::string::npos)
      << sgd.output;
  const AppRun cosine = run_app(args + " --epochs 4 --schedule cosine --resume " + run.string());
  EXPECT_EQ(cosine.exit_code, 1) << cosine.output;
  EXPECT_NE(cosine.output.find("this run has a scheduler"), std::string::npos) << cosine.output;
  // The cosine of a 1-epoch run cannot go on as the cosine of a 2-epoch one.
  const fs::path short_cosine = dir_ / "short_cosine";
  ASSERT_EQ(run_app(args + " --epochs 1 --schedule cosine --out " + short_cosine.string()).exit_code, 0);
  const AppRun longer = run_app(args + " --epochs 2 --schedule cosine --resume " + short_cosine.string());
  EXPECT_EQ(longer.exit_code, 1) << longer.output;
  EXPECT_NE(longer.output.find("'T_max' is 110 in the file but 220 here: the cosine was planned over another number of steps"),
            std::string::npos) << longer.output;
  const AppRun none = run_app(args + " --resume " + (dir_ / "nothing").string());
  EXPECT_EQ(none.exit_code, 1) << none.output;
  EXPECT_NE(none.output.find("checkpoint.bin does not exist"), std::string::npos) << none.output;
  EXPECT_EQ(run_app(args + " --resume " + run.string() + " --out " + (dir_ / "elsewhere").string()).exit_code, 2);
  EXPECT_TRUE(read_file(run / "model.bin") == read_file(dir_ / "straight" / "model.bin")) << "a refused resume wrote";
}

// Ctrl-C after the last epoch, while the cnn tests 9500 images and the figures are drawn: the run still prints
// its test accuracy to a piped stdout, writes what it can and exits 130 (it was killed by the signal before).
TEST_F(AppTest, CtrlCDuringTheFinalEvaluationAndFiguresStillReportsAndExits130) {
  REQUIRE_MNIST();
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(out[0]);
    if (dup2(out[1], STDOUT_FILENO) < 0 || dup2(out[1], STDERR_FILENO) < 0) _exit(99);
    const std::string data = MT_MNIST_DIR, dir = dir_.string();
    execl(MT_MNIST_APP, MT_MNIST_APP, "--model", "cnn", "--data", data.c_str(), "--train-on-test", "500", "--val-size",
          "100", "--epochs", "1", "--quiet", "--out", dir.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  ASSERT_GT(pid, 0);
  close(out[1]);
  std::string output;
  bool signalled = false;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) {
    output.append(buffer, static_cast<size_t>(n));
    // The epoch's line is printed once it is trained; the test split and the figures come after it.
    if (!signalled && output.find("Epoch 1/1") != std::string::npos) {
      kill(pid, SIGINT);
      signalled = true;
    }
  }
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(signalled) << output;
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ": " << output;
  EXPECT_EQ(WEXITSTATUS(status), 130) << output;
  EXPECT_NE(output.find("Test accuracy: 0."), std::string::npos) << output;
  EXPECT_NE(output.find("Interrupted: saved the model and metrics so far."), std::string::npos) << output;
  EXPECT_NE(read_file(dir_ / "metrics.json").find("\"test_accuracy\": 0."), std::string::npos);
}

// --- Faults and hostile input ---------------------------------------------------------------------------

// A small, quick run: 1000 training images, 100 validating, a 16-unit mlp.
std::string quick_args(const fs::path& out) {
  return "train --data " + std::string(MT_MNIST_DIR) + " --train-on-test 1100 --val-size 100 --epochs 1 --hidden 16 " +
         "--seed 1 --quiet --no-figures --out " + out.string();
}

TEST_F(AppTest, AFailedWriteExitsWith1NamingTheFileAndNeverSaysWrote) {
  REQUIRE_MNIST();
  const AppRun full = run_app_with_limit(quick_args(dir_ / "full"), RLIMIT_FSIZE, 0);
  EXPECT_EQ(full.exit_code, 1) << full.output;
  EXPECT_NE(full.output.find((dir_ / "full" / "model.bin").string() + ": cannot write: File too large"),
            std::string::npos)
      << full.output;
  EXPECT_EQ(full.output.find("wrote"), std::string::npos) << full.output;
  EXPECT_FALSE(fs::exists(dir_ / "full" / "model.bin"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "full"), fs::directory_iterator()), 0) << "temporary files left";

  // metrics.csv a symlink to /dev/full: replaced by the real file, which holds the metrics.
  fs::create_directories(dir_ / "link");
  fs::create_symlink("/dev/full", dir_ / "link" / "metrics.csv");
  const AppRun link = run_app(quick_args(dir_ / "link"));
  ASSERT_EQ(link.exit_code, 0) << link.output;
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(dir_ / "link" / "metrics.csv")));
  EXPECT_EQ(read_file(dir_ / "link" / "metrics.csv").rfind("epoch,loss,train_acc,val_acc,seconds\n1,", 0), 0u);

  // The figures of eval: a failed PNG write is named too.
  const AppRun eval = run_app_with_limit("eval --data " + std::string(MT_MNIST_DIR) + " --hidden 16 --out " +
                                                       (dir_ / "figures").string() + " --model " +
                                                       (dir_ / "link" / "model.bin").string(),
                                                   RLIMIT_FSIZE, 1000);
  EXPECT_EQ(eval.exit_code, 1) << eval.output;
  EXPECT_NE(eval.output.find("confusion.png: cannot write: File too large"), std::string::npos) << eval.output;
  EXPECT_EQ(eval.output.find("wrote"), std::string::npos) << eval.output;
  EXPECT_FALSE(fs::exists(dir_ / "figures" / "confusion.png"));
}

TEST_F(AppTest, AModelTooLargeForMemoryIsNamedWithItsSize) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves more address space than the limit allows";
#endif
  REQUIRE_MNIST();
  // 10^10 weights (40 GB) under a 4 GB address space: an allocation fails, whatever the machine's memory.
  const AppRun run = run_app_with_limit(quick_args(dir_) + " --hidden 100000,100000", RLIMIT_AS, rlim_t{4} << 30);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("error: out of memory while building the mlp (10079600010 parameters, 40318 MB)"),
            std::string::npos)
      << run.output;
}

TEST_F(AppTest, AnUnwritableOutIsFoundBeforeTraining) {
  REQUIRE_MNIST();
  if (!fs::is_directory("/proc/self")) GTEST_SKIP() << "no /proc";
  // A directory where nobody, root included, can create a file.
  const AppRun run = run_app(quick_args("/proc/self"));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("--out /proc/self: cannot write there"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("Epoch 1/"), std::string::npos) << "trained before finding out: " << run.output;
}

TEST_F(AppTest, ModelAndImageInputsThatAreNotRegularFilesOrNotPngsAreNamed) {
  REQUIRE_MNIST();
  ASSERT_EQ(run_app(quick_args(dir_)).exit_code, 0);
  const std::string model = " --hidden 16 --model " + (dir_ / "model.bin").string() + " ";
  ASSERT_EQ(mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  fs::create_directories(dir_ / "directory");
  // `timeout`: before the fix, opening the FIFO waited forever for a writer.
  const std::string limit = "timeout 60 ";
  const AppRun fifo_model = run_app("eval --no-figures --data " + std::string(MT_MNIST_DIR) + " --model " +
                                        (dir_ / "fifo").string(),
                                    limit);
  EXPECT_EQ(fifo_model.exit_code, 1) << fifo_model.output;
  EXPECT_NE(fifo_model.output.find("cannot open: is a FIFO"), std::string::npos) << fifo_model.output;
  const AppRun dir_model = run_app("predict --model " + (dir_ / "directory").string() + " x.png", limit);
  EXPECT_EQ(dir_model.exit_code, 1) << dir_model.output;
  EXPECT_NE(dir_model.output.find("cannot open: is a directory"), std::string::npos) << dir_model.output;

  const AppRun fifo_png = run_app("predict" + model + (dir_ / "fifo").string(), limit);
  EXPECT_EQ(fifo_png.exit_code, 1) << fifo_png.output;
  EXPECT_NE(fifo_png.output.find("cannot open: is a FIFO"), std::string::npos) << fifo_png.output;

  std::ofstream(dir_ / "text.png") << "this is text, not an image\n";
  const AppRun text = run_app("predict" + model + (dir_ / "text.png").string());
  EXPECT_EQ(text.exit_code, 1) << text.output;
  EXPECT_NE(text.output.find("text.png: not a PNG"), std::string::npos) << text.output;

  // A real PNG cut after 60 bytes: signature and header intact, the image data cut off.
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 64, 64);
  ASSERT_EQ(cairo_surface_write_to_png(surface, (dir_ / "whole.png").c_str()), CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy(surface);
  const std::string whole = read_file(dir_ / "whole.png");
  ASSERT_GT(whole.size(), 100u);
  std::ofstream(dir_ / "cut.png", std::ios::binary) << whole.substr(0, 60);
  const AppRun cut = run_app("predict" + model + (dir_ / "cut.png").string());
  EXPECT_EQ(cut.exit_code, 1) << cut.output;
  EXPECT_NE(cut.output.find("cut.png: corrupt PNG"), std::string::npos) << cut.output;
}

// A valid greyscale PNG of width x height black pixels: zlib packs its rows of zeros about 1000:1.
void write_black_png(const fs::path& path, uint32_t width, uint32_t height) {
  auto be32 = [](std::string& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  std::string png("\x89PNG\r\n\x1a\n", 8);
  auto chunk = [&](const char* type, const std::string& data) {
    be32(png, static_cast<uint32_t>(data.size()));
    const std::string body = type + data;
    png += body;
    be32(png, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  };
  std::string ihdr;
  be32(ihdr, width);
  be32(ihdr, height);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit greyscale, deflate, no filter, no interlace
  chunk("IHDR", ihdr);
  z_stream z{};
  ASSERT_EQ(deflateInit(&z, 9), Z_OK);
  const std::vector<unsigned char> row(width + 1, 0);  // filter byte 0, then the pixels
  std::vector<unsigned char> out(1 << 20);
  std::string idat;
  for (uint32_t y = 0; y <= height; ++y) {
    z.next_in = const_cast<unsigned char*>(row.data());
    z.avail_in = y < height ? static_cast<uInt>(row.size()) : 0;
    do {
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      deflate(&z, y < height ? Z_NO_FLUSH : Z_FINISH);
      idat.append(reinterpret_cast<char*>(out.data()), out.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  chunk("IDAT", idat);
  chunk("IEND", "");
  std::ofstream(path, std::ios::binary) << png;
}

TEST_F(AppTest, APngLargerThanTheLimitIsRefusedFromItsHeader) {
  REQUIRE_MNIST();
  ASSERT_EQ(run_app(quick_args(dir_)).exit_code, 0);
  // 12000 x 12000: 144 million pixels, 2 GB decoded before the fix; a file of about 150 KB.
  write_black_png(dir_ / "huge.png", 12000, 12000);
  const AppRun run = run_app("predict --hidden 16 --model " + (dir_ / "model.bin").string() + " " +
                             (dir_ / "huge.png").string());
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("huge.png: the image is 12000x12000, larger than predict reads (at most 16384 pixels a "
                            "side and 16 million pixels)"),
            std::string::npos)
      << run.output;
}

TEST_F(AppTest, ADivergedModelIsNeverKeptAndNonFiniteMetricsAreNull) {
  REQUIRE_MNIST();
  // One step per epoch at a learning rate of 1e10: the training loss of that step is still finite, the
  // weights it leaves are not usable.
  const AppRun run = run_app("train --data " + std::string(MT_MNIST_DIR) +
                             " --train-on-test 1100 --val-size 100 --batch-size 1000 --epochs 3 --lr 1e10 --schedule "
                             "constant --hidden 16 --quiet --no-figures --out " + dir_.string());
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("after epoch 1 the validation loss is "), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("No model was saved."), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("is kept"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir_ / "model.bin"));

  // Without validation images nothing is recorded as if measured.
  const AppRun none = run_app("train --data " + std::string(MT_MNIST_DIR) +
                              " --train-on-test 1100 --val-size 0 --epochs 1 --hidden 16 --quiet --out " +
                              (dir_ / "none").string());
  ASSERT_EQ(none.exit_code, 0) << none.output;
  const std::string json = read_file(dir_ / "none" / "metrics.json");
  EXPECT_NE(json.find("\"val_loss\": null, \"val_acc\": null"), std::string::npos) << json;
  EXPECT_EQ(json.find("nan"), std::string::npos) << json;
  std::stringstream csv(read_file(dir_ / "none" / "metrics.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_NE(row.find(",,"), std::string::npos) << "an empty val_acc field: " << row;
  EXPECT_NE(none.output.find("Val Acc: - "), std::string::npos) << none.output;
}

}  // namespace
