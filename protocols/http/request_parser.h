// RequestParser: an incremental, allocation-free parser for the head of an
// HTTP/1.x request (request line + header fields), in the spirit of
// picohttpparser but resumable: each byte is examined exactly once however
// the input is split, so a client trickling one byte at a time costs linear
// time, not quadratic.
//
// The parser never copies the request. It remembers only offsets into the
// bytes it is shown; the caller keeps those bytes (normally unconsumed in
// the connection's input buffer) and shows them again, extended, on every
// call. The buffer may move in memory between calls; only its contents
// must stay the same.
//
// Strictness follows RFC 9112: exactly one SP between the parts of the
// request line, token characters in the method and field names, no
// whitespace before the colon, no obs-fold, no bare CR, no control
// characters in field values. Line ends may be CRLF or a bare LF (the RFC
// allows recipients to accept LF). Empty lines before the request line are
// skipped. Semantic checks (Host, Content-Length...) are not the parser's
// business: see analyze_request() in request.h.
//
// Threading: none; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocols/http/status.h"

namespace reactor::http {

struct HeaderField {
  std::string_view name;   // as received (compare case-insensitively)
  std::string_view value;  // without leading/trailing whitespace
};

// A parsed request head; every view points into the caller's bytes.
struct RequestHead {
  std::string_view method;
  std::string_view target;
  int version_minor = 1;  // the major version is always 1
  std::span<const HeaderField> fields;
  size_t length = 0;  // bytes of the head, up to and including the blank line
};

class RequestParser {
 public:
  // The request line (with any empty lines before it) must end within this
  // many bytes, or the answer is 414.
  static constexpr size_t kMaxRequestLine = 8 * 1024;
  // The header block (all field lines and the final blank line) must end
  // within this many bytes and hold at most kMaxFields fields, or 431.
  static constexpr size_t kMaxHeaderBlock = 16 * 1024;
  static constexpr size_t kMaxFields = 100;

  enum class Result : uint8_t { kNeedMore, kComplete, kError };

  // Examines the bytes not yet seen. `request` must start at the first
  // byte of this request and begin with the bytes passed before. Once
  // kComplete or kError is returned, further calls return the same result.
  Result parse(std::string_view request);

  // Valid after kError: 400, 414, 431 or 505.
  Status error() const { return error_; }
  // Valid after kComplete: length of the head (where a body would start).
  size_t head_length() const { return position_; }
  // True once any byte of a request has been examined (leading empty
  // lines included): a header timeout then means a half-sent request.
  bool started() const { return position_ > 0; }

  // After kComplete, with the same bytes: the head, with its fields placed
  // into `storage`.
  RequestHead head(std::string_view request, std::span<HeaderField, kMaxFields> storage) const;

  // Ready for the next request on the connection.
  void reset() { *this = RequestParser(); }

 private:
  enum class State : uint8_t {
    kLineStart,  // empty lines before the request line, or the method
    kLeadingLf,  // CR of an empty leading line seen
    kMethod,
    kTarget,
    kVersion,
    kRequestLf,   // CR after the version seen
    kFieldStart,  // beginning of a field line or of the final blank line
    kFieldName,
    kFieldValue,
    kFieldLf,  // CR after a field value seen
    kBlockLf,  // CR of the final blank line seen
    kDone,
    kFailed,
  };

  Result fail(Status status);

  State state_ = State::kLineStart;
  Status error_ = Status::kBadRequest;
  // Offsets fit 16 bits: a head is at most kMaxRequestLine + kMaxHeaderBlock.
  uint32_t position_ = 0;  // bytes examined so far
  uint16_t method_begin_ = 0;
  uint16_t method_end_ = 0;
  uint16_t target_end_ = 0;
  uint16_t version_begin_ = 0;
  uint16_t fields_begin_ = 0;
  uint16_t field_count_ = 0;
};

// ChunkedDecoder: the chunked transfer coding of a request body (RFC 9112
// section 7.1), decoded as the bytes arrive. Unlike RequestParser it
// consumes what it examined: the caller drops those bytes from its input,
// so a long body never accumulates there, only its decoded data does.
//
// Strict framing, since a body whose end two parties see differently is
// how requests are smuggled: every line ends in CRLF (no bare LF), a chunk
// size is 1-16 hex digits, extensions (";name=value") are skipped but
// bounded, and so are trailer fields, which are checked for bare CR/LF
// and discarded.
class ChunkedDecoder {
 public:
  // A size line (with its extensions) or a trailer field line must end
  // within this many bytes; the whole trailer section within kMaxTrailer.
  static constexpr size_t kMaxLine = 4 * 1024;
  static constexpr size_t kMaxTrailer = 16 * 1024;

  enum class Result : uint8_t { kNeedMore, kComplete, kError };

  // Decodes from `input` (bytes not consumed before), appending the data
  // to `body`. `consumed` is set to how many bytes of `input` were used:
  // all of them unless the body ended (what follows is the next request)
  // or an error was found (the bytes before it).
  // Decoded data beyond `max_body` bytes in total fails with 413, as soon
  // as a chunk size says it would.
  Result decode(std::string_view input, std::string& body, size_t& consumed, uint64_t max_body);

  // Valid after kError: 400 (framing) or 413 (too large).
  Status error() const { return error_; }
  void reset() { *this = ChunkedDecoder(); }

 private:
  enum class State : uint8_t {
    kSize,       // hex digits of a chunk size
    kExtension,  // after ';' up to the line end
    kSizeLf,     // CR of the size line seen
    kData,       // chunk data
    kDataCr,     // CRLF after the data
    kDataLf,
    kTrailerStart,  // beginning of a trailer line or of the final CRLF
    kTrailerLine,
    kTrailerLf,
    kFinalLf,
    kDone,
    kFailed,
  };

  Result fail(Status status);

  State state_ = State::kSize;
  Status error_ = Status::kBadRequest;
  uint64_t chunk_size_ = 0;
  uint64_t decoded_ = 0;
  size_t size_digits_ = 0;
  size_t line_length_ = 0;
  size_t trailer_length_ = 0;
};

}  // namespace reactor::http
