#include "protocols/http/error_page.h"

#include <array>

#include "protocols/http/html_escape.h"

namespace reactor::http {

namespace {

// A page in two halves: the signature (the server's name, which is
// configurable) goes between them.
struct PageParts {
  std::string before_signature;
  std::string after_signature;
};

PageParts make_parts(Status status) {
  std::string code = std::to_string(status_code(status));
  std::string title = code + " " + std::string(reason_phrase(status));
  return PageParts{"<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" +
                       title + "</title></head>\n<body>\n<h1>" + title + "</h1>\n",
                   "</body>\n</html>\n"};
}

const PageParts& page_parts(Status status) {
  // Built once, thread-safely (a function-local static), for every status
  // the server sends; status codes are below 600.
  static const std::array<PageParts, 600> pages = [] {
    std::array<PageParts, 600> all;
    for (Status known :
         {Status::kMovedPermanently, Status::kBadRequest, Status::kUnauthorized, Status::kForbidden,
          Status::kNotFound, Status::kMethodNotAllowed, Status::kNotAcceptable,
          Status::kRequestTimeout, Status::kPreconditionFailed, Status::kContentTooLarge,
          Status::kUriTooLong, Status::kRangeNotSatisfiable, Status::kHeaderFieldsTooLarge,
          Status::kInternalServerError, Status::kNotImplemented, Status::kServiceUnavailable,
          Status::kVersionNotSupported}) {
      all[static_cast<size_t>(status_code(known))] = make_parts(known);
    }
    return all;
  }();
  const PageParts& parts = pages[static_cast<size_t>(status_code(status)) % pages.size()];
  return parts.before_signature.empty() ? pages[500] : parts;
}

}  // namespace

void append_error_page_body(std::string& out, Status status, std::string_view server_name) {
  const PageParts& parts = page_parts(status);
  out += parts.before_signature;
  if (!server_name.empty()) {
    out += "<hr>\n<p>";
    append_html_escaped(out, server_name);
    out += "</p>\n";
  }
  out += parts.after_signature;
}

uint64_t append_error_response(std::string& out, Status status, const ResponseContext& context,
                               std::string_view extra_fields) {
  // The body is written into place first so its length is known, then the
  // head is inserted in front of it: one buffer, no temporary.
  const size_t body_begin = out.size();
  append_error_page_body(out, status, context.server_name);
  const size_t body_length = out.size() - body_begin;
  std::string head;
  append_response_start(head, status, context);
  head += "Content-Type: text/html; charset=utf-8\r\n";
  append_content_length(head, body_length);
  head += extra_fields;
  head += "\r\n";
  if (context.head_only) {
    out.resize(body_begin);
    out += head;
    return 0;
  }
  out.insert(body_begin, head);
  return body_length;
}

}  // namespace reactor::http
