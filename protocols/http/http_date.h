// HTTP-date (RFC 9110 section 5.6.7): formatting as IMF-fixdate, parsing
// of all three formats a recipient must accept, and a per-second cache of
// the current date for the Date header and the access log.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace reactor::http {

// Length of an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr size_t kHttpDateLength = 29;

// Formats `seconds` since the epoch as IMF-fixdate (always GMT). Any thread.
std::string format_http_date(time_t seconds);

// Parses IMF-fixdate, the obsolete RFC 850 form and asctime() form.
// Returns nullopt for anything else (callers then ignore the field, as
// RFC 9110 requires for invalid dates in conditional requests). Any thread.
std::optional<time_t> parse_http_date(std::string_view text);

// The current time formatted two ways, recomputed at most once a second.
// Threading: one instance per loop thread.
class DateCache {
 public:
  // "Sun, 06 Nov 1994 08:49:37 GMT" for now.
  std::string_view http_date() {
    refresh();
    return {http_date_, kHttpDateLength};
  }
  // Common Log Format time, local time zone: "10/Oct/2000:13:55:36 -0700".
  std::string_view log_time() {
    refresh();
    return log_time_;
  }

 private:
  void refresh() {
    // time() is served from the vDSO: no system call on the hot path.
    const time_t now = ::time(nullptr);
    if (now != cached_second_) recompute(now);
  }
  void recompute(time_t now);

  time_t cached_second_ = -1;
  char http_date_[kHttpDateLength + 1] = {};
  std::string log_time_;
};

}  // namespace reactor::http
