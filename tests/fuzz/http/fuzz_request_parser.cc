// libFuzzer target for the HTTP request parser and everything that reads
// request bytes before the file system is touched: analyze_request,
// decode_request_path, parse_range, parse_http_date, entity-tag lists,
// precondition evaluation, and the chunked body decoder (routes' bodies).
//
// Input: one byte choosing where to split, then the request bytes. Beyond
// "no crash, no sanitizer report", it checks properties that must hold for
// every input:
//  - parsing in one piece, in two pieces and byte by byte gives the same
//    result and the same head (the parser is truly incremental);
//  - a complete head stays within the limits and yields well-formed parts;
//  - decoded paths never contain "." or ".." segments or a NUL;
//  - satisfiable ranges lie inside the file, ascending and disjoint;
//  - a parsed HTTP-date formats back to a date that parses to itself;
//  - the bytes after a complete head, decoded as a chunked body, give the
//    same result, body and end however they are split, never more than
//    the limit, and the body re-encoded in chunks decodes to itself.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/http/byte_range.h"
#include "protocols/http/entity_tag.h"
#include "protocols/http/http_date.h"
#include "protocols/http/preconditions.h"
#include "protocols/http/request.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/url_path.h"

using namespace reactor::http;

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

struct Snapshot {
  RequestParser::Result result;
  Status error;
  size_t length;
};

Snapshot snapshot(const RequestParser& parser, RequestParser::Result result) {
  return {result, result == RequestParser::Result::kError ? parser.error() : Status::kOk,
          result == RequestParser::Result::kComplete ? parser.head_length() : 0};
}

bool same(const Snapshot& a, const Snapshot& b) {
  return a.result == b.result && a.error == b.error && a.length == b.length;
}

// Parses data[0..split) from its own exact-size allocation (so reading past
// it is caught), then all of `data`.
Snapshot parse_in_two(std::string_view data, size_t split) {
  RequestParser parser;
  std::unique_ptr<char[]> prefix(new char[split + 1]);
  std::memcpy(prefix.get(), data.data(), split);
  RequestParser::Result result = parser.parse(std::string_view(prefix.get(), split));
  if (result == RequestParser::Result::kNeedMore) result = parser.parse(data);
  return snapshot(parser, result);
}

Snapshot parse_bytewise(std::string_view data) {
  RequestParser parser;
  RequestParser::Result result = RequestParser::Result::kNeedMore;
  for (size_t n = 0; n <= data.size() && result == RequestParser::Result::kNeedMore; ++n) {
    result = parser.parse(data.substr(0, n));
  }
  return snapshot(parser, result);
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

void check_head(const RequestHead& head) {
  require(!head.method.empty());
  require(!head.target.empty());
  require(head.version_minor == 0 || head.version_minor == 1);
  require(head.fields.size() <= RequestParser::kMaxFields);
  require(head.length <= RequestParser::kMaxRequestLine + RequestParser::kMaxHeaderBlock);
  for (const HeaderField& field : head.fields) {
    require(!field.name.empty());
    require(field.name.find(':') == std::string_view::npos);
    if (!field.value.empty()) {
      require(!is_ows(field.value.front()) && !is_ows(field.value.back()));
    }
    require(field.value.find_first_of("\r\n") == std::string_view::npos);
  }
}

void check_path(std::string_view encoded) {
  DecodedPath path;
  if (!decode_request_path(encoded, path).ok()) return;
  const std::string& relative = path.relative;
  require(relative.find('\0') == std::string::npos);
  require(relative.empty() || (relative.front() != '/' && relative.back() != '/'));
  const std::string wrapped = "/" + relative + "/";
  require(wrapped.find("/../") == std::string::npos);
  require(wrapped.find("/./") == std::string::npos);
  require(relative.empty() || wrapped.find("//") == std::string::npos);
  // Re-encoding and decoding again gives the same path.
  std::string url;
  append_encoded_path(url, relative, path.trailing_slash);
  DecodedPath again;
  require(decode_request_path(url, again).ok());
  require(again.relative == relative);
}

void check_range(std::string_view header) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, uint64_t{1} << 40}) {
    const RangeSet set = parse_range(header, size);
    if (set.outcome != RangeSet::Outcome::kSatisfiable) continue;
    require(set.count >= 1 && set.count <= RangeSet::kMaxRanges);
    for (size_t i = 0; i < set.count; ++i) {
      require(set.ranges[i].first <= set.ranges[i].last);
      require(set.ranges[i].last < size);
      if (i > 0) require(set.ranges[i].first > set.ranges[i - 1].last);
    }
  }
}

