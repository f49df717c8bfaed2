#include "protocols/http/request_parser.h"

#include <algorithm>
#include <cstring>

#include "protocols/http/char_class.h"

namespace reactor::http {

namespace {

constexpr std::string_view kHttpName = "HTTP/";

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

}  // namespace

RequestParser::Result RequestParser::fail(Status status) {
  state_ = State::kFailed;
  error_ = status;
  return Result::kError;
}

RequestParser::Result RequestParser::parse(std::string_view request) {
  if (state_ == State::kDone) return Result::kComplete;
  if (state_ == State::kFailed) return Result::kError;

  const auto* bytes = reinterpret_cast<const unsigned char*>(request.data());
  size_t i = position_;
  // Limits are enforced on the byte offsets themselves, never on how much
  // happened to arrive in one read, so every split of the same input gives
  // the same answer.
  const bool in_request_line = state_ < State::kFieldStart;
  size_t limit = in_request_line ? kMaxRequestLine : fields_begin_ + kMaxHeaderBlock;
  size_t end = std::min(request.size(), limit);

  while (i < end) {
    switch (state_) {
      case State::kLineStart: {
        const unsigned char c = bytes[i];
        if (c == '\r') {
          state_ = State::kLeadingLf;
          ++i;
        } else if (c == '\n') {
          ++i;
        } else if (is_token_char(c)) {
          method_begin_ = static_cast<uint16_t>(i);
          state_ = State::kMethod;
        } else {
          return fail(Status::kBadRequest);
        }
        break;
      }
      case State::kLeadingLf:
        if (bytes[i] != '\n') return fail(Status::kBadRequest);
        ++i;
        state_ = State::kLineStart;
        break;
      case State::kMethod:
        while (i < end && is_token_char(bytes[i])) ++i;
        if (i == end) break;
        if (bytes[i] != ' ') return fail(Status::kBadRequest);
        method_end_ = static_cast<uint16_t>(i);
        ++i;
        state_ = State::kTarget;
        break;
      case State::kTarget: {
        const size_t target_begin = method_end_ + 1u;
        while (i < end && is_target_char(bytes[i])) ++i;
        if (i == end) break;
        if (bytes[i] != ' ' || i == target_begin) return fail(Status::kBadRequest);
        target_end_ = static_cast<uint16_t>(i);
        ++i;
        version_begin_ = static_cast<uint16_t>(i);
        state_ = State::kVersion;
        break;
      }
      case State::kVersion: {
        // "HTTP/" DIGIT "." DIGIT, then the line end.
        const size_t k = i - version_begin_;
        const unsigned char c = bytes[i];
        if (k < kHttpName.size()) {
          if (c != static_cast<unsigned char>(kHttpName[k])) return fail(Status::kBadRequest);
        } else if (k == 5 || k == 7) {
          if (!is_digit(c)) return fail(Status::kBadRequest);
        } else if (k == 6) {
          if (c != '.') return fail(Status::kBadRequest);
        } else {
          if (c != '\r' && c != '\n') return fail(Status::kBadRequest);
          const char major = static_cast<char>(bytes[version_begin_ + 5]);
          const char minor = static_cast<char>(bytes[version_begin_ + 7]);
          if (major != '1' || (minor != '0' && minor != '1')) {
            return fail(Status::kVersionNotSupported);
          }
          if (c == '\r') {
            state_ = State::kRequestLf;
            ++i;
            break;
          }
          ++i;
          state_ = State::kFieldStart;
          fields_begin_ = static_cast<uint16_t>(i);
          limit = fields_begin_ + kMaxHeaderBlock;
          end = std::min(request.size(), limit);
          break;
        }
        ++i;
        break;
      }
      case State::kRequestLf:
        if (bytes[i] != '\n') return fail(Status::kBadRequest);
        ++i;
        state_ = State::kFieldStart;
        fields_begin_ = static_cast<uint16_t>(i);
        limit = fields_begin_ + kMaxHeaderBlock;
        end = std::min(request.size(), limit);
        break;
      case State::kFieldStart: {
        const unsigned char c = bytes[i];
        if (c == '\r') {
          state_ = State::kBlockLf;
          ++i;
        } else if (c == '\n') {
          position_ = static_cast<uint32_t>(i + 1);
          state_ = State::kDone;
          return Result::kComplete;
        } else if (is_token_char(c)) {
          if (++field_count_ > kMaxFields) return fail(Status::kHeaderFieldsTooLarge);
          state_ = State::kFieldName;
        } else {
          // Includes SP/HTAB: obs-fold, or whitespace between the request
          // line and the first field, both of which RFC 9112 says to reject.
          return fail(Status::kBadRequest);
        }
        break;
      }
      case State::kFieldName:
        while (i < end && is_token_char(bytes[i])) ++i;
        if (i == end) break;
        if (bytes[i] != ':') return fail(Status::kBadRequest);
        ++i;
        state_ = State::kFieldValue;
        break;
      case State::kFieldValue:
        while (i < end && is_field_value_char(bytes[i])) ++i;
        if (i == end) break;
        if (bytes[i] == '\r') {
          state_ = State::kFieldLf;
        } else if (bytes[i] == '\n') {
          state_ = State::kFieldStart;
        } else {
          return fail(Status::kBadRequest);
        }
        ++i;
        break;
      case State::kFieldLf:
      case State::kBlockLf:
        if (bytes[i] != '\n') return fail(Status::kBadRequest);
        ++i;
        if (state_ == State::kBlockLf) {
          position_ = static_cast<uint32_t>(i);
          state_ = State::kDone;
          return Result::kComplete;
        }
        state_ = State::kFieldStart;
        break;
      case State::kDone:
      case State::kFailed:
        break;  // unreachable: handled on entry
    }
  }

  position_ = static_cast<uint32_t>(i);
  if (i >= limit) {
    return fail(state_ < State::kFieldStart ? Status::kUriTooLong : Status::kHeaderFieldsTooLarge);
  }
  return Result::kNeedMore;
}

RequestHead RequestParser::head(std::string_view request,
                                std::span<HeaderField, kMaxFields> storage) const {
  RequestHead head;
  head.method = request.substr(method_begin_, method_end_ - method_begin_);
  const size_t target_begin = method_end_ + 1u;
  head.target = request.substr(target_begin, target_end_ - target_begin);
  head.version_minor = request[version_begin_ + 7] - '0';
  head.length = position_;

  // The block was validated while it arrived, so this second pass only
  // has to find the colons and line ends.
  size_t count = 0;
  size_t line = fields_begin_;
  const char* data = request.data();
  while (count < field_count_) {
    const char* newline =
        static_cast<const char*>(std::memchr(data + line, '\n', position_ - line));
    size_t line_end = static_cast<size_t>(newline - data);
    const size_t next_line = line_end + 1;
    if (line_end > line && data[line_end - 1] == '\r') --line_end;
    const char* colon = static_cast<const char*>(std::memchr(data + line, ':', line_end - line));
    size_t name_end = static_cast<size_t>(colon - data);
    size_t value_begin = name_end + 1;
    while (value_begin < line_end && is_ows(data[value_begin])) ++value_begin;
    size_t value_end = line_end;
    while (value_end > value_begin && is_ows(data[value_end - 1])) --value_end;
    storage[count].name = request.substr(line, name_end - line);
    storage[count].value = request.substr(value_begin, value_end - value_begin);
    ++count;
    line = next_line;
  }
  head.fields = std::span<const HeaderField>(storage.data(), count);
  return head;
}

}  // namespace reactor::http

