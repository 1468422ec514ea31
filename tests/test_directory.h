#pragma once
// A temporary directory of the running test's own. ctest runs tests in parallel processes and two builds may
// test on one machine, so a fixed name under the temp directory is a race: the name holds the suite, the test
// and the process id. The directory starts empty and is removed at the end unless the test failed, so that a
// failure's files stay for a look.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace mt::test {

inline std::filesystem::path test_directory_path() {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::filesystem::path(::testing::TempDir()) /
         ("mt_" + std::string(test->test_suite_name()) + "_" + test->name() + "_" + std::to_string(::getpid()));
}

class TestDirectory {
 public:
  TestDirectory() : path_(test_directory_path()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TestDirectory() {
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(path_);
  }
  TestDirectory(const TestDirectory&) = delete;
  TestDirectory& operator=(const TestDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace mt::test
