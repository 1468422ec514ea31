#include "tensor/tensor_file.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "tensor/file_io.h"

namespace mt {
namespace {

constexpr char kMagic[8] = {'M', 'T', 'W', 'E', 'I', 'G', 'H', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 8;
constexpr size_t kCrcBytes = 4;

// Integers are written a byte at a time from the least significant end, so the file is little-endian on
// every machine; floats go through their bit patterns.
void put(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t size) {
  uLong c = crc;
  // zlib takes a uInt length: feed large payloads in pieces.
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    c = crc32(c, data, chunk);
    data += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(c);
}

uint32_t crc32_of(const uint8_t* data, size_t size) { return crc32_update(static_cast<uint32_t>(crc32(0L, Z_NULL, 0)), data, size); }

// The bytes of one tensor's record before its elements: name, dtype, dims, sizes.
std::vector<uint8_t> record_header(const std::string& name, const Tensor& t) {
  std::vector<uint8_t> out;
  put(out, name.size(), 4);
  out.insert(out.end(), name.begin(), name.end());
  put(out, t.dtype() == DType::Float32 ? 0 : 1, 1);
  put(out, static_cast<uint64_t>(t.dim()), 1);
  for (int64_t size : t.shape()) put(out, static_cast<uint64_t>(size), 8);
  return out;
}


// The payload goes to `file` as it is encoded, a block of elements at a time, so that saving needs no copy of
// the model in memory; the CRC is computed on the way.
uint32_t write_payload(AtomicFile& file, const NamedTensors& named) {
  uint32_t crc = crc32_of(nullptr, 0);
  auto emit = [&](const std::vector<uint8_t>& bytes) {
    crc = crc32_update(crc, bytes.data(), bytes.size());
    file.write(bytes.data(), bytes.size());
  };
  std::vector<uint8_t> bytes;
  put(bytes, named.size(), 4);
  emit(bytes);
  constexpr int64_t kBlock = 8192;  // elements
  for (const auto& [name, tensor] : named) {
    const Tensor t = tensor.contiguous();
    emit(record_header(name, t));
    for (int64_t start = 0; start < t.numel(); start += kBlock) {
      bytes.clear();
      const int64_t stop = std::min(t.numel(), start + kBlock);
      if (t.dtype() == DType::Float32) {
        const float* p = t.data<float>();
        for (int64_t i = start; i < stop; ++i) put(bytes, std::bit_cast<uint32_t>(p[i]), 4);
      } else {
        const double* p = t.data<double>();
        for (int64_t i = start; i < stop; ++i) put(bytes, std::bit_cast<uint64_t>(p[i]), 8);
      }
      emit(bytes);
    }
  }
  return crc;
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

NamedTensors decode_payload(const uint8_t* data, size_t size, uint64_t max_tensors, std::string_view holder,
                            const std::string& where) {
  Reader in(data, size, where);
  const uint64_t count = in.get(4);
  if (count > max_tensors)
    throw Error(where + ": the file holds " + std::to_string(count) + " tensors, more than " + std::string(holder) +
                " could take (at most " + std::to_string(max_tensors) + ")");
  NamedTensors tensors;
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
      float* p = t.mutable_data<float>();
      for (uint64_t i = 0; i < numel; ++i) p[i] = std::bit_cast<float>(static_cast<uint32_t>(in.get(4)));
    } else {
      double* p = t.mutable_data<double>();
      for (uint64_t i = 0; i < numel; ++i) p[i] = std::bit_cast<double>(in.get(8));
    }
    tensors.emplace_back(std::move(name), std::move(t));
  }
  if (!in.done()) throw Error(where + ": malformed payload (bytes left after the last tensor)");
  return tensors;
}

// Checks the framing (magic, version, size, CRC) and returns the tensors of the payload. The header is read
// and checked first, and the payload read only when the file is exactly as long as the header says and no
// larger than the limits: what a file costs is set by the model it is loaded into, not by the file.
NamedTensors parse(InputFile& file, TensorFileLimits limits, std::string_view holder, const std::string& where) {
  uint8_t header_bytes[kHeaderBytes];
  const size_t got = file.read(header_bytes, kHeaderBytes);
  // A file too short to hold the magic is judged by the bytes it has: a prefix of the magic means truncated.
  if (!std::equal(header_bytes, header_bytes + std::min(got, sizeof kMagic), kMagic))
    throw Error(where + ": not a microtorch checkpoint (bad magic; expected the file to start with \"MTWEIGHT\")");
  if (file.size() < kHeaderBytes + kCrcBytes || got < kHeaderBytes)
    throw Error(where + ": truncated: " + std::to_string(file.size()) + " bytes, shorter than the " +
                std::to_string(kHeaderBytes + kCrcBytes) + "-byte header and CRC");
  Reader header(header_bytes + sizeof kMagic, kHeaderBytes - sizeof kMagic, where);
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
  if (payload_size > limits.payload_bytes)
    throw Error(where + ": the header announces a " + std::to_string(payload_size) + "-byte payload, more than " +
                std::string(holder) + " could take (at most " + std::to_string(limits.payload_bytes) + " bytes)");
  std::vector<uint8_t> payload(payload_size + kCrcBytes);
  if (file.read(payload.data(), payload.size()) < payload.size())
    throw Error(where + ": truncated: the file ended while being read (it was shortened meanwhile)");
  Reader trailer(payload.data() + payload_size, kCrcBytes, where);
  const uint32_t stored = static_cast<uint32_t>(trailer.get(4)), computed = crc32_of(payload.data(), payload_size);
  if (stored != computed) {
    char message[96];
    std::snprintf(message, sizeof message, ": CRC mismatch (stored %08x, computed %08x): the payload is corrupt", stored,
                  computed);
    throw Error(where + message);
  }
  return decode_payload(payload.data(), payload_size, limits.tensors, holder, where);
}

}  // namespace

uint64_t tensor_payload_bytes(const NamedTensors& tensors) {
  uint64_t size = 4;
  for (const auto& [name, t] : tensors)
    size += 4 + name.size() + 2 + 8 * static_cast<uint64_t>(t.shape().size()) +
            static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
  return size;
}

void save_tensors(const NamedTensors& tensors, const std::filesystem::path& path) {
  AtomicFile file(path);
  std::vector<uint8_t> header(kMagic, kMagic + sizeof kMagic);
  put(header, kVersion, 4);
  put(header, tensor_payload_bytes(tensors), 8);
  file.write(header.data(), header.size());
  std::vector<uint8_t> crc;
  put(crc, write_payload(file, tensors), 4);
  file.write(crc.data(), crc.size());
  file.commit();
}

NamedTensors load_tensors(const std::filesystem::path& path, TensorFileLimits limits, std::string_view holder,
                          const std::string& where) {
  InputFile file(path, where);
  return parse(file, limits, holder, where);
}

int64_t first_non_finite(const Tensor& tensor) {
  const Tensor t = tensor.contiguous();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(t.dtype() == DType::Float32 ? t.data<float>()[i] : t.data<double>()[i])) return i;
  return -1;
}


}  // namespace mt
