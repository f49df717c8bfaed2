// Error responses: a small HTML body per status, and the whole response
// (head + body) for statuses that need no more context than the status.
//
// Threading: pure functions over constant data; any thread.
#pragma once

#include <string>
#include <string_view>

#include "protocols/http/response_head.h"
#include "protocols/http/status.h"

namespace reactor::http {

// Appends "<!DOCTYPE html>...<h1>404 Not Found</h1>..." for `status`,
// signed with `server_name` (HTML-escaped; no signature when empty).
void append_error_page_body(std::string& out, Status status, std::string_view server_name);

// Appends a complete error response, named as context.server_name says.
// `extra_fields` are raw field lines ("Allow: GET, HEAD\r\n"). Returns the
// body length sent (0 for HEAD).
uint64_t append_error_response(std::string& out, Status status, const ResponseContext& context,
                               std::string_view extra_fields = {});

}  // namespace reactor::http
