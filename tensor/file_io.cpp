#include "tensor/file_io.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <system_error>

#include "tensor/error.h"

namespace mt {
namespace {

std::string errno_text(int error) { return std::system_category().message(error); }

// What open() or fstat() found instead of a readable regular file, in words.
std::string open_failure(int error) {
  switch (error) {
    case ENOENT: return "missing (no such file)";
    case ENOTDIR: return "missing (a part of the path is not a directory)";
    case ELOOP: return "symlink loop";
    case ENXIO: return "is a socket";
    default: return errno_text(error);
  }
}

const char* not_regular(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISFIFO(mode)) return "is a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "is a device";
  if (S_ISSOCK(mode)) return "is a socket";
  return "is not a regular file";
}

// False with errno set on failure.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// `.NAME.tmp.PID.N` files of processes that no longer run: left by a kill during a save, never to be renamed.
void remove_orphans(const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    long pid = 0;
    const char* digits = name.data() + prefix.size();
    const auto [rest, parse_error] = std::from_chars(digits, name.data() + name.size(), pid);
    if (parse_error != std::errc() || rest == digits || *rest != '.' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours to judge
    std::error_code ignored;
    std::filesystem::remove(it->path(), ignored);
  }
}

constexpr std::size_t kWriteBuffer = std::size_t{1} << 16;

}  // namespace

InputFile::InputFile(const std::filesystem::path& path, std::string where) : where_(std::move(where)) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It is cleared once the file is
  // known to be regular, where it means nothing anyway.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) throw Error(where_ + ": cannot open: " + open_failure(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int error = errno;
    ::close(fd_);
    throw Error(where_ + ": cannot open: " + errno_text(error));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(where_ + ": cannot open: " + not_regular(st.st_mode) + ", not a regular file");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

std::size_t InputFile::read(void* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::read(fd_, static_cast<char*>(out) + done, n - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(where_ + ": cannot read: " + errno_text(errno));
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

bool InputFile::read_at(void* out, std::size_t n, uint64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, static_cast<char*>(out) + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw Error(where_ + ": cannot read: " + errno_text(errno));
    if (got == 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
  // Beside the target, so that rename() stays within one file system and is atomic.
  const std::filesystem::path dir = directory_of(path_);
  std::string prefix = ".";  // built with += because GCC 12 warns falsely (-Wrestrict) on "." + string
  prefix += path_.filename().string();
  prefix += ".tmp.";
  remove_orphans(dir, prefix);
  // Not mkstemp: it creates the file 0600, and fixing that needs umask(), which is process-wide. O_EXCL with
  // a name unique per process, and a suffix for threads writing the same path at once, is just as safe.
  const std::string stem = prefix + std::to_string(::getpid()) + ".";
  for (int attempt = 0; fd_ < 0 && attempt < 100; ++attempt) {
    temp_ = (dir / (stem + std::to_string(attempt))).string();
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    const int error = errno;
    temp_.clear();
    throw Error(path_.string() + ": cannot write: cannot create a temporary file in '" + dir.string() + "': " + errno_text(error));
  }
  buffer_.reserve(kWriteBuffer);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::fail(const std::string& what, int error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
  temp_.clear();
  throw Error(path_.string() + ": " + what + ": " + errno_text(error));
}

void AtomicFile::flush() {
  if (!write_all(fd_, buffer_.data(), buffer_.size())) fail("cannot write", errno);
  buffer_.clear();
}

void AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw Error(path_.string() + ": write after commit or failure");
  const char* bytes = static_cast<const char*>(data);
  while (n > 0) {
    const std::size_t piece = std::min(n, kWriteBuffer - buffer_.size());
    buffer_.insert(buffer_.end(), bytes, bytes + piece);
    bytes += piece;
    n -= piece;
    if (buffer_.size() == kWriteBuffer) flush();
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error(path_.string() + ": commit after commit or failure");
  flush();
  if (::fsync(fd_) != 0) fail("cannot flush to disk", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file into place", errno);
  temp_.clear();
  // The rename itself reaches the disk with the directory; a failure here loses nothing written.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

}  // namespace mt
