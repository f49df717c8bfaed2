#include "protocols/http/response_head.h"

#include <charconv>

namespace reactor::http {

void append_response_start(std::string& out, Status status, const ResponseContext& context) {
  out += status_line(status);
  append_common_fields(out, context);
  if (status_code(status) < 500) out += context.added_fields;
}

void append_common_fields(std::string& out, const ResponseContext& context) {
  if (!context.server_name.empty()) {
    out += "Server: ";
    out += context.server_name;
    out += "\r\n";
  }
  out += "Date: ";
  out += context.date;
  out += "\r\n";
  if (!context.keep_alive) {
    out += "Connection: close\r\n";
  } else if (context.version_minor == 0) {
    out += "Connection: keep-alive\r\n";
  }
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_decimal(std::string& out, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

void append_content_length(std::string& out, uint64_t length) {
  out += "Content-Length: ";
  append_decimal(out, length);
  out += "\r\n";
}

}  // namespace reactor::http
