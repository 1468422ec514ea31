// Files under faults and hostile input: InputFile refuses what is not a regular file without blocking,
// AtomicFile never leaves a half-written target or falsely succeeds, and checkpoints built on them cost what
// the model costs, not what the file claims.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "nn/nn.h"
#include "tensor/file_io.h"
#include "tests/error_message.h"
#include "tests/test_directory.h"

namespace mt {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Writes beyond `bytes` fail with EFBIG while alive, as on a full disk, even for root (RLIMIT_FSIZE binds root
// too); SIGXFSZ is ignored so that the failure arrives as an error from write().
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_);
  }

 private:
  rlimit saved_{};
  void (*previous_)(int) = nullptr;
};

// The entries of `dir` (names only), to see that nothing temporary is left behind.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A process id that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

class FileIo : public ::testing::Test {
 protected:
  const test::TestDirectory directory_;
  const fs::path& dir_ = directory_.path();
};

TEST_F(FileIo, InputFileSaysWhatItFoundInsteadOfARegularFile) {
  // A FIFO with no writer would block a plain open() forever: the alarm turns such a hang into a failure.
  ASSERT_EQ(mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  fs::create_directory(dir_ / "directory");
  fs::create_symlink("loop_b", dir_ / "loop_a");
  fs::create_symlink("loop_a", dir_ / "loop_b");
  alarm(20);
  EXPECT_NE(test::error_message([&] { InputFile f(dir_ / "fifo", "fifo"); }).find("fifo: cannot open: is a FIFO"), std::string::npos);
  alarm(0);
  EXPECT_NE(test::error_message([&] { InputFile f(dir_ / "directory", "d"); }).find("is a directory"), std::string::npos);
  EXPECT_NE(test::error_message([&] { InputFile f("/dev/zero", "z"); }).find("is a device"), std::string::npos);
  EXPECT_NE(test::error_message([&] { InputFile f(dir_ / "loop_a", "l"); }).find("symlink loop"), std::string::npos);
  EXPECT_NE(test::error_message([&] { InputFile f(dir_ / "none", "n"); }).find("missing"), std::string::npos);

  write_text(dir_ / "text", "hello");
  InputFile f(dir_ / "text", "text");
  EXPECT_EQ(f.size(), 5u);
  char buf[8] = {};
  EXPECT_EQ(f.read(buf, sizeof buf), 5u);
  EXPECT_EQ(std::string(buf), "hello");
  EXPECT_TRUE(f.read_at(buf, 2, 3));
  EXPECT_EQ(std::string(buf, 2), "lo");
  EXPECT_FALSE(f.read_at(buf, 4, 3));
}

TEST_F(FileIo, AtomicFileReplacesTheTargetOnlyWhenComplete) {
  const fs::path target = dir_ / "metrics.csv";
  write_text(target, "old");
  {
    AtomicFile file(target);
    file.write("new contents");
    EXPECT_EQ(read_text(target), "old");  // nothing visible before commit
    EXPECT_EQ(entries(dir_).size(), 2u);
    file.commit();
  }
  EXPECT_EQ(read_text(target), "new contents");
  {
    AtomicFile abandoned(target);
    abandoned.write("never committed");
  }
  EXPECT_EQ(read_text(target), "new contents");
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"metrics.csv"});
}

TEST_F(FileIo, AWriteFailureIsAnErrorNamingTheFileAndLeavesTheOldContents) {
  const fs::path target = dir_ / "metrics.json";
  write_text(target, "old");
  std::string message;
  {
    const FileSizeLimit full(100);
    message = test::error_message([&] { write_file_atomically(target, std::string(1000, 'x')); });
  }
  EXPECT_NE(message.find(target.string() + ": cannot write: File too large"), std::string::npos) << message;
  EXPECT_EQ(read_text(target), "old");
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"metrics.json"});
  // Writing beyond the write buffer fails in write(), within it in commit(): both are reported.
  {
    const FileSizeLimit full(10);
    message = test::error_message([&] {
      AtomicFile file(target);
      file.write(std::string(1 << 20, 'y'));
      file.commit();
    });
  }
  EXPECT_NE(message.find("cannot write"), std::string::npos) << message;
  EXPECT_EQ(read_text(target), "old");
  EXPECT_NE(test::error_message([&] { write_file_atomically(dir_ / "no" / "such", "x"); }).find("cannot create a temporary file"),
            std::string::npos);
}

TEST_F(FileIo, OrphansOfKilledWritersAreRemovedAndLiveOnesKept) {
  const fs::path target = dir_ / "model.bin";
  const std::string dead = ".model.bin.tmp." + std::to_string(dead_pid()) + ".0";
  const std::string alive = ".model.bin.tmp." + std::to_string(getppid()) + ".0";  // a process that runs
  const std::string other = ".other.bin.tmp." + std::to_string(dead_pid()) + ".0";  // another file's
  for (const std::string& name : {dead, alive, other}) write_text(dir_ / name, std::string(1000, 'z'));
  write_file_atomically(target, "model");
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{alive, other, "model.bin"}));
}

