#include "protocols/http/request.h"

#include <optional>

#include "protocols/http/char_class.h"
#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

bool is_host_char(unsigned char c) {
  if (is_unreserved_char(c)) return true;
  switch (c) {
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '%':
    case '[':
    case ']':
      return true;
    default:
      return false;
  }
}

bool is_valid_host(std::string_view host) {
  for (unsigned char c : host) {
    if (!is_host_char(c)) return false;
  }
  return true;
}

// 1*DIGIT that fits comfortably in 64 bits; anything else (signs, spaces,
// lists such as "5, 5") is invalid.
std::optional<uint64_t> parse_content_length(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(static_cast<unsigned char>(c))) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// Extracts the path of an origin-form or absolute-form target. Returns
// false for forms a GET cannot use.
bool extract_path(std::string_view target, std::string_view& path) {
  if (target.front() != '/') {
    // absolute-form, which RFC 9112 section 3.2.2 says servers MUST accept.
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos) return false;
    const std::string_view scheme = target.substr(0, scheme_end);
    if (!equals_lower(scheme, "http") && !equals_lower(scheme, "https")) return false;
    target.remove_prefix(scheme_end + 3);
    const size_t path_begin = target.find_first_of("/?");
    if (path_begin == std::string_view::npos || target[path_begin] == '?') {
      path = "/";
      return true;
    }
    target.remove_prefix(path_begin);
  }
  path = target.substr(0, target.find('?'));
  return true;
}

// The field names we act on, matched by length first so most unrelated
// fields cost one comparison.
enum class Field : uint8_t {
  kOther,
  kHost,
  kContentLength,
  kTransferEncoding,
  kConnection,
  kExpect,
  kRange,
  kIfRange,
  kIfModifiedSince,
  kReferer,
  kUserAgent,
};

Field classify_field(std::string_view name) {
  switch (name.size()) {
    case 4:
      if (equals_lower(name, "host")) return Field::kHost;
      break;
    case 5:
      if (equals_lower(name, "range")) return Field::kRange;
      break;
    case 6:
      if (equals_lower(name, "expect")) return Field::kExpect;
      break;
    case 7:
      if (equals_lower(name, "referer")) return Field::kReferer;
      break;
    case 8:
      if (equals_lower(name, "if-range")) return Field::kIfRange;
      break;
    case 10:
      if (equals_lower(name, "connection")) return Field::kConnection;
      if (equals_lower(name, "user-agent")) return Field::kUserAgent;
      break;
    case 14:
      if (equals_lower(name, "content-length")) return Field::kContentLength;
      break;
    case 17:
      if (equals_lower(name, "transfer-encoding")) return Field::kTransferEncoding;
      if (equals_lower(name, "if-modified-since")) return Field::kIfModifiedSince;
      break;
    default:
      break;
  }
  return Field::kOther;
}

}  // namespace

Method classify_method(std::string_view method) {
  // Methods are case-sensitive (RFC 9110 section 9.1).
  if (method == "GET") return Method::kGet;
  if (method == "HEAD") return Method::kHead;
  static constexpr std::string_view kRegistered[] = {
      "POST",      "PUT",   "DELETE", "CONNECT", "OPTIONS", "TRACE",  "PATCH", "PROPFIND",
      "PROPPATCH", "MKCOL", "COPY",   "MOVE",    "LOCK",    "UNLOCK", "QUERY"};
  for (std::string_view known : kRegistered) {
    if (method == known) return Method::kOther;
  }
  return Method::kUnknown;
}

protocols::Result<void, Status> analyze_request(const RequestHead& head, Request& request) {
  request = Request();
  request.method = classify_method(head.method);
  request.method_name = head.method;
  request.target = head.target;
  request.version_minor = head.version_minor;
  request.fields = head.fields;

  int host_count = 0;
  int content_length_count = 0;
  int range_count = 0;
  bool has_transfer_encoding = false;
  bool connection_close = false;
  bool connection_keep_alive = false;
  std::string_view last_transfer_coding;

  for (const HeaderField& field : head.fields) {
    switch (classify_field(field.name)) {
      case Field::kHost:
        if (++host_count > 1 || !is_valid_host(field.value)) return Status::kBadRequest;
        request.host = field.value;
        break;
      case Field::kContentLength: {
        // Even identical duplicates are refused: a peer that repeats the
        // field may disagree with an intermediary about which one counts.
        if (++content_length_count > 1) return Status::kBadRequest;
        const std::optional<uint64_t> length = parse_content_length(field.value);
        if (!length) return Status::kBadRequest;
        request.content_length = *length;
        break;
      }
      case Field::kTransferEncoding:
        has_transfer_encoding = true;
        for_each_list_element(field.value, [&](std::string_view coding) {
          last_transfer_coding = coding;
          return false;
        });
        break;
      case Field::kConnection:
        for_each_list_element(field.value, [&](std::string_view option) {
          if (equals_lower(option, "close")) connection_close = true;
          if (equals_lower(option, "keep-alive")) connection_keep_alive = true;
          return false;
        });
        break;
      case Field::kExpect:
        if (equals_lower(field.value, "100-continue")) request.expects_continue = true;
        break;
      case Field::kRange:
        ++range_count;
        request.range = field.value;
        break;
      case Field::kIfRange:
        if (request.if_range.empty()) request.if_range = field.value;
        break;
      case Field::kIfModifiedSince:
        if (request.if_modified_since.empty()) request.if_modified_since = field.value;
        break;
      case Field::kReferer:
        if (request.referer.empty()) request.referer = field.value;
        break;
      case Field::kUserAgent:
        if (request.user_agent.empty()) request.user_agent = field.value;
        break;
      case Field::kOther:
        break;
    }
  }

  if (request.version_minor == 1 && host_count == 0) return Status::kBadRequest;
  if (has_transfer_encoding) {
    // RFC 9112 section 6.1/6.3: both framings at once is a smuggling
    // attempt; a final coding other than chunked leaves the body length
    // unknowable. Either way the connection must not be reused.
    if (content_length_count > 0) return Status::kBadRequest;
    if (!equals_lower(last_transfer_coding, "chunked")) return Status::kBadRequest;
    request.chunked = true;
  }
  // Two Range fields: ambiguous, so ignore ranges and send the whole file.
  if (range_count > 1) request.range = {};

  if (request.version_minor == 1) {
    request.keep_alive = !connection_close;
  } else {
    request.keep_alive = connection_keep_alive && !connection_close;
  }

  // The path first, so a 405 or 501 is still logged with it.
  const bool has_path = extract_path(request.target, request.path);
  if (request.method == Method::kUnknown) return Status::kNotImplemented;
  if (request.method == Method::kOther) return Status::kMethodNotAllowed;
  if (!has_path) return Status::kBadRequest;
  return {};
}

}  // namespace reactor::http
