// Unit tests of the lexical path rules (parse_request_path).
#include <doctest/doctest.h>

#include <string>

#include "protocols/file/request_path.h"

namespace rf = reactor::file;

namespace {

std::string joined(std::string_view raw) {
  auto result = rf::parse_request_path(raw);
  REQUIRE(result.ok());
  return result.value().joined();
}

rf::ErrorCode refusal(std::string_view raw) {
  auto result = rf::parse_request_path(raw);
  REQUIRE_FALSE(result.ok());
  CHECK_FALSE(result.error().message.empty());
  return result.error().code;
}

}  // namespace

TEST_CASE("empty and dot components are ignored") {
  CHECK(joined("") == "");
  CHECK(joined(".") == "");
  CHECK(joined("a") == "a");
  CHECK(joined("a//b/./c/") == "a/b/c");
  CHECK(joined("./a/.") == "a");
  CHECK(joined(".hidden/..dots/...") == ".hidden/..dots/...");
}

TEST_CASE("dot-dot is resolved lexically inside the root") {
  CHECK(joined("a/..") == "");
  CHECK(joined("a/b/../c") == "a/c");
  CHECK(joined("a/./../b/..") == "");
}

TEST_CASE("leaving the root is forbidden") {
  CHECK(refusal("..") == rf::ErrorCode::kForbidden);
  CHECK(refusal("../etc/passwd") == rf::ErrorCode::kForbidden);
  CHECK(refusal("a/../..") == rf::ErrorCode::kForbidden);
  CHECK(refusal("a/../../a") == rf::ErrorCode::kForbidden);
  CHECK(refusal("./../x") == rf::ErrorCode::kForbidden);
}

TEST_CASE("absolute paths, NUL and invalid UTF-8 are forbidden") {
  CHECK(refusal("/etc/passwd") == rf::ErrorCode::kForbidden);
  CHECK(refusal("/") == rf::ErrorCode::kForbidden);
  CHECK(refusal(std::string_view("a\0b", 3)) == rf::ErrorCode::kForbidden);
  CHECK(refusal("bad\xFF") == rf::ErrorCode::kForbidden);
  CHECK(refusal("\xC0\xAF") == rf::ErrorCode::kForbidden);          // overlong '/'
  CHECK(refusal("\xED\xA0\x80") == rf::ErrorCode::kForbidden);      // surrogate
  CHECK(refusal("\xF4\x90\x80\x80") == rf::ErrorCode::kForbidden);  // above U+10FFFF
  CHECK(refusal("trunc\xE2\x82") == rf::ErrorCode::kForbidden);
}

TEST_CASE("valid UTF-8 names pass") {
  CHECK(joined("caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80") ==
        "caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80");
  CHECK(joined("back\\slash") == "back\\slash");
}

TEST_CASE("length limits") {
  std::string name255(255, 'n');
  std::string name256(256, 'n');
  CHECK(joined(name255) == name255);
  CHECK(refusal(name256) == rf::ErrorCode::kTooLarge);
  CHECK(refusal("ok/" + name256 + "/ok") == rf::ErrorCode::kTooLarge);

  std::string path4096;
  while (path4096.size() < 4096) path4096 += "d/";
  path4096.resize(4096);
  // 4096 bytes are allowed; the trailing '/' adds no component.
  CHECK(joined(path4096) == path4096.substr(0, 4095));
  CHECK(refusal(path4096 + "x") == rf::ErrorCode::kTooLarge);
}

TEST_CASE("parent and name") {
  auto path = rf::parse_request_path("a/b/c").value();
  CHECK(path.name() == "c");
  CHECK(path.parent().joined() == "a/b");
  CHECK(path.parent().parent().parent().is_root());
  CHECK(rf::RequestPath{}.name().empty());
}
