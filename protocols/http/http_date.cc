#include "protocols/http/http_date.h"

#include <cstdio>
#include <cstring>

#include "protocols/http/char_class.h"

namespace reactor::http {

namespace {

constexpr const char* kDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kLongDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
constexpr const char* kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// A tiny cursor over the text; every consume_* fails softly.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  bool done() const { return text_.empty(); }
  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Exactly `count` digits (count 0: one or two digits, for asctime's day).
  bool number(int count, int& value) {
    value = 0;
    int taken = 0;
    const int limit = count == 0 ? 2 : count;
    while (taken < limit && !text_.empty() && is_digit(static_cast<unsigned char>(text_[0]))) {
      value = value * 10 + (text_[0] - '0');
      text_.remove_prefix(1);
      ++taken;
    }
    return count == 0 ? taken > 0 : taken == count;
  }
  bool month(int& value) {
    for (int m = 0; m < 12; ++m) {
      if (literal(kMonthNames[m])) {
        value = m;
        return true;
      }
    }
    return false;
  }
  bool day_name(const char* const* names) {
    for (int d = 0; d < 7; ++d) {
      if (literal(names[d])) return true;
    }
    return false;
  }
  bool time_of_day(std::tm& tm) {
    return number(2, tm.tm_hour) && literal(":") && number(2, tm.tm_min) && literal(":") &&
           number(2, tm.tm_sec);
  }

 private:
  std::string_view text_;
};

std::optional<time_t> to_time(std::tm& tm) {
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  const time_t seconds = ::timegm(&tm);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return seconds;
}

}  // namespace

std::string format_http_date(time_t seconds) {
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDayNames[tm.tm_wday % 7],
                tm.tm_mday, kMonthNames[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return text;
}

std::optional<time_t> parse_http_date(std::string_view text) {
  std::tm tm{};
  int year = 0;
  {  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Cursor c(text);
    if (c.day_name(kDayNames) && c.literal(", ") && c.number(2, tm.tm_mday) && c.literal(" ") &&
        c.month(tm.tm_mon) && c.literal(" ") && c.number(4, year) && c.literal(" ") &&
        c.time_of_day(tm) && c.literal(" GMT") && c.done()) {
      tm.tm_year = year - 1900;
      return to_time(tm);
    }
  }
  tm = std::tm{};
  {  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
    Cursor c(text);
    if (c.day_name(kLongDayNames) && c.literal(", ") && c.number(2, tm.tm_mday) && c.literal("-") &&
        c.month(tm.tm_mon) && c.literal("-") && c.number(2, year) && c.literal(" ") &&
        c.time_of_day(tm) && c.literal(" GMT") && c.done()) {
      // RFC 9110: a two-digit year more than 50 years in the future is in
      // the past century. Good enough: 70..99 -> 19xx, else 20xx.
      tm.tm_year = year >= 70 ? year : year + 100;
      return to_time(tm);
    }
  }
  tm = std::tm{};
  {  // asctime: "Sun Nov  6 08:49:37 1994"
    Cursor c(text);
    if (c.day_name(kDayNames) && c.literal(" ") && c.month(tm.tm_mon) && c.literal(" ")) {
      c.literal(" ");  // the day is space-padded
      if (c.number(0, tm.tm_mday) && c.literal(" ") && c.time_of_day(tm) && c.literal(" ") &&
          c.number(4, year) && c.done()) {
        tm.tm_year = year - 1900;
        return to_time(tm);
      }
    }
  }
  return std::nullopt;
}

void DateCache::recompute(time_t now) {
  cached_second_ = now;
  const std::string date = format_http_date(now);
  std::memcpy(http_date_, date.data(), kHttpDateLength);

  std::tm local{};
  ::localtime_r(&now, &local);
  char text[64];
  const long offset_minutes = local.tm_gmtoff / 60;
  const long magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  std::snprintf(text, sizeof text, "%02d/%s/%04d:%02d:%02d:%02d %c%02ld%02ld", local.tm_mday,
                kMonthNames[local.tm_mon % 12], local.tm_year + 1900, local.tm_hour, local.tm_min,
                local.tm_sec, offset_minutes < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
  log_time_ = text;
}

}  // namespace reactor::http
