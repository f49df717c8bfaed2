#include "protocols/http/error_page.h"

#include <array>

namespace reactor::http {

namespace {

std::string make_body(Status status) {
  std::string code = std::to_string(status_code(status));
  std::string title = code + " " + std::string(reason_phrase(status));
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" + title +
         "</title></head>\n<body>\n<h1>" + title + "</h1>\n<hr>\n<p>" + std::string(kServerName) +
         "</p>\n</body>\n</html>\n";
}

}  // namespace

std::string_view error_page_body(Status status) {
  // Built once, thread-safely (a function-local static), for every status
  // the server sends; status codes are below 600.
  static const std::array<std::string, 600> bodies = [] {
    std::array<std::string, 600> all;
    for (Status known :
         {Status::kMovedPermanently, Status::kBadRequest, Status::kUnauthorized, Status::kForbidden,
          Status::kNotFound, Status::kMethodNotAllowed, Status::kNotAcceptable,
          Status::kRequestTimeout, Status::kPreconditionFailed, Status::kUriTooLong,
          Status::kRangeNotSatisfiable, Status::kHeaderFieldsTooLarge, Status::kInternalServerError,
          Status::kNotImplemented, Status::kServiceUnavailable, Status::kVersionNotSupported}) {
      all[static_cast<size_t>(status_code(known))] = make_body(known);
    }
    return all;
  }();
  const std::string& body = bodies[static_cast<size_t>(status_code(status)) % bodies.size()];
  return body.empty() ? bodies[500] : body;
}

uint64_t append_error_response(std::string& out, Status status, const ResponseContext& context,
                               std::string_view extra_fields) {
  const std::string_view body = error_page_body(status);
  append_response_start(out, status, context);
  out += "Content-Type: text/html; charset=utf-8\r\n";
  append_content_length(out, body.size());
  out += extra_fields;
  out += "\r\n";
  if (context.head_only) return 0;
  out += body;
  return body.size();
}

}  // namespace reactor::http
