// Request: the meaning of a parsed request head -- method, framing of any
// body, persistence, and the few fields a static file server looks at --
// after the semantic checks RFC 9112 makes mandatory.
//
// Threading: pure functions; any thread. A Request holds views into the
// bytes the RequestHead points into and lives no longer than they do.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/status.h"

namespace reactor::http {

enum class Method : uint8_t {
  kGet,
  kHead,
  kOther,    // registered (POST, PUT...): 405 with Allow: GET, HEAD
  kUnknown,  // a syntactically valid token nobody knows: 501
};

Method classify_method(std::string_view method);

struct Request {
  Method method = Method::kGet;
  std::string_view method_name;
  std::string_view target;  // as received
  std::string_view path;    // the target's path, still percent-encoded
  int version_minor = 1;
  // Persistence after this exchange, from the version and Connection.
  bool keep_alive = true;
  // Framing of a body that follows the head (we never use a body).
  uint64_t content_length = 0;
  bool chunked = false;
  bool expects_continue = false;

  std::string_view host;
  std::string_view range;
  std::string_view if_range;
  std::string_view if_modified_since;
  std::string_view referer;
  std::string_view user_agent;
  // All fields, for list-valued ones that may repeat (If-None-Match).
  std::span<const HeaderField> fields;
};

// Checks and interprets `head` into `request`. Fails with the error status
// (400, 405 or 501) when the request may not be served. On 405/501
// `request` is still filled in (path included), so the caller knows how to
// frame and log the exchange.
protocols::Result<void, Status> analyze_request(const RequestHead& head, Request& request);

}  // namespace reactor::http
