#include "protocols/http/content_coding.h"

#include <optional>

#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
std::optional<uint16_t> parse_weight(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  uint16_t value = text[0] == '1' ? 1000 : 0;
  if (text.size() == 1) return value;
  if (text[1] != '.' || text.size() > 5) return std::nullopt;
  uint16_t scale = 100;
  for (const char digit : text.substr(2)) {
    if (digit < '0' || digit > '9') return std::nullopt;
    value = static_cast<uint16_t>(value + (digit - '0') * scale);
    scale /= 10;
  }
  if (value > 1000) return std::nullopt;
  return value;
}

// The weight of one element's parameters ("; q=0.5"), 1000 without one.
std::optional<uint16_t> element_weight(std::string_view parameters) {
  std::optional<uint16_t> weight = 1000;
  while (!parameters.empty()) {
    const size_t next = parameters.find(';', 1);
    std::string_view parameter = trim_ows(parameters.substr(1, next - 1));
    parameters = next == std::string_view::npos ? std::string_view() : parameters.substr(next);
    const size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) continue;
    if (!equals_lower(trim_ows(parameter.substr(0, equals)), "q")) continue;
    weight = parse_weight(trim_ows(parameter.substr(equals + 1)));
  }
  return weight;
}

}  // namespace

AcceptedCodings parse_accept_encoding(std::span<const HeaderField> fields) {
  std::optional<uint16_t> brotli, gzip, identity, any;
  bool present = false;
  for (const HeaderField& field : fields) {
    if (!equals_lower(field.name, "accept-encoding")) continue;
    present = true;
    for_each_list_element(field.value, [&](std::string_view element) {
      const size_t semicolon = element.find(';');
      const std::string_view name = trim_ows(element.substr(0, semicolon));
      const std::optional<uint16_t> weight = element_weight(
          semicolon == std::string_view::npos ? std::string_view() : element.substr(semicolon));
      if (!weight) return false;
      if (equals_lower(name, "br")) {
        brotli = *weight;
      } else if (equals_lower(name, "gzip") || equals_lower(name, "x-gzip")) {
        gzip = *weight;
      } else if (equals_lower(name, "identity")) {
        identity = *weight;
      } else if (name == "*") {
        any = *weight;
      }
      return false;
    });
  }
  AcceptedCodings accepted;
  if (!present) return accepted;
  accepted.brotli = brotli.value_or(any.value_or(0));
  accepted.gzip = gzip.value_or(any.value_or(0));
  accepted.identity = identity.value_or(any.value_or(1));
  return accepted;
}

CodingChoice choose_coding(const AcceptedCodings& accepted, bool have_brotli, bool have_gzip) {
  const uint16_t brotli = have_brotli ? accepted.brotli : 0;
  const uint16_t gzip = have_gzip ? accepted.gzip : 0;
  if (brotli > 0 && brotli >= gzip && brotli >= accepted.identity) return {Coding::kBrotli, false};
  if (gzip > 0 && gzip >= accepted.identity) return {Coding::kGzip, false};
  return {Coding::kIdentity, accepted.identity == 0};
}

std::string_view coding_name(Coding coding) {
  switch (coding) {
    case Coding::kBrotli:
      return "br";
    case Coding::kGzip:
      return "gzip";
    case Coding::kIdentity:
      break;
  }
  return "";
}

}  // namespace reactor::http