// --- Checkpoints built on them ------------------------------------------------------------------------------

std::shared_ptr<nn::Sequential> small_mlp(Generator& gen) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Linear>(4, 8, gen), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 3, gen)});
}

std::vector<std::vector<double>> snapshot(const nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const Var& p : m.parameters()) out.push_back(p.value().to_vector());
  return out;
}

TEST_F(FileIo, CheckpointLoadRefusesFifosAndDevicesAtOnce) {
  Generator gen(1);
  auto model = small_mlp(gen);
  ASSERT_EQ(mkfifo((dir_ / "model.fifo").c_str(), 0600), 0);
  alarm(20);
  EXPECT_NE(test::error_message([&] { nn::load(*model, dir_ / "model.fifo"); }).find("is a FIFO"), std::string::npos);
  alarm(0);
  EXPECT_NE(test::error_message([&] { nn::load(*model, "/dev/zero"); }).find("is a device"), std::string::npos);
}

TEST_F(FileIo, CheckpointLoadReadsNoMoreThanTheModelCanTake) {
  Generator gen(1);
  auto model = small_mlp(gen);
  // A valid header announcing a 1 GiB payload, in a sparse file of that size: refused from its header.
  const uint64_t payload = uint64_t{1} << 30;
  {
    std::ofstream out(dir_ / "huge.bin", std::ios::binary);
    out.write("MTWEIGHT\x01\x00\x00\x00", 12);
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((payload >> (8 * i)) & 0xff));
  }
  fs::resize_file(dir_ / "huge.bin", 20 + payload + 4);
  const long before = peak_rss_kb();
  const std::string message = test::error_message([&] { nn::load(*model, dir_ / "huge.bin"); });
  EXPECT_NE(message.find("more than this model's tensors could take"), std::string::npos) << message;
  EXPECT_LT(peak_rss_kb() - before, 64 * 1024) << "KB of peak RSS grown by reading the file";
}

TEST_F(FileIo, CheckpointLoadRefusesMoreTensorsThanTheModelCouldTake) {
  Generator gen(1);
  auto model = small_mlp(gen);
  const auto before = snapshot(*model);
  // 100 empty tensors: within the payload limit, each far costlier in memory than its bytes in the file.
  NamedTensors many;
  for (int i = 0; i < 100; ++i) many.emplace_back(std::to_string(i), Tensor::zeros({0}));
  save_tensors(many, dir_ / "many.bin");
  const std::string message = test::error_message([&] { nn::load(*model, dir_ / "many.bin"); });
  EXPECT_NE(message.find("load '" + (dir_ / "many.bin").string() +
                         "': the file holds 100 tensors, more than this model's tensors could take (at most 72)"),
            std::string::npos) << message;
  EXPECT_EQ(snapshot(*model), before);
}

TEST_F(FileIo, CheckpointWithNonFiniteWeightsIsRefused) {
  Generator gen(1), other(2);
  auto model = small_mlp(gen), target = small_mlp(other);
  model->parameters()[2].value().fill_(std::numeric_limits<double>::quiet_NaN());
  nn::save(*model, dir_ / "nan.bin");  // a valid file with a correct CRC
  const auto before = snapshot(*target);
  const std::string message = test::error_message([&] { nn::load(*target, dir_ / "nan.bin"); });
  EXPECT_NE(message.find("'2.weight' holds a non-finite value (NaN or infinity) at element 0"), std::string::npos)
      << message;
  EXPECT_EQ(snapshot(*target), before);
}

TEST_F(FileIo, CheckpointSaveFailureOnAFullDiskKeepsTheOldFile) {
  Generator gen(1), other(2);
  auto model = small_mlp(gen), changed = small_mlp(other);
  const fs::path path = dir_ / "model.bin";
  nn::save(*model, path);
  const std::string good = read_text(path);
  std::string message;
  {
    const FileSizeLimit full(100);
    message = test::error_message([&] { nn::save(*changed, path); });
  }
  EXPECT_NE(message.find(path.string() + ": cannot write: File too large"), std::string::npos) << message;
  EXPECT_EQ(read_text(path), good);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"model.bin"});
  // A save killed halfway left an orphan: the next save removes it.
  write_text(dir_ / (".model.bin.tmp." + std::to_string(dead_pid()) + ".0"), good.substr(0, 100));
  nn::save(*changed, path);
  EXPECT_EQ(entries(dir_), std::vector<std::string>{"model.bin"});
  auto loaded = small_mlp(gen);
  nn::load(*loaded, path);
  EXPECT_EQ(snapshot(*loaded), snapshot(*changed));
}

}  // namespace
}  // namespace mt
