// Response fields an operator adds to every 2xx, 3xx and 4xx answer
// (reactor-httpd --header, --cors): checked once at start-up, then copied
// verbatim into each head by append_response_start().
//
// Threading: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace reactor::http {

// Checks one "Name: value" and appends it to `fields` as "Name: value\r\n".
// Refused, with a message that says why: a name that is not a token, a
// value with control characters, and the fields the server writes itself
// (framing, validators, Content-Type...), which a copy would contradict.
protocols::Result<void, std::string> add_extra_field(std::string_view line, std::string& fields);

}  // namespace reactor::http
