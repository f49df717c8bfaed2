// Unit tests of the incremental request parser: results must not depend on
// how the bytes are split, limits are exact, and RFC 9112's strictness
// rules hold.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "protocols/http/request_parser.h"

using reactor::http::HeaderField;
using reactor::http::RequestHead;
using reactor::http::RequestParser;
using reactor::http::Status;

namespace {

struct Outcome {
  RequestParser::Result result = RequestParser::Result::kNeedMore;
  Status error = Status::kOk;
  std::string method;
  std::string target;
  int minor = -1;
  std::vector<std::pair<std::string, std::string>> fields;
  size_t length = 0;

  bool operator==(const Outcome&) const = default;
};

Outcome finish(RequestParser& parser, RequestParser::Result result, const std::string& data) {
  Outcome outcome;
  outcome.result = result;
  if (result == RequestParser::Result::kError) outcome.error = parser.error();
  if (result == RequestParser::Result::kComplete) {
    std::array<HeaderField, RequestParser::kMaxFields> storage;
    const RequestHead head = parser.head(data, storage);
    outcome.method = head.method;
    outcome.target = head.target;
    outcome.minor = head.version_minor;
    outcome.length = head.length;
    for (const HeaderField& field : head.fields) {
      outcome.fields.emplace_back(field.name, field.value);
    }
  }
  return outcome;
}

Outcome parse_whole(const std::string& data) {
  RequestParser parser;
  return finish(parser, parser.parse(data), data);
}

// Shows the parser data[0..split) first, then all of it (in a fresh copy,
// so nothing can rely on the buffer staying at one address).
Outcome parse_split(const std::string& data, size_t split) {
  RequestParser parser;
  const std::string first = data.substr(0, split);
  RequestParser::Result result = parser.parse(first);
  if (result == RequestParser::Result::kNeedMore) {
    const std::string copy = data;
    result = parser.parse(copy);
  }
  return finish(parser, result, data);
}

Outcome parse_bytewise(const std::string& data) {
  RequestParser parser;
  RequestParser::Result result = RequestParser::Result::kNeedMore;
  for (size_t n = 0; n <= data.size() && result == RequestParser::Result::kNeedMore; ++n) {
    result = parser.parse(std::string_view(data).substr(0, n));
  }
  return finish(parser, result, data);
}

// Feeds data one byte at a time, and before each call overwrites the bytes
// the parser was shown more than kLookBack calls ago with a control
// character (invalid anywhere in a head). A parser that resumes where it
// stopped never sees the overwrite; one that rescans a line or the whole
// head meets it and fails. The head is then taken from the intact bytes.
// The small window exists because the parser looks back once per request,
// at the two version digits, when the request line ends ("HTTP/1.1\r":
// three bytes back at most).
constexpr size_t kLookBack = 4;
Outcome parse_bytewise_hiding_seen_bytes(const std::string& data) {
  RequestParser parser;
  RequestParser::Result result = RequestParser::Result::kNeedMore;
  std::string shown;
  for (size_t n = 1; n <= data.size() && result == RequestParser::Result::kNeedMore; ++n) {
    const size_t hidden = n > kLookBack ? n - kLookBack : 0;
    shown.assign(hidden, '\x01');
    shown.append(data, hidden, n - hidden);
    result = parser.parse(shown);
  }
  return finish(parser, result, data);
}

void check_all_splits(const std::string& data) {
  const Outcome whole = parse_whole(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    CAPTURE(split);
    REQUIRE(parse_split(data, split) == whole);
  }
  CHECK(parse_bytewise(data) == whole);
}

Status error_of(const std::string& data) {
  const Outcome outcome = parse_whole(data);
  REQUIRE(outcome.result == RequestParser::Result::kError);
  return outcome.error;
}

const std::vector<std::string> kSampleRequests = {
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "GET /index.html HTTP/1.0\r\n\r\n",
    "HEAD /a%20b?x=1&y=2 HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
    "GET / HTTP/1.1\nHost: lf-only\n\n",
    "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: h\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces:   padded value \t \r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    "GET /next HTTP/1.1\r\nHost: h\r\n\r\nGET /pipelined HTTP/1.1\r\nHost: h\r\n\r\n",
    "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    // Errors, which must be found at the same byte however the input is cut.
    "GET  / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1 \r\n\r\n",
    "GET / HTTP/2.0\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\n  folded\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    "GET / HTTP/1.1\r\nHo\x01st: h\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\rX\r\n\r\n",
    "G\xc3\x89T / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\x7f\r\n\r\n",
    "GET / HTTP/1.1\r\n\rX",
};

}  // namespace

