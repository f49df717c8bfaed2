// Unit tests of HTTP-date formatting and parsing.
#include <doctest/doctest.h>

#include <regex>
#include <string>

#include "protocols/http/http_date.h"

using reactor::http::DateCache;
using reactor::http::format_http_date;
using reactor::http::parse_http_date;

TEST_CASE("date: IMF-fixdate formatting") {
  CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
  CHECK(format_http_date(951782400) == "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST_CASE("date: the three formats RFC 9110 requires recipients to accept") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK(parse_http_date("Tue Feb 29 00:00:00 2000") == 951782400);
}

TEST_CASE("date: round trip") {
  for (time_t t :
       {time_t{0}, time_t{1}, time_t{1700000000}, time_t{2147483647}, time_t{4102444800}}) {
    CHECK(parse_http_date(format_http_date(t)) == t);
  }
}

TEST_CASE("date: invalid dates are rejected, not guessed") {
  CHECK_FALSE(parse_http_date(""));
  CHECK_FALSE(parse_http_date("yesterday"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT extra"));
  CHECK_FALSE(parse_http_date("Sun, 6 Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 32 Nov 1994 08:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 25:49:37 GMT"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49 GMT"));
  CHECK_FALSE(parse_http_date("1994-11-06T08:49:37Z"));
}

TEST_CASE("date cache: formats now in both forms") {
  DateCache cache;
  const std::string http(cache.http_date());
  CHECK(std::regex_match(
      http, std::regex(R"([A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT)")));
  const auto parsed = parse_http_date(http);
  REQUIRE(parsed);
  CHECK(std::abs(*parsed - ::time(nullptr)) <= 2);
  const std::string log(cache.log_time());
  CHECK(std::regex_match(log,
                         std::regex(R"(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})")));
}
