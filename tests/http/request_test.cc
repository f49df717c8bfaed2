// Unit tests of analyze_request: the semantic checks RFC 9112 requires
// after the syntax is known to be fine.
#include <doctest/doctest.h>

#include <array>
#include <optional>
#include <string>

#include "protocols/http/request.h"
#include "protocols/http/request_parser.h"

using reactor::http::analyze_request;
using reactor::http::classify_method;
using reactor::http::HeaderField;
using reactor::http::Method;
using reactor::http::Request;
using reactor::http::RequestParser;
using reactor::http::Status;

namespace {

// Holds the bytes and the parse so the Request's views stay valid.
struct Analyzed {
  explicit Analyzed(std::string data) : bytes(std::move(data)) {
    RequestParser parser;
    REQUIRE(parser.parse(bytes) == RequestParser::Result::kComplete);
    const auto analyzed = analyze_request(parser.head(bytes, storage), request);
    if (!analyzed) refusal = analyzed.error();
  }
  std::string bytes;
  std::array<HeaderField, RequestParser::kMaxFields> storage;
  Request request;
  std::optional<Status> refusal;
};

std::optional<Status> refusal_of(const std::string& data) {
  return Analyzed(data).refusal;
}

}  // namespace

TEST_CASE("request: methods are classified case-sensitively") {
  CHECK(classify_method("GET") == Method::kGet);
  CHECK(classify_method("HEAD") == Method::kHead);
  CHECK(classify_method("POST") == Method::kOther);
  CHECK(classify_method("DELETE") == Method::kOther);
  CHECK(classify_method("OPTIONS") == Method::kOther);
  CHECK(classify_method("get") == Method::kUnknown);
  CHECK(classify_method("BREW") == Method::kUnknown);
}

TEST_CASE("request: GET with Host is served; its fields are picked up") {
  Analyzed a(
      "GET /dir/file.txt?x=1 HTTP/1.1\r\nhost: example.com:8080\r\nRange: bytes=0-1\r\n"
      "If-Range: \"tag\"\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
      "Referer: http://r/\r\nUser-Agent: test/1\r\n\r\n");
  REQUIRE_FALSE(a.refusal);
  CHECK(a.request.method == Method::kGet);
  CHECK(a.request.path == "/dir/file.txt");
  CHECK(a.request.target == "/dir/file.txt?x=1");
  CHECK(a.request.host == "example.com:8080");
  CHECK(a.request.range == "bytes=0-1");
  CHECK(a.request.if_range == "\"tag\"");
  CHECK(a.request.if_modified_since == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(a.request.referer == "http://r/");
  CHECK(a.request.user_agent == "test/1");
  CHECK(a.request.keep_alive);
  CHECK(a.request.fields.size() == 6);
}

TEST_CASE("request: Host is mandatory in HTTP/1.1, once, and well-formed") {
  CHECK(refusal_of("GET / HTTP/1.1\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == Status::kBadRequest);
  CHECK_FALSE(refusal_of("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"));
  CHECK_FALSE(refusal_of("GET / HTTP/1.1\r\nHost:\r\n\r\n"));  // empty is allowed
  CHECK_FALSE(refusal_of("GET / HTTP/1.0\r\n\r\n"));           // 1.0 needs none
}

TEST_CASE("request: Content-Length must be one plain number") {
  CHECK(
      Analyzed("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n").request.content_length ==
      42);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n") ==
        Status::kBadRequest);
}

TEST_CASE("request: Transfer-Encoding framing") {
  Analyzed chunked("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n");
  CHECK_FALSE(chunked.refusal);
  CHECK(chunked.request.chunked);
  // With Content-Length too: a request smuggling attempt.
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Length: 3\r\n\r\n") == Status::kBadRequest);
  // chunked not last: the body length is unknowable.
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") ==
        Status::kBadRequest);
  CHECK(refusal_of("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n") ==
        Status::kBadRequest);
}

TEST_CASE("request: persistence from version and Connection") {
  CHECK(Analyzed("GET / HTTP/1.1\r\nHost: h\r\n\r\n").request.keep_alive);
  CHECK_FALSE(
      Analyzed("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").request.keep_alive);
  CHECK_FALSE(Analyzed("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n")
                  .request.keep_alive);
  CHECK_FALSE(Analyzed("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  CHECK(Analyzed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  CHECK_FALSE(Analyzed("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
                  .request.keep_alive);
}

TEST_CASE("request: method refusals come after framing checks") {
  Analyzed post("POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n");
  CHECK(post.refusal == Status::kMethodNotAllowed);
  CHECK(post.request.content_length == 10);  // so the caller can skip the body
  CHECK(post.request.path == "/upload");     // the header promises it, for the log
  CHECK(Analyzed("BREW /pot?x HTTP/1.1\r\nHost: h\r\n\r\n").request.path == "/pot");
  CHECK(refusal_of("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n") == Status::kNotImplemented);
  CHECK(refusal_of("DELETE / HTTP/1.1\r\n\r\n") == Status::kBadRequest);  // no Host
}

TEST_CASE("request: target forms") {
  CHECK(
      Analyzed("GET http://example.com/a/b?c HTTP/1.1\r\nHost: example.com\r\n\r\n").request.path ==
      "/a/b");
  CHECK(Analyzed("GET HTTPS://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n").request.path ==
        "/");
  CHECK(Analyzed("GET http://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n").request.path ==
        "/");
  CHECK(refusal_of("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET example.com:80 HTTP/1.1\r\nHost: h\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("GET ftp://example.com/ HTTP/1.1\r\nHost: h\r\n\r\n") == Status::kBadRequest);
  CHECK(refusal_of("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") == Status::kMethodNotAllowed);
}

TEST_CASE("request: Expect and duplicate Range") {
  CHECK(Analyzed("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
            .request.expects_continue);
  CHECK(Analyzed("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n")
            .request.range.empty());
}
