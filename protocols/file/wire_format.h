// Big-endian field writer and bounds-checked reader for RFTP payloads.
// Internal to the codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace reactor::file::wire {

inline void put_u8(std::string& out, uint8_t value) {
  out.push_back(static_cast<char>(value));
}

inline void put_uint(std::string& out, uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}
inline void put_u16(std::string& out, uint16_t value) {
  put_uint(out, value, 2);
}
inline void put_u32(std::string& out, uint32_t value) {
  put_uint(out, value, 4);
}
inline void put_u64(std::string& out, uint64_t value) {
  put_uint(out, value, 8);
}
inline void put_i64(std::string& out, int64_t value) {
  put_uint(out, static_cast<uint64_t>(value), 8);
}

// `str`: u16 length + bytes.
inline void put_str(std::string& out, std::string_view text) {
  if (text.size() > 0xFFFF) throw std::length_error("RFTP string field longer than 65535 bytes");
  put_u16(out, static_cast<uint16_t>(text.size()));
  out.append(text);
}

inline uint64_t get_uint(const char* data, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  return value;
}

// Reads fields front to back; once a read runs past the end, ok() is false
// and every later read returns zero/empty, so a parser can read all its
// fields and check once.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  uint8_t u8() { return static_cast<uint8_t>(take_uint(1)); }
  uint16_t u16() { return static_cast<uint16_t>(take_uint(2)); }
  uint32_t u32() { return static_cast<uint32_t>(take_uint(4)); }
  uint64_t u64() { return take_uint(8); }
  int64_t i64() { return static_cast<int64_t>(take_uint(8)); }
  std::string_view bytes(size_t count) {
    if (!ok_ || data_.size() - position_ < count) {
      ok_ = false;
      return {};
    }
    std::string_view result = data_.substr(position_, count);
    position_ += count;
    return result;
  }
  std::string str() {
    uint16_t length = u16();
    return std::string(bytes(length));
  }

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? data_.size() - position_ : 0; }
  // All fields read and nothing left over.
  bool finished() const { return ok_ && position_ == data_.size(); }

 private:
  uint64_t take_uint(int count) {
    std::string_view field = bytes(static_cast<size_t>(count));
    return ok_ ? get_uint(field.data(), count) : 0;
  }

  std::string_view data_;
  size_t position_ = 0;
  bool ok_ = true;
};

}  // namespace reactor::file::wire