void check_date(std::string_view text) {
  const std::optional<time_t> parsed = parse_http_date(text);
  if (!parsed) return;
  const std::string formatted = format_http_date(*parsed);
  require(formatted.size() == kHttpDateLength);
  require(parse_http_date(formatted) == parsed);
}

struct Decoded {
  ChunkedDecoder::Result result;
  Status error;
  std::string body;
  size_t consumed;  // bytes of input used, in total
};

bool same(const Decoded& a, const Decoded& b) {
  return a.result == b.result && a.error == b.error && a.body == b.body && a.consumed == b.consumed;
}

// Feeds `data` to a fresh decoder in pieces of `step` bytes (the last one
// perhaps shorter), each from its own exact-size allocation, dropping
// what it consumed as the session does.
Decoded decode_in_pieces(std::string_view data, size_t step, uint64_t max_body) {
  ChunkedDecoder decoder;
  Decoded out{ChunkedDecoder::Result::kNeedMore, Status::kOk, {}, 0};
  std::string pending;
  size_t fed = 0;
  while (out.result == ChunkedDecoder::Result::kNeedMore && fed < data.size()) {
    const size_t n = std::min(step, data.size() - fed);
    pending.append(data.substr(fed, n));
    fed += n;
    std::unique_ptr<char[]> copy(new char[pending.size() + 1]);
    std::memcpy(copy.get(), pending.data(), pending.size());
    size_t consumed = 0;
    out.result =
        decoder.decode(std::string_view(copy.get(), pending.size()), out.body, consumed, max_body);
    require(consumed <= pending.size());
    // Until the end, everything shown is consumed: nothing piles up.
    if (out.result == ChunkedDecoder::Result::kNeedMore) require(consumed == pending.size());
    out.consumed += consumed;
    pending.erase(0, consumed);
  }
  if (out.result == ChunkedDecoder::Result::kError) {
    out.error = decoder.error();
    require(out.error == Status::kBadRequest || out.error == Status::kContentTooLarge);
  }
  return out;
}

void check_chunked(std::string_view body_bytes, uint8_t split_choice) {
  for (uint64_t max_body : {uint64_t{64}, uint64_t{1} << 20}) {
    const Decoded whole = decode_in_pieces(body_bytes, body_bytes.size() + 1, max_body);
    require(whole.body.size() <= max_body);
    const size_t split = std::max<size_t>(1, body_bytes.size() * split_choice / 255);
    require(same(whole, decode_in_pieces(body_bytes, split, max_body)));
    if (body_bytes.size() <= 2048) require(same(whole, decode_in_pieces(body_bytes, 1, max_body)));
    if (whole.result != ChunkedDecoder::Result::kComplete) continue;
    // What was decoded, re-encoded in chunks of 7 bytes, decodes to itself.
    std::string encoded;
    char size[8];
    for (size_t at = 0; at < whole.body.size(); at += 7) {
      const size_t n = std::min<size_t>(7, whole.body.size() - at);
      std::snprintf(size, sizeof size, "%zx", n);
      encoded += size;
      encoded += "\r\n";
      encoded.append(whole.body, at, n);
      encoded += "\r\n";
    }
    encoded += "0\r\n\r\n";
    const Decoded again = decode_in_pieces(encoded, encoded.size(), max_body);
    require(again.result == ChunkedDecoder::Result::kComplete);
    require(again.body == whole.body);
    require(again.consumed == encoded.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0) return 0;
  const uint8_t split_choice = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes + 1), size - 1);

  RequestParser parser;
  const RequestParser::Result result = parser.parse(data);
  const Snapshot whole = snapshot(parser, result);
  require(same(whole, parse_in_two(data, data.size() * split_choice / 255)));
  if (data.size() <= 4096) require(same(whole, parse_bytewise(data)));

  if (result != RequestParser::Result::kComplete) return 0;
  std::array<HeaderField, RequestParser::kMaxFields> storage;
  const RequestHead head = parser.head(data, storage);
  require(head.length <= data.size());
  check_head(head);

  Request request;
  const auto analyzed = analyze_request(head, request);
  for (const HeaderField& field : head.fields) check_date(field.value);
  // Whatever the head said, the rest is a chunked body candidate.
  check_chunked(data.substr(head.length), split_choice);
  if (!analyzed) return 0;
  require(request.method == Method::kGet || request.method == Method::kHead);
  require(!request.path.empty() && request.path.front() == '/');
  check_path(request.path);
  check_range(request.range);
  const Validators validators{"\"1-2-3\"", 784111777};
  (void)evaluate_preconditions(request, validators);
  (void)if_range_permits(request.if_range, validators);
  return 0;
}
