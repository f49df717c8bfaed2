// Unit tests of request-path decoding and normalisation, and of the
// encoding used for links and redirects.
#include <doctest/doctest.h>

#include <string>

#include "protocols/http/url_path.h"

using reactor::http::append_encoded_path;
using reactor::http::append_encoded_segment;
using reactor::http::decode_request_path;
using reactor::http::DecodedPath;

namespace {

// "" on a decoding error, else the relative path with "/" appended when
// the URL named a directory form.
std::string normalized(const std::string& encoded) {
  DecodedPath path;
  if (!decode_request_path(encoded, path).ok()) return "<error>";
  return path.relative + (path.trailing_slash ? "|/" : "");
}

}  // namespace

TEST_CASE("url path: plain paths") {
  CHECK(normalized("/") == "|/");
  CHECK(normalized("/index.html") == "index.html");
  CHECK(normalized("/a/b/c.txt") == "a/b/c.txt");
  CHECK(normalized("/a/b/") == "a/b|/");
}

TEST_CASE("url path: percent-decoding") {
  CHECK(normalized("/hello%20world.txt") == "hello world.txt");
  CHECK(normalized("/caf%C3%A9.txt") == "caf\xc3\xa9.txt");
  CHECK(normalized("/caf%c3%a9.txt") == "caf\xc3\xa9.txt");
  CHECK(normalized("/a%2Fb") == "a/b");  // %2F is a separator after decoding
  CHECK(normalized("/a%2fb%2F") == "a/b|/");
  CHECK(normalized("/100%25") == "100%");
  CHECK(normalized("/a+b") == "a+b");  // '+' is not a space in paths
  CHECK(normalized("/raw\xc3\xa9") == "raw\xc3\xa9");
}

TEST_CASE("url path: malformed escapes and NUL are rejected") {
  CHECK(normalized("/a%") == "<error>");
  CHECK(normalized("/a%2") == "<error>");
  CHECK(normalized("/a%zz") == "<error>");
  CHECK(normalized("/a%G0") == "<error>");
  CHECK(normalized("/a%00b") == "<error>");
  CHECK(normalized(std::string("/a\0b", 4)) == "<error>");
}

TEST_CASE("url path: dot segments are resolved and never climb above the root") {
  CHECK(normalized("/a/./b") == "a/b");
  CHECK(normalized("/a/../b") == "b");
  CHECK(normalized("/a/b/..") == "a|/");
  CHECK(normalized("/a/b/.") == "a/b|/");
  CHECK(normalized("/..") == "|/");
  CHECK(normalized("/../../../etc/passwd") == "etc/passwd");
  CHECK(normalized("/a/../../etc/passwd") == "etc/passwd");
  CHECK(normalized("/%2e%2e/%2E%2E/etc/passwd") == "etc/passwd");
  CHECK(normalized("/a/%2e%2e%2f%2e%2e%2fetc/passwd") == "etc/passwd");
  CHECK(normalized("/.%2e/x") == "x");
  CHECK(normalized("//a///b//") == "a/b|/");
  CHECK(normalized("/...") == "...");  // three dots is a name
  CHECK(normalized("/..a") == "..a");
}

TEST_CASE("url path: absolute paths and backslashes stay inside") {
  // "//etc/passwd" is just "etc/passwd" under the root.
  CHECK(normalized("//etc/passwd") == "etc/passwd");
  CHECK(normalized("/%2Fetc%2Fpasswd") == "etc/passwd");
  // A backslash is an ordinary file-name byte on Linux, never a separator.
  CHECK(normalized("/..\\..\\etc\\passwd") == "..\\..\\etc\\passwd");
  CHECK(normalized("/..%5C..%5Cetc") == "..\\..\\etc");
}

TEST_CASE("url path: normalisation never leaves '.' or '..' segments (property)") {
  const std::string pieces[] = {"a", "..", ".", "", "%2e%2e", "%2E", "%2f", "b%2F..", "..%2f"};
  std::string encoded;
  // All 3-piece combinations: 9^3 paths.
  for (const auto& x : pieces) {
    for (const auto& y : pieces) {
      for (const auto& z : pieces) {
        encoded = "/" + x + "/" + y + "/" + z;
        DecodedPath path;
        REQUIRE(decode_request_path(encoded, path).ok());
        CAPTURE(encoded);
        CHECK_FALSE(path.relative.starts_with("/"));
        CHECK_FALSE(path.relative.ends_with("/"));
        const std::string wrapped = "/" + path.relative + "/";
        CHECK(wrapped.find("/../") == std::string::npos);
        CHECK(wrapped.find("/./") == std::string::npos);
        CHECK(wrapped.find("//") == (path.relative.empty() ? 0 : std::string::npos));
      }
    }
  }
}

TEST_CASE("url path: encoding for links") {
  std::string out;
  append_encoded_segment(out, "a b&c<d>\"e'f/g?h#i%j");
  CHECK(out == "a%20b%26c%3Cd%3E%22e%27f%2Fg%3Fh%23i%25j");
  out.clear();
  append_encoded_segment(out, "caf\xc3\xa9-_.~Z9");
  CHECK(out == "caf%C3%A9-_.~Z9");
  out.clear();
  append_encoded_path(out, "dir one/sub", true);
  CHECK(out == "/dir%20one/sub/");
  out.clear();
  append_encoded_path(out, "", true);
  CHECK(out == "/");
  out.clear();
  append_encoded_path(out, "file.txt", false);
  CHECK(out == "/file.txt");
}

TEST_CASE("url path: encode then decode is the identity") {
  const std::string names[] = {"plain", "with space", "caf\xc3\xa9", "100%", "a?b#c", "x\\y"};
  for (const std::string& name : names) {
    std::string url;
    append_encoded_path(url, name, false);
    DecodedPath path;
    REQUIRE(decode_request_path(url, path).ok());
    CHECK(path.relative == name);
  }
}
