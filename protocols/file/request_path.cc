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

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<uint8_t>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    size_t extra;
    uint32_t code_point;
    uint32_t minimum;
    if ((byte & 0xE0) == 0xC0) {
      extra = 1;
      code_point = byte & 0x1F;
      minimum = 0x80;
    } else if ((byte & 0xF0) == 0xE0) {
      extra = 2;
      code_point = byte & 0x0F;
      minimum = 0x800;
    } else if ((byte & 0xF8) == 0xF0) {
      extra = 3;
      code_point = byte & 0x07;
      minimum = 0x10000;
    } else {
      return false;  // a continuation byte first, or 0xF8..0xFF
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
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
