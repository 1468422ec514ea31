#include "nn/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace mt::nn {
namespace {

constexpr char kMagic[8] = {'M', 'T', 'W', 'E', 'I', 'G', 'H', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 8;
constexpr size_t kCrcBytes = 4;

std::string errno_message() { return std::system_category().message(errno); }

// Integers are written a byte at a time from the least significant end, so the file is little-endian on
// every machine; floats go through their bit patterns.
void put(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint32_t crc32_of(const uint8_t* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes a uInt length: feed large payloads in pieces.
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

std::vector<uint8_t> encode_payload(const std::vector<std::pair<std::string, Var>>& named) {
  std::vector<uint8_t> out;
  put(out, named.size(), 4);
  for (const auto& [name, var] : named) {
    const Tensor t = var.value().contiguous();
    put(out, name.size(), 4);
    out.insert(out.end(), name.begin(), name.end());
    put(out, t.dtype() == DType::Float32 ? 0 : 1, 1);
    put(out, static_cast<uint64_t>(t.dim()), 1);
    for (int64_t size : t.shape()) put(out, static_cast<uint64_t>(size), 8);
    if (t.dtype() == DType::Float32) {
      const float* p = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) put(out, std::bit_cast<uint32_t>(p[i]), 4);
    } else {
      const double* p = t.data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) put(out, std::bit_cast<uint64_t>(p[i]), 8);
    }
  }
  return out;
}

// Reads little-endian fields from a byte range; running off its end is an error naming the file.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& where) : data_(data), size_(size), where_(where) {}

  uint64_t get(int bytes) {
    need(static_cast<size_t>(bytes));
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(data_[pos_++]) << (8 * i);
    return value;
  }
  std::string string(size_t length) {
    need(length);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return s;
  }
  bool done() const { return pos_ == size_; }

 private:
  void need(size_t bytes) const {
    if (bytes > size_ - pos_)
      throw Error(where_ + ": malformed payload (a field at payload offset " + std::to_string(pos_) +
                  " runs past its end)");
  }

  const uint8_t* data_;
  size_t size_, pos_ = 0;
  const std::string& where_;
};

std::vector<std::pair<std::string, Tensor>> decode_payload(const uint8_t* data, size_t size, const std::string& where) {
  Reader in(data, size, where);
  const uint64_t count = in.get(4);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (uint64_t k = 0; k < count; ++k) {
    std::string name = in.string(in.get(4));
    const uint64_t dtype_code = in.get(1), ndim = in.get(1);
    if (dtype_code > 1) throw Error(where + ": tensor '" + name + "' has unknown dtype code " + std::to_string(dtype_code));
    if (ndim > static_cast<uint64_t>(Shape::kMaxDims))
      throw Error(where + ": tensor '" + name + "' has " + std::to_string(ndim) + " dims, more than " +
                  std::to_string(Shape::kMaxDims));
    Shape shape;
    uint64_t numel = 1;
    for (uint64_t d = 0; d < ndim; ++d) {
      const uint64_t s = in.get(8);
      // Checked against the payload size before allocating, so a bad size cannot ask for huge memory.
      if (s > size || (s != 0 && numel > size / s))
        throw Error(where + ": tensor '" + name + "' has a size larger than the file");
      numel *= s;
      shape.push_back(static_cast<int64_t>(s));
    }
    const DType dtype = dtype_code == 0 ? DType::Float32 : DType::Float64;
    if (numel * dtype_size(dtype) > size)
      throw Error(where + ": tensor '" + name + "' has more elements than the file");
    Tensor t = Tensor::empty(shape, dtype);
    if (dtype == DType::Float32) {
      float* p = t.data<float>();
      for (uint64_t i = 0; i < numel; ++i) p[i] = std::bit_cast<float>(static_cast<uint32_t>(in.get(4)));
    } else {
      double* p = t.data<double>();
      for (uint64_t i = 0; i < numel; ++i) p[i] = std::bit_cast<double>(in.get(8));
    }
    tensors.emplace_back(std::move(name), std::move(t));
  }
  if (!in.done()) throw Error(where + ": malformed payload (bytes left after the last tensor)");
  return tensors;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path, const std::string& where) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(where + ": cannot open: " + errno_message());
  std::vector<uint8_t> bytes;
  uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string message = errno_message();
      ::close(fd);
      throw Error(where + ": cannot read: " + message);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  return bytes;
}

