// Conditional requests (RFC 9110 section 13): If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range,
// evaluated in the order section 13.2.2 prescribes.
//
// Threading: pure functions; any thread.
#pragma once

#include <ctime>
#include <string_view>

#include "protocols/http/request.h"

namespace reactor::http {

// What a conditional request is compared against: the file's strong
// entity tag (quotes included) and modification time (whole seconds).
struct Validators {
  std::string_view entity_tag;
  time_t last_modified = 0;
};

enum class Precondition : uint8_t {
  kProceed,      // serve normally (200/206)
  kNotModified,  // 304 (GET/HEAD only, which is all we serve)
  kFailed,       // 412
};

Precondition evaluate_preconditions(const Request& request, const Validators& validators);

// If-Range (section 13.1.5): true if a Range may be honoured -- no If-Range,
// or it names the current representation exactly (strong entity-tag match,
// or a date equal to Last-Modified).
bool if_range_permits(std::string_view if_range, const Validators& validators);

}  // namespace reactor::http
