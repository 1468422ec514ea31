#pragma once
// Files read and written so that faults and hostile input cannot hang, half-write or falsely succeed.
//
// InputFile opens regular files only: a directory, FIFO, device, socket or symlink loop is refused at once
// with what was found (a FIFO is opened non-blocking, so a reader never waits for a writer that never comes).
// AtomicFile writes into a temporary file beside the target and renames it over the target when complete:
// a crash, a kill or a full disk leaves the old file or the new one, never a truncated one; every write,
// the flush to disk and the close are checked, and a failure is an mt::Error naming the file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mt {

class InputFile {
 public:
  // `where` starts every message ("load 'model.bin'", or the path itself).
  InputFile(const std::filesystem::path& path, std::string where);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }  // at open time
  const std::string& where() const { return where_; }
  // Up to n bytes from the current position; fewer only at the end of the file.
  std::size_t read(void* out, std::size_t n);
  // Exactly n bytes at `offset`, leaving the position alone; false when the file is shorter.
  bool read_at(void* out, std::size_t n, uint64_t offset);

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string where_;
};

class AtomicFile {
 public:
  // Creates the temporary file `.NAME.tmp.PID.N` in the target's directory, after removing any such file
  // of NAME left by a process that no longer runs (one killed while saving).
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();  // without commit(): the temporary file is removed and the target left as it was
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);  // buffered; throws mt::Error naming the file
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes, syncs to disk, closes and renames over the target; throws mt::Error naming the file.
  void commit();
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush();
  [[noreturn]] void fail(const std::string& what, int error);

  std::filesystem::path path_;
  std::string temp_;
  int fd_ = -1;
  std::vector<char> buffer_;
};

// `contents` into `path` through an AtomicFile.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace mt
