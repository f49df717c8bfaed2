#include "protocols/file/escaped_text.h"

#include <cstdio>

#include "protocols/file/request_path.h"

namespace reactor::file {

namespace {

// Characters a terminal does not show but that move or split the text
// around them (right-to-left overrides make "txt.exe" read "exe.txt").
bool is_invisible_reordering(char32_t code) {
  return (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ||
         code == 0x200e || code == 0x200f || code == 0x061c || code == 0x2028 || code == 0x2029;
}

}  // namespace

std::string escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char escape[16];
  while (!text.empty()) {
    auto [code, length] = decode_utf8(text);
    if (length == 0) {
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned char>(text[0]));
      out += escape;
      text.remove_prefix(1);
      continue;
    }
    if (code == '\\') {
      out += "\\\\";
    } else if (code == '\n') {
      out += "\\n";
    } else if (code == '\r') {
      out += "\\r";
    } else if (code == '\t') {
      out += "\\t";
    } else if (code < 0x20 || code == 0x7f || (code >= 0x80 && code < 0xa0)) {
      // C1 controls as \xNN of the code point: 0x9b is a CSI on some terminals.
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(code));
      out += escape;
    } else if (is_invisible_reordering(code)) {
      std::snprintf(escape, sizeof escape, "\\u{%04x}", static_cast<unsigned>(code));
      out += escape;
    } else {
      out += text.substr(0, length);
    }
    text.remove_prefix(length);
  }
  return out;
}

}  // namespace reactor::file
