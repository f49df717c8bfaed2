// Writing response heads: the status line and the fields every response
// carries (Server, Date, Connection), plus helpers for the rest. Appends to
// a std::string with no formatting library on the hot path.
//
// Threading: pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/http/status.h"

namespace reactor::http {

// The default of ServerOptions::server_name.
inline constexpr std::string_view kServerName = "reactor-httpd";

// Per-exchange facts the head depends on.
struct ResponseContext {
  int version_minor = 1;   // of the request
  bool keep_alive = true;  // the connection stays open after this response
  bool head_only = false;  // HEAD: the same head, no body
  std::string_view date;   // IMF-fixdate for the Date field
  // The Server field and the signature of error pages; empty: neither.
  std::string_view server_name = kServerName;
  // The operator's own fields (--header, --cors), complete lines, for
  // every answer below 500: a failure of the server is not the site's.
  std::string_view added_fields{};
};

// "HTTP/1.1 200 OK\r\nServer: ...\r\nDate: ...\r\n" and, when needed,
// "Connection: close" or (for a persistent HTTP/1.0 exchange)
// "Connection: keep-alive", then the context's added fields.
void append_response_start(std::string& out, Status status, const ResponseContext& context);
// The same without the status line and the added fields, for a status the
// Status enum does not name (routes may answer any code).
void append_common_fields(std::string& out, const ResponseContext& context);

// "Name: value\r\n". The value must not contain CR or LF.
void append_field(std::string& out, std::string_view name, std::string_view value);

void append_decimal(std::string& out, uint64_t value);

// "Content-Length: N\r\n"
void append_content_length(std::string& out, uint64_t length);

}  // namespace reactor::http