TEST_CASE("parser: a simple request yields its parts and fields") {
  const std::string data =
      "GET /path/to?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept:  text/html \r\n\r\n";
  const Outcome outcome = parse_whole(data);
  REQUIRE(outcome.result == RequestParser::Result::kComplete);
  CHECK(outcome.method == "GET");
  CHECK(outcome.target == "/path/to?q=1");
  CHECK(outcome.minor == 1);
  CHECK(outcome.length == data.size());
  REQUIRE(outcome.fields.size() == 2);
  CHECK(outcome.fields[0] == std::pair<std::string, std::string>("Host", "example.com"));
  CHECK(outcome.fields[1] == std::pair<std::string, std::string>("Accept", "text/html"));
}

TEST_CASE("parser: head length stops at the blank line, leaving body and next request") {
  const std::string head = "GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  const Outcome outcome = parse_whole(head + "abcGET /b HTTP/1.1\r\n\r\n");
  REQUIRE(outcome.result == RequestParser::Result::kComplete);
  CHECK(outcome.length == head.size());
}

TEST_CASE("parser: every request gives the same result at every split point") {
  for (const std::string& data : kSampleRequests) {
    CAPTURE(data);
    check_all_splits(data);
  }
}

TEST_CASE("parser: incomplete input asks for more, never errors early") {
  const std::string data = "GET /index.html HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t n = 0; n < data.size(); ++n) {
    RequestParser parser;
    CAPTURE(n);
    CHECK(parser.parse(std::string_view(data).substr(0, n)) == RequestParser::Result::kNeedMore);
  }
}

TEST_CASE("parser: started() tells a half-sent request from silence") {
  RequestParser parser;
  CHECK_FALSE(parser.started());
  CHECK(parser.parse("") == RequestParser::Result::kNeedMore);
  CHECK_FALSE(parser.started());
  CHECK(parser.parse("G") == RequestParser::Result::kNeedMore);
  CHECK(parser.started());
  parser.reset();
  CHECK_FALSE(parser.started());
}

TEST_CASE("parser: results are sticky after completion or error") {
  RequestParser parser;
  const std::string good = "GET / HTTP/1.0\r\n\r\n";
  CHECK(parser.parse(good) == RequestParser::Result::kComplete);
  CHECK(parser.parse(good + "garbage") == RequestParser::Result::kComplete);
  RequestParser bad;
  CHECK(bad.parse("@") == RequestParser::Result::kError);
  CHECK(bad.parse("@GET / HTTP/1.1\r\n\r\n") == RequestParser::Result::kError);
}

