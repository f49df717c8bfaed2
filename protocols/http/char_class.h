// Byte classes of the HTTP grammar (RFC 9110 / 9112), as 256-entry tables
// so the parser's inner loops cost one load and one test per byte.
//
// Threading: constant data; any thread.
#pragma once

#include <array>
#include <cstdint>

namespace reactor::http {

namespace detail {

enum : uint8_t {
  kTokenBit = 1,        // tchar: method names, field names
  kTargetBit = 2,       // request-target bytes: visible ASCII and obs bytes
  kFieldValueBit = 4,   // field-vchar, SP, HTAB, obs-text
  kHexBit = 8,          // hex digit
  kUnreservedBit = 16,  // RFC 3986 unreserved: never needs percent-encoding
};

constexpr std::array<uint8_t, 256> make_char_classes() {
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    uint8_t bits = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    bool token = alpha || digit;
    for (char special :
         {'!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~'}) {
      if (c == special) token = true;
    }
    if (token) bits |= kTokenBit;
    if ((c > 0x20 && c < 0x7f) || c >= 0x80) bits |= kTargetBit;
    if ((c >= 0x20 && c != 0x7f) || c == '\t') bits |= kFieldValueBit;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= kHexBit;
    if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~') bits |= kUnreservedBit;
    table[c] = bits;
  }
  return table;
}

inline constexpr std::array<uint8_t, 256> kCharClasses = make_char_classes();

}  // namespace detail

constexpr bool is_token_char(unsigned char c) {
  return detail::kCharClasses[c] & detail::kTokenBit;
}
constexpr bool is_target_char(unsigned char c) {
  return detail::kCharClasses[c] & detail::kTargetBit;
}
constexpr bool is_field_value_char(unsigned char c) {
  return detail::kCharClasses[c] & detail::kFieldValueBit;
}
constexpr bool is_hex_digit(unsigned char c) {
  return detail::kCharClasses[c] & detail::kHexBit;
}
constexpr bool is_unreserved_char(unsigned char c) {
  return detail::kCharClasses[c] & detail::kUnreservedBit;
}
constexpr bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

constexpr int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace reactor::http
