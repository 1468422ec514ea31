#pragma once
// MD5 (RFC 1321): the digest publishers give for their downloads, here to recognise an official file. It is
// no protection against a deliberately forged file, only against a wrong, damaged or substituted one.
#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace mt::datasets {

class Md5 {
 public:
  void update(std::span<const uint8_t> bytes);
  std::string hex() const;  // of everything given so far: 32 lowercase hex digits

 private:
  void block(const uint8_t* p);

  std::array<uint32_t, 4> state_ = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::array<uint8_t, 64> pending_{};
  std::size_t pending_size_ = 0;
  uint64_t length_ = 0;  // bytes given
};

std::string md5_hex(std::span<const uint8_t> bytes);

}  // namespace mt::datasets