TEST_CASE("parser: request line syntax errors are 400") {
  CHECK(error_of("GET  / HTTP/1.1\r\n\r\n") == Status::kBadRequest);  // two spaces
  CHECK(error_of(" GET / HTTP/1.1\r\n\r\n") == Status::kBadRequest);  // leading space
  CHECK(error_of("GET / HTTP/1.1 \r\n\r\n") == Status::kBadRequest);  // trailing space
  CHECK(error_of("GET /\r\n\r\n") == Status::kBadRequest);            // HTTP/0.9 style
  CHECK(error_of("GET / http/1.1\r\n\r\n") == Status::kBadRequest);   // case-sensitive name
  CHECK(error_of("GET / HTTP/1.1x\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of("GET / HTTP/11\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of("GET / HTTP/1.\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of("GET\t/ HTTP/1.1\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of("GET /a\x01 HTTP/1.1\r\n\r\n") == Status::kBadRequest);  // control in target
  CHECK(error_of("GET /a\x7f HTTP/1.1\r\n\r\n") == Status::kBadRequest);  // DEL in target
  CHECK(error_of("G(T / HTTP/1.1\r\n\r\n") == Status::kBadRequest);       // not a token
  CHECK(error_of("GET / HTTP/1.1\rX\n\r\n") == Status::kBadRequest);      // bare CR
  CHECK(error_of("\r\r\n") == Status::kBadRequest);
}

TEST_CASE("parser: versions other than 1.0 and 1.1 are 505") {
  CHECK(error_of("GET / HTTP/2.0\r\n\r\n") == Status::kVersionNotSupported);
  CHECK(error_of("GET / HTTP/0.9\r\n\r\n") == Status::kVersionNotSupported);
  CHECK(error_of("GET / HTTP/1.2\r\n\r\n") == Status::kVersionNotSupported);
  CHECK(error_of("GET / HTTP/3.1\r\nHost: h\r\n\r\n") == Status::kVersionNotSupported);
  CHECK(parse_whole("GET / HTTP/1.0\r\n\r\n").minor == 0);
}

TEST_CASE("parser: header field errors are 400") {
  const std::string line = "GET / HTTP/1.1\r\n";
  CHECK(error_of(line + "Host : h\r\n\r\n") == Status::kBadRequest);  // space before colon
  CHECK(error_of(line + "Host\t: h\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + " Host: h\r\n\r\n") == Status::kBadRequest);            // space after line
  CHECK(error_of(line + "Host: h\r\n folded\r\n\r\n") == Status::kBadRequest);  // obs-fold
  CHECK(error_of(line + "Host: h\r\n\tfolded\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + ": no-name\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + "No-Colon\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + "Na(me: v\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(std::string(line + "X: a") + '\0' + "z\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + "X: a\rb\r\n\r\n") == Status::kBadRequest);  // bare CR in value
  CHECK(error_of(line + "X: a\x1b\r\n\r\n") == Status::kBadRequest);
  CHECK(error_of(line + "X: a\r\n\rX") == Status::kBadRequest);  // bad final CRLF
}

TEST_CASE("parser: field values keep inner whitespace and obs-text, lose the outer") {
  const Outcome outcome =
      parse_whole("GET / HTTP/1.1\r\nX-A: \t one  two \t\r\nX-B: caf\xc3\xa9\r\nX-C:\r\n\r\n");
  REQUIRE(outcome.result == RequestParser::Result::kComplete);
  REQUIRE(outcome.fields.size() == 3);
  CHECK(outcome.fields[0].second == "one  two");
  CHECK(outcome.fields[1].second == "caf\xc3\xa9");
  CHECK(outcome.fields[2].second == "");
}

TEST_CASE("parser: request line limit is exactly 8 KiB (414)") {
  const std::string prefix = "GET /";
  const std::string suffix = " HTTP/1.1\r\n";
  const size_t limit = RequestParser::kMaxRequestLine;
  // A line whose CRLF ends exactly at the limit is fine.
  const std::string longest =
      prefix + std::string(limit - prefix.size() - suffix.size(), 'a') + suffix;
  REQUIRE(longest.size() == limit);
  CHECK(parse_whole(longest + "Host: h\r\n\r\n").result == RequestParser::Result::kComplete);
  // One byte more is 414, however it arrives.
  const std::string too_long =
      prefix + std::string(limit - prefix.size() - suffix.size() + 1, 'a') + suffix + "\r\n";
  CHECK(error_of(too_long) == Status::kUriTooLong);
  CHECK(parse_split(too_long, limit).error == Status::kUriTooLong);
  CHECK(parse_split(too_long, 100).error == Status::kUriTooLong);
  // A line that never ends: 414 as soon as the limit is reached.
  RequestParser parser;
  const std::string endless = prefix + std::string(limit, 'b');
  CHECK(parser.parse(std::string_view(endless).substr(0, limit - 1)) ==
        RequestParser::Result::kNeedMore);
  CHECK(parser.parse(endless) == RequestParser::Result::kError);
  CHECK(parser.error() == Status::kUriTooLong);
}

TEST_CASE("parser: header block limit is exactly 16 KiB (431)") {
  const std::string line = "GET / HTTP/1.1\r\n";
  const size_t limit = RequestParser::kMaxHeaderBlock;
  const std::string field_start = "X-Big: ";
  // Block = field line + final CRLF.
  const size_t value_size = limit - field_start.size() - 2 - 2;
  const std::string exact = line + field_start + std::string(value_size, 'v') + "\r\n\r\n";
  CHECK(parse_whole(exact).result == RequestParser::Result::kComplete);
  const std::string over = line + field_start + std::string(value_size + 1, 'v') + "\r\n\r\n";
  CHECK(error_of(over) == Status::kHeaderFieldsTooLarge);
  CHECK(parse_bytewise(over).error == Status::kHeaderFieldsTooLarge);
}

TEST_CASE("parser: at most 100 fields (431)") {
  std::string request = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) request += "X-F" + std::to_string(i) + ": v\r\n";
  const Outcome hundred = parse_whole(request + "\r\n");
  REQUIRE(hundred.result == RequestParser::Result::kComplete);
  CHECK(hundred.fields.size() == 100);
  CHECK(hundred.fields[99].first == "X-F99");
  CHECK(error_of(request + "X-F100: v\r\n\r\n") == Status::kHeaderFieldsTooLarge);
}

TEST_CASE("parser: each byte is examined once, however the input is split") {
  // Bytes already shown are overwritten before every later call; only a
  // parser that resumes where it stopped still sees a valid request.
  std::string request = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 90; ++i) request += "X-Field: " + std::string(160, 'v') + "\r\n";
  request += "\r\n";
  const Outcome near_limit = parse_bytewise_hiding_seen_bytes(request);
  CHECK(near_limit.result == RequestParser::Result::kComplete);
  CHECK(near_limit == parse_whole(request));
  for (const std::string& sample : kSampleRequests) {
    CAPTURE(sample);
    CHECK(parse_bytewise_hiding_seen_bytes(sample) == parse_whole(sample));
  }
}

namespace {

using reactor::http::ChunkedDecoder;

struct ChunkedOutcome {
  ChunkedDecoder::Result result;
  std::string body;
  size_t consumed;
  Status error;
};

ChunkedOutcome decode_chunked(const std::string& bytes, uint64_t max_body = 1 << 20) {
  ChunkedDecoder decoder;
  ChunkedOutcome out{ChunkedDecoder::Result::kNeedMore, {}, 0, Status::kOk};
  out.result = decoder.decode(bytes, out.body, out.consumed, max_body);
  if (out.result == ChunkedDecoder::Result::kError) out.error = decoder.error();
  return out;
}

}  // namespace

TEST_CASE("chunked bodies decode with extensions and trailers, and stop where the body ends") {
  const std::string body =
      "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
  const ChunkedOutcome whole = decode_chunked(body);
  CHECK(whole.result == ChunkedDecoder::Result::kComplete);
  CHECK(whole.body == "hello 0123456789");
  CHECK(body.substr(whole.consumed) == "GET /next");

  // Fed a byte at a time, everything shown is consumed until the end.
  ChunkedDecoder decoder;
  std::string decoded;
  ChunkedDecoder::Result result = ChunkedDecoder::Result::kNeedMore;
  size_t total = 0;
  for (size_t i = 0; i < body.size() && result == ChunkedDecoder::Result::kNeedMore; ++i) {
    size_t consumed = 0;
    result = decoder.decode(std::string_view(body).substr(i, 1), decoded, consumed, 1 << 20);
    CHECK(consumed == 1);
    total += consumed;
  }
  CHECK(result == ChunkedDecoder::Result::kComplete);
  CHECK(decoded == whole.body);
  CHECK(total == whole.consumed);
}

TEST_CASE("chunked framing is strict: bare LF, bad sizes and oversized bodies are refused") {
  CHECK(decode_chunked("5\nhello\r\n0\r\n\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("5\r\nhello\n0\r\n\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("5\r\nhelloX\r\n0\r\n\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("0\r\n\n").error == Status::kBadRequest);
  CHECK(decode_chunked("\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("-5\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked(" 5\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("5 \r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("10000000000000000\r\n").error == Status::kBadRequest);  // 17 digits
  CHECK(decode_chunked("1;" + std::string(5000, 'e') + "\r\n").error == Status::kBadRequest);
  CHECK(decode_chunked("0\r\nX: " + std::string(20000, 't') + "\r\n\r\n").error ==
        Status::kBadRequest);
  // The limit counts decoded bytes, across chunks, and is known from a size line.
  CHECK(decode_chunked("8\r\n12345678\r\n").result == ChunkedDecoder::Result::kNeedMore);
  CHECK(decode_chunked("8\r\n12345678\r\n3\r\n", 10).error == Status::kContentTooLarge);
  CHECK(decode_chunked("8\r\n12345678\r\n2\r\nab\r\n0\r\n\r\n", 10).result ==
        ChunkedDecoder::Result::kComplete);
  CHECK(decode_chunked("FFFFFFFFFFFFFFFF\r\n").error == Status::kContentTooLarge);
}