namespace reactor::http {

ChunkedDecoder::Result ChunkedDecoder::fail(Status status) {
  state_ = State::kFailed;
  error_ = status;
  return Result::kError;
}

ChunkedDecoder::Result ChunkedDecoder::decode(std::string_view input, std::string& body,
                                              size_t& consumed, uint64_t max_body) {
  consumed = 0;
  if (state_ == State::kDone) return Result::kComplete;
  if (state_ == State::kFailed) return Result::kError;

  // The index is the count of bytes consumed, so even an error reports
  // how far the decoder got.
  size_t& i = consumed;
  while (i < input.size()) {
    const auto c = static_cast<unsigned char>(input[i]);
    switch (state_) {
      case State::kSize: {
        const int digit = hex_value(c);
        if (digit >= 0) {
          if (++size_digits_ > 16) return fail(Status::kBadRequest);
          chunk_size_ = chunk_size_ * 16 + static_cast<uint64_t>(digit);
          ++i;
          break;
        }
        if (size_digits_ == 0) return fail(Status::kBadRequest);
        // decoded_ never exceeds max_body, so this cannot wrap.
        if (chunk_size_ > max_body - decoded_) return fail(Status::kContentTooLarge);
        if (c == ';') {
          state_ = State::kExtension;
          line_length_ = size_digits_ + 1;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return fail(Status::kBadRequest);
        }
        ++i;
        break;
      }
      case State::kExtension:
        // Extensions carry nothing we use; only their length and bytes
        // are checked (no CTLs but HTAB, no bare LF).
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
          return fail(Status::kBadRequest);
        } else if (++line_length_ > kMaxLine) {
          return fail(Status::kBadRequest);
        }
        ++i;
        break;
      case State::kSizeLf:
        if (c != '\n') return fail(Status::kBadRequest);
        ++i;
        if (chunk_size_ == 0) {
          state_ = State::kTrailerStart;
        } else {
          state_ = State::kData;
        }
        break;
      case State::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_size_, input.size() - i));
        body.append(input.data() + i, take);
        i += take;
        chunk_size_ -= take;
        decoded_ += take;
        if (chunk_size_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
        if (c != '\r') return fail(Status::kBadRequest);
        state_ = State::kDataLf;
        ++i;
        break;
      case State::kDataLf:
        if (c != '\n') return fail(Status::kBadRequest);
        state_ = State::kSize;
        size_digits_ = 0;
        chunk_size_ = 0;
        ++i;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
          ++i;
          break;
        }
        if (!is_token_char(c)) return fail(Status::kBadRequest);
        state_ = State::kTrailerLine;
        line_length_ = 0;
        break;
      case State::kTrailerLine:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
          return fail(Status::kBadRequest);
        } else if (++line_length_ > kMaxLine) {
          return fail(Status::kBadRequest);
        }
        if (++trailer_length_ > kMaxTrailer) return fail(Status::kBadRequest);
        ++i;
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail(Status::kBadRequest);
        state_ = State::kTrailerStart;
        ++i;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail(Status::kBadRequest);
        ++i;
        state_ = State::kDone;
        return Result::kComplete;
      case State::kDone:
      case State::kFailed:
        break;  // unreachable: handled on entry
    }
  }
  return Result::kNeedMore;
}

}  // namespace reactor::http
