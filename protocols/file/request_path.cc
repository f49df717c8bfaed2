#include "protocols/file/request_path.h"

#include <cstdint>

namespace reactor::file {

std::string RequestPath::joined() const {
  std::string path;
  for (const std::string& component : components) {
    if (!path.empty()) path.push_back('/');
    path.append(component);
  }
  return path;
}

RequestPath RequestPath::parent() const {
  RequestPath result;
  if (!components.empty()) result.components.assign(components.begin(), components.end() - 1);
  return result;
}

const std::string& RequestPath::name() const {
  static const std::string kEmpty;
  return components.empty() ? kEmpty : components.back();
}

std::pair<char32_t, size_t> decode_utf8(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return {lead, 1};
  size_t length;
  char32_t code;
  char32_t minimum;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, code = lead & 0x1f, minimum = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code = lead & 0x0f, minimum = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, code = lead & 0x07, minimum = 0x10000;
  } else {
    return {0, 0};  // a continuation byte first, or 0xF8..0xFF
  }
  if (text.size() < length) return {0, 0};
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return {0, 0};
    code = (code << 6) | (byte(i) & 0x3f);
  }
  if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return {0, 0};
  return {code, length};
}

bool is_valid_utf8(std::string_view text) {
  while (!text.empty()) {
    const size_t length = decode_utf8(text).second;
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

Outcome<RequestPath> parse_request_path(std::string_view raw) {
  if (raw.size() > kMaxPathBytes) {
    return RequestError{ErrorCode::kTooLarge,
                        "path longer than " + std::to_string(kMaxPathBytes) + " bytes"};
  }
  if (!raw.empty() && raw.front() == '/') {
    return RequestError{ErrorCode::kForbidden, "absolute paths are not allowed"};
  }
  if (raw.find('\0') != std::string_view::npos) {
    return RequestError{ErrorCode::kForbidden, "path contains a NUL byte"};
  }
  if (!is_valid_utf8(raw)) return RequestError{ErrorCode::kForbidden, "path is not valid UTF-8"};

  RequestPath path;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('/', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view component = raw.substr(start, end - start);
    start = end + 1;
    if (component.empty() || component == ".") continue;
    if (component == "..") {
      // Lexical, as the contract says: "a/../.." leaves the root even if
      // "a" is a symlink that would lead somewhere else.
      if (path.components.empty()) {
        return RequestError{ErrorCode::kForbidden, "path leads outside the served directory"};
      }
      path.components.pop_back();
      continue;
    }
    if (component.size() > kMaxNameBytes) {
      return RequestError{ErrorCode::kTooLarge, "a path component is longer than " +
                                                    std::to_string(kMaxNameBytes) + " bytes"};
    }
    path.components.emplace_back(component);
  }
  return path;
}

}  // namespace reactor::file
