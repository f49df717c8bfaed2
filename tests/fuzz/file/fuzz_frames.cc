// libFuzzer target for the RFTP frame decoder (both directions).
//
// The input is fed to a RequestDecoder and a ReplyDecoder the way a
// connection would: in pieces whose sizes come from the input itself, with
// unconsumed bytes offered again. Checked on every step:
//  - consumed never exceeds what was offered; raw runs are exactly the
//    consumed bytes; a decoder that failed stays failed;
//  - every decoded message re-encodes to exactly the bytes it came from
//    (so encoding and decoding agree on every field);
//  - the same stream fed whole gives the same messages as fed in pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/file/frame_codec.h"

namespace rf = reactor::file;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

template <typename Decoder>
std::vector<std::string> decode_in_pieces(std::string_view stream, std::string_view piece_sizes) {
  Decoder decoder;
  std::vector<std::string> events;  // re-encoded messages and raw runs, in order
  std::string buffer;
  size_t fed = 0;
  size_t piece = 0;
  bool failed = false;
  while (fed < stream.size() && !failed) {
    size_t size = piece_sizes.empty()
                      ? stream.size()
                      : 1 + static_cast<uint8_t>(piece_sizes[piece++ % piece_sizes.size()]) % 64;
    size = std::min(size, stream.size() - fed);
    buffer.append(stream.substr(fed, size));
    fed += size;
    for (int guard = 0; guard < 1 << 20; ++guard) {
      auto step = decoder.next(buffer);
      check(step.consumed <= buffer.size());
      if (step.status == rf::DecodeStatus::kNeedMore) {
        check(step.consumed == 0);
        break;
      }
      if (step.status == rf::DecodeStatus::kError) {
        check(decoder.failed());
        check(decoder.next(buffer).status == rf::DecodeStatus::kError);
        events.push_back("error");
        failed = true;
        break;
      }
      if (step.status == rf::DecodeStatus::kRawBytes) {
        check(step.consumed > 0);
        check(step.raw.size() == step.consumed);
        check(step.raw.data() == buffer.data());
        events.push_back("raw:" + std::string(step.raw));
      } else {
        std::string encoded = rf::encode_frame(step.message);
        check(encoded.size() == step.consumed);
        check(std::string_view(buffer).substr(0, step.consumed) == encoded);
        check(decoder.raw_remaining() == rf::trailing_bytes(step.message));
        events.push_back("msg:" + encoded);
      }
      buffer.erase(0, step.consumed);
    }
  }
  return events;
}

// Raw runs may be split differently; compare their concatenation.
std::vector<std::string> merge_raw(const std::vector<std::string>& events) {
  std::vector<std::string> merged;
  for (const std::string& event : events) {
    if (event.starts_with("raw:") && !merged.empty() && merged.back().starts_with("raw:")) {
      merged.back() += event.substr(4);
    } else {
      merged.push_back(event);
    }
  }
  return merged;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // First byte: how many of the following bytes steer the piece sizes.
  size_t steering = std::min<size_t>(data[0] % 16, size - 1);
  std::string_view pieces(reinterpret_cast<const char*>(data) + 1, steering);
  std::string_view stream(reinterpret_cast<const char*>(data) + 1 + steering, size - 1 - steering);

  auto requests = merge_raw(decode_in_pieces<rf::RequestDecoder>(stream, pieces));
  check(requests == merge_raw(decode_in_pieces<rf::RequestDecoder>(stream, {})));
  auto replies = merge_raw(decode_in_pieces<rf::ReplyDecoder>(stream, pieces));
  check(replies == merge_raw(decode_in_pieces<rf::ReplyDecoder>(stream, {})));
  return 0;
}
