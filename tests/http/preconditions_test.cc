// Unit tests of entity tags and conditional request evaluation.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <array>
#include <string>

#include "protocols/http/entity_tag.h"
#include "protocols/http/http_date.h"
#include "protocols/http/preconditions.h"
#include "protocols/http/request_parser.h"

using namespace reactor::http;

namespace {

constexpr std::string_view kTag = "\"abc-123\"";
constexpr time_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

struct Conditional {
  explicit Conditional(const std::string& fields)
      : bytes("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n") {
    RequestParser parser;
    REQUIRE(parser.parse(bytes) == RequestParser::Result::kComplete);
    REQUIRE(analyze_request(parser.head(bytes, storage), request).ok());
  }
  Precondition evaluate() const { return evaluate_preconditions(request, {kTag, kModified}); }
  std::string bytes;
  std::array<HeaderField, RequestParser::kMaxFields> storage;
  Request request;
};

Precondition evaluate(const std::string& fields) {
  return Conditional(fields).evaluate();
}

}  // namespace

TEST_CASE("etag: strong tag from inode, size and mtime") {
  struct stat a {};
  a.st_ino = 0x1234;
  a.st_size = 0x100;
  a.st_mtim.tv_sec = 1;
  a.st_mtim.tv_nsec = 5;
  CHECK(make_entity_tag(a) == "\"1234-100-3b9aca05\"");
  struct stat b = a;
  b.st_mtim.tv_nsec = 6;
  CHECK(make_entity_tag(b) != make_entity_tag(a));
  b = a;
  b.st_size = 0x101;
  CHECK(make_entity_tag(b) != make_entity_tag(a));
}

TEST_CASE("etag: list matching, weak and strong") {
  CHECK(entity_tag_list_matches("\"abc-123\"", kTag, TagComparison::kStrong));
  CHECK(entity_tag_list_matches("\"x\", \"abc-123\"", kTag, TagComparison::kStrong));
  CHECK(entity_tag_list_matches("W/\"abc-123\"", kTag, TagComparison::kWeak));
  CHECK_FALSE(entity_tag_list_matches("W/\"abc-123\"", kTag, TagComparison::kStrong));
  CHECK(entity_tag_list_matches("*", kTag, TagComparison::kWeak));
  CHECK(entity_tag_list_matches(" * ", kTag, TagComparison::kStrong));
  CHECK_FALSE(entity_tag_list_matches("\"abc\"", kTag, TagComparison::kWeak));
  CHECK_FALSE(entity_tag_list_matches("abc-123", kTag, TagComparison::kWeak));  // unquoted
  CHECK_FALSE(entity_tag_list_matches("\"abc-123", kTag, TagComparison::kWeak));
  // A comma inside a tag is legal and must not split it.
  CHECK(entity_tag_list_matches("\"a,b\", \"abc-123\"", kTag, TagComparison::kWeak));
  CHECK_FALSE(entity_tag_list_matches("\"abc-123,x\"", kTag, TagComparison::kWeak));
}

TEST_CASE("conditional: If-None-Match") {
  CHECK(evaluate("If-None-Match: \"abc-123\"\r\n") == Precondition::kNotModified);
  CHECK(evaluate("If-None-Match: W/\"abc-123\"\r\n") == Precondition::kNotModified);
  CHECK(evaluate("If-None-Match: *\r\n") == Precondition::kNotModified);
  CHECK(evaluate("If-None-Match: \"other\"\r\n") == Precondition::kProceed);
  CHECK(evaluate("If-None-Match: \"other\"\r\nIf-None-Match: \"abc-123\"\r\n") ==
        Precondition::kNotModified);
}

TEST_CASE("conditional: If-Modified-Since") {
  CHECK(evaluate("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n") ==
        Precondition::kNotModified);
  CHECK(evaluate("If-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n") ==
        Precondition::kNotModified);
  CHECK(evaluate("If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT\r\n") == Precondition::kProceed);
  CHECK(evaluate("If-Modified-Since: garbage\r\n") == Precondition::kProceed);
}

TEST_CASE("conditional: If-None-Match takes precedence over If-Modified-Since") {
  CHECK(evaluate(
            "If-None-Match: \"other\"\r\nIf-Modified-Since: Mon, 07 Nov 1994 08:49:37 GMT\r\n") ==
        Precondition::kProceed);
}

TEST_CASE("conditional: If-Match and If-Unmodified-Since give 412") {
  CHECK(evaluate("If-Match: \"abc-123\"\r\n") == Precondition::kProceed);
  CHECK(evaluate("If-Match: *\r\n") == Precondition::kProceed);
  CHECK(evaluate("If-Match: \"other\"\r\n") == Precondition::kFailed);
  CHECK(evaluate("If-Match: W/\"abc-123\"\r\n") == Precondition::kFailed);  // strong only
  CHECK(evaluate("If-Unmodified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n") ==
        Precondition::kFailed);
  CHECK(evaluate("If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n") ==
        Precondition::kProceed);
  // If-Match present: If-Unmodified-Since is not looked at.
  CHECK(
      evaluate("If-Match: \"abc-123\"\r\nIf-Unmodified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n") ==
      Precondition::kProceed);
}

TEST_CASE("conditional: If-Range") {
  const Validators validators{kTag, kModified};
  CHECK(if_range_permits("", validators));
  CHECK(if_range_permits("\"abc-123\"", validators));
  CHECK_FALSE(if_range_permits("\"other\"", validators));
  CHECK_FALSE(if_range_permits("W/\"abc-123\"", validators));
  CHECK(if_range_permits("Sun, 06 Nov 1994 08:49:37 GMT", validators));
  CHECK_FALSE(if_range_permits("Mon, 07 Nov 1994 08:49:37 GMT", validators));
  CHECK_FALSE(if_range_permits("not a date", validators));
}
