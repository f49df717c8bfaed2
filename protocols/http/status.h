// HTTP status codes the server produces, with their reason phrases and
// ready-made status lines (so the hot path copies a constant instead of
// formatting one).
//
// Threading: pure functions over constant tables; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace reactor::http {

enum class Status : uint16_t {
  kOk = 200,
  kNoContent = 204,
  kPartialContent = 206,
  kMovedPermanently = 301,
  kNotModified = 304,
  kBadRequest = 400,
  kUnauthorized = 401,
  kForbidden = 403,
  kNotFound = 404,
  kMethodNotAllowed = 405,
  kNotAcceptable = 406,
  kRequestTimeout = 408,
  kPreconditionFailed = 412,
  kContentTooLarge = 413,
  kUriTooLong = 414,
  kRangeNotSatisfiable = 416,
  kHeaderFieldsTooLarge = 431,
  kInternalServerError = 500,
  kNotImplemented = 501,
  kServiceUnavailable = 503,
  kVersionNotSupported = 505,
};

constexpr int status_code(Status status) {
  return static_cast<int>(status);
}

// "Not Found" for 404. Never empty for a Status value.
std::string_view reason_phrase(Status status);

// "HTTP/1.1 404 Not Found\r\n". The server always answers as HTTP/1.1,
// which RFC 9110 allows for 1.0 clients too.
std::string_view status_line(Status status);

// Errors after which the byte stream cannot be trusted (framing is lost or
// the client is misbehaving), so the connection is closed after the reply.
bool status_closes_connection(Status status);

}  // namespace reactor::http
