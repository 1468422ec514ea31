// End to end: runs the apps/mnist binary on a small real subset of the MNIST test split.
#include <cairo.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "datasets/datasets.h"
#include "tensor/version.h"

namespace {

namespace fs = std::filesystem;

struct AppRun {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Each test has its own directory: ctest runs them in parallel.
fs::path test_dir() {
  // The process id keeps two builds' test runs on one machine out of each other's way.
  return fs::path(::testing::TempDir()) / ("mnist_app_" + std::string(testing::UnitTest::GetInstance()->current_test_info()->name()) +
                                           "_" + std::to_string(getpid()));
}

AppRun run_app(const std::string& args) {
  fs::create_directories(test_dir());
  const fs::path log = test_dir() / "output.txt";
  const std::string command = std::string(MT_MNIST_APP) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
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
  fs::path dir_ = test_dir() / "out";
  void SetUp() override { fs::remove_all(dir_); }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(test_dir());  // a failed test's files stay for a look
  }
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

TEST_F(AppTest, TrainsTheCnnReproduciblyAndEvalReadsItBack) {
  REQUIRE_MNIST();
  auto cnn_args = [&](const char* sub, int threads) {
    return "train --model cnn --data " + std::string(MT_MNIST_DIR) +
           " --train-on-test 1500 --val-size 300 --epochs 1 --seed 1 --quiet --threads " + std::to_string(threads) +
           " --out " + (dir_ / sub).string();
  };
  const AppRun one = run_app(cnn_args("one", 1));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_NE(one.output.find("421738 parameters"), std::string::npos) << one.output;
  EXPECT_GT(test_accuracy(one.output), 0.75) << one.output;  // one epoch of 1200 images
  EXPECT_TRUE(fs::exists(dir_ / "one" / "filters.png")) << one.output;
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

TEST_F(AppTest, PredictsAKnownTestImageFromAPng) {
  REQUIRE_MNIST();
  ASSERT_EQ(run_app(train_args(dir_, 2) + " --no-figures").exit_code, 0);
  // Test image 0 is a 7; write it as an 8-bit greyscale PNG, dark ink on white as a person would draw it.
  const mt::datasets::MNIST test(mt::datasets::Split::Test, {.dir = MT_MNIST_DIR});
  ASSERT_EQ(test.label(0), 7);
  const auto pixels = test.image(0);
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 56, 56);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x) {
      const uint32_t v = 255 - pixels[(y / 2) * 28 + x / 2];
      reinterpret_cast<uint32_t*>(data + y * stride)[x] = (v << 16) | (v << 8) | v;
    }
  cairo_surface_mark_dirty(surface);
  const fs::path png = dir_ / "seven.png";
  ASSERT_EQ(cairo_surface_write_to_png(surface, png.c_str()), CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy(surface);

  const AppRun predicted = run_app("predict --model " + (dir_ / "model.bin").string() + " " + png.string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  EXPECT_NE(predicted.output.find("seven.png: 7\n"), std::string::npos) << predicted.output;
  EXPECT_NE(predicted.output.find("  9: 0."), std::string::npos) << "all ten probabilities are listed";
}

TEST_F(AppTest, MissingDataNamesTheFilesAndTheFetchCommand) {
  const AppRun run = run_app("--data " + (dir_ / "nowhere").string() + " --quiet");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("nowhere"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("cmake -DDATASET=mnist"), std::string::npos) << run.output;
}

TEST_F(AppTest, BadOptionsGiveOneLineAndExitCode2) {
  for (const char* args : {"--epochs zero", "--bogus", "--optimizer rmsprop", "--lr -1", "predict --model x"}) {
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

TEST_F(AppTest, CtrlCFinishesTheStepSavesAndExits) {
  REQUIRE_MNIST();
  fs::create_directories(dir_);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string log = (dir_ / "log.txt").string();
    if (!std::freopen(log.c_str(), "w", stdout) || !std::freopen(log.c_str(), "a", stderr)) _exit(99);
    const std::string data = MT_MNIST_DIR, out = dir_.string();
    execl(MT_MNIST_APP, MT_MNIST_APP, "--data", data.c_str(), "--train-on-test", "4000", "--val-size", "500", "--epochs",
          "1000", "--quiet", "--no-figures", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(98);
  }
  // Interrupt once the first epoch has been written, in the middle of a later one.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir_ / "metrics.csv") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string log = read_file(dir_ / "log.txt");
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  EXPECT_NE(log.find("Interrupted: saved the model and metrics so far."), std::string::npos) << log;
  EXPECT_NE(read_file(dir_ / "metrics.csv").find("\n1,"), std::string::npos);
  EXPECT_GT(fs::file_size(dir_ / "model.bin"), 900000u);
  const AppRun eval = run_app("eval --data " + std::string(MT_MNIST_DIR) + " --no-figures --model " +
                              (dir_ / "model.bin").string());
  EXPECT_EQ(eval.exit_code, 0) << "the saved model loads: " << eval.output;
}

}  // namespace