// Checks the framing (magic, version, size, CRC) and returns the tensors of the payload.
std::vector<std::pair<std::string, Tensor>> parse(const std::vector<uint8_t>& file, const std::string& where) {
  // A file too short to hold the magic is judged by the bytes it has: a prefix of the magic means truncated.
  if (!std::equal(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(std::min(file.size(), sizeof kMagic)), kMagic))
    throw Error(where + ": not a microtorch checkpoint (bad magic; expected the file to start with \"MTWEIGHT\")");
  if (file.size() < kHeaderBytes + kCrcBytes)
    throw Error(where + ": truncated: " + std::to_string(file.size()) + " bytes, shorter than the " +
                std::to_string(kHeaderBytes + kCrcBytes) + "-byte header and CRC");
  Reader header(file.data() + sizeof kMagic, kHeaderBytes - sizeof kMagic, where);
  const uint64_t version = header.get(4), payload_size = header.get(8);
  if (version != kVersion)
    throw Error(where + ": unsupported checkpoint version " + std::to_string(version) + " (this build reads version " +
                std::to_string(kVersion) + ")");
  const uint64_t available = file.size() - kHeaderBytes - kCrcBytes;
  if (payload_size > available)
    throw Error(where + ": truncated: the header announces a " + std::to_string(payload_size) +
                "-byte payload, the file has room for " + std::to_string(available));
  if (payload_size < available)
    throw Error(where + ": " + std::to_string(available - payload_size) + " unexpected bytes after the payload");
  const uint8_t* payload = file.data() + kHeaderBytes;
  Reader trailer(payload + payload_size, kCrcBytes, where);
  const uint32_t stored = static_cast<uint32_t>(trailer.get(4)), computed = crc32_of(payload, payload_size);
  if (stored != computed) {
    char message[96];
    std::snprintf(message, sizeof message, ": CRC mismatch (stored %08x, computed %08x): the payload is corrupt", stored,
                  computed);
    throw Error(where + message);
  }
  return decode_payload(payload, payload_size, where);
}

// False with errno set on failure.
bool write_all(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void save(const Module& module, const std::filesystem::path& path) {
  const std::string where = "save '" + path.string() + "'";
  const std::vector<uint8_t> payload = encode_payload(module.state_dict());
  std::vector<uint8_t> file(kMagic, kMagic + sizeof kMagic);
  put(file, kVersion, 4);
  put(file, payload.size(), 8);
  file.insert(file.end(), payload.begin(), payload.end());
  put(file, crc32_of(payload.data(), payload.size()), 4);

  // The temporary file sits beside the target so that rename() stays within one file system (atomic).
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string hidden = ".";  // built with += because GCC 12 warns falsely (-Wrestrict) on "." + string
  hidden += path.filename().string();
  hidden += ".tmp." + std::to_string(::getpid()) + ".";
  // Not mkstemp: it creates the file 0600, and fixing that needs umask(), which is process-wide. O_EXCL with
  // a name unique per process, and a suffix for threads saving to the same path at once, is just as safe.
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    temp = (dir / (hidden + std::to_string(attempt))).string();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) throw Error(where + ": cannot create a temporary file in '" + dir.string() + "': " + errno_message());
  // The first failure is reported and the temporary file removed, so a failed save leaves the directory as
  // it was; the file is closed in any case, and renamed only when complete.
  const char* failed = nullptr;
  int error = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok && !failed) {
      failed = what;
      error = errno;
    }
    return ok;
  };
  const bool written = check(write_all(fd, file.data(), file.size()), "cannot write") &&
                       check(::fsync(fd) == 0, "cannot flush to disk");
  const bool closed = check(::close(fd) == 0, "cannot close");
  if (written && closed) check(::rename(temp.c_str(), path.c_str()) == 0, "cannot rename the temporary file into place");
  if (failed) {
    ::unlink(temp.c_str());
    throw Error(where + ": " + failed + ": " + std::system_category().message(error));
  }
}

void load(Module& module, const std::filesystem::path& path) {
  const std::string where = "load '" + path.string() + "'";
  const std::vector<std::pair<std::string, Tensor>> stored = parse(read_file(path, where), where);
  const std::vector<std::pair<std::string, Var>> params = module.state_dict();

  auto list = [](const auto& named) {
    std::string names;
    for (const auto& entry : named) names += (names.empty() ? "" : ", ") + entry.first;
    return names;
  };
  std::vector<const Tensor*> sources;
  for (const auto& [name, var] : params) {
    // Explicit capture: clang before version 16 cannot capture a structured binding implicitly.
    const auto it = std::find_if(stored.begin(), stored.end(), [&name = name](const auto& s) { return s.first == name; });
    if (it == stored.end())
      throw Error(where + ": the model's parameter '" + name + "' is not in the file (the file has: " + list(stored) +
                  ")");
    if (it->second.dtype() != var.dtype())
      throw Error(where + ": '" + name + "' is " + dtype_name(it->second.dtype()) + " in the file but " +
                  dtype_name(var.dtype()) + " in the model");
    if (it->second.shape() != var.shape())
      throw Error(where + ": '" + name + "' has shape " + it->second.shape().str() + " in the file but " +
                  var.shape().str() + " in the model");
    sources.push_back(&it->second);
  }
  for (const auto& [name, tensor] : stored) {
    // Explicit captures: clang before version 16 cannot capture a structured binding implicitly.
    const auto used = std::count_if(params.begin(), params.end(), [&name = name](const auto& p) { return p.first == name; });
    const auto copies = std::count_if(stored.begin(), stored.end(), [&name = name](const auto& s) { return s.first == name; });
    if (used == 0)
      throw Error(where + ": the file's tensor '" + name + "' is not a parameter of the model (the model has: " +
                  list(params) + ")");
    if (copies > 1) throw Error(where + ": the file has tensor '" + name + "' more than once");
  }
  // Everything matched: copying can no longer fail, so the model is never left half-loaded.
  for (size_t i = 0; i < params.size(); ++i) params[i].second.value().copy_(*sources[i]);
}

}  // namespace mt::nn
