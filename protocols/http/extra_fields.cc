#include "protocols/http/extra_fields.h"

#include <array>

#include "protocols/http/char_class.h"
#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

// Lower case. What each response computes for itself (or what only the
// connection may say): a second copy would contradict it, or smuggle.
constexpr std::array<std::string_view, 19> kServerOwned = {
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "trailer",
    "te",
    "date",
    "content-type",
    "content-range",
    "content-encoding",
    "etag",
    "last-modified",
    "location",
    "server",
    // Written by the server on some answers (ranges, 401, OPTIONS,
    // precompressed files): a second field would contradict it.
    "accept-ranges",
    "www-authenticate",
    "allow",
    "vary",
};

}  // namespace

protocols::Result<void, std::string> add_extra_field(std::string_view line, std::string& fields) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::string("expected 'Name: value'");
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (name.empty()) return std::string("the field name is empty");
  for (const char c : name) {
    if (!is_token_char(static_cast<unsigned char>(c))) {
      return "'" + std::string(name) + "' is not a valid field name";
    }
  }
  for (const char c : value) {
    if (!is_field_value_char(static_cast<unsigned char>(c))) {
      return std::string("the value holds a control character");
    }
  }
  for (const std::string_view owned : kServerOwned) {
    if (equals_lower(name, owned)) {
      return "'" + std::string(name) + "' is set by the server itself";
    }
  }
  if (equals_lower(name, "cache-control")) {
    return std::string("use --cache-control for Cache-Control");
  }
  fields += name;
  fields += ": ";
  fields += value;
  fields += "\r\n";
  return {};
}

}  // namespace reactor::http
