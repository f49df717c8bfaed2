// RFTP frame codec: messages to bytes, and an incremental decoder that
// turns a byte stream back into messages and the raw runs that follow
// DATA and PUT frames.
//
// The decoder never copies or buffers input itself: the caller keeps
// unconsumed bytes (a reactor::Buffer does) and offers them again with
// more appended. Each call to next() looks at the front of the input and
// says how many bytes it used, so any split of the stream -- one byte at a
// time or everything at once -- yields the same sequence of steps.
//
// Threading: none; a decoder belongs to one connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/file/messages.h"
#include "protocols/file/protocol.h"

namespace reactor::file {

// Appends one encoded frame to `out`. Throws std::length_error when a
// string field exceeds 65,535 bytes or the frame would not fit `len`.
void append_frame(std::string& out, const Request& request);
void append_frame(std::string& out, const Reply& reply);

// One encoded frame (without any raw bytes that follow it).
std::string encode_frame(const Request& request);
std::string encode_frame(const Reply& reply);

enum class DecodeStatus {
  kNeedMore,  // the input holds no complete frame (or raw byte) yet
  kMessage,   // a frame was decoded into `message`
  kRawBytes,  // `raw` holds bytes that follow a DATA/PUT frame
  kError,     // the stream is broken; every later call repeats the error
};

template <typename Message>
struct DecodeStep {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // Bytes to drop from the front of the input before the next call.
  size_t consumed = 0;
  Message message{};
  // kRawBytes: a view of the first `consumed` bytes of the input.
  std::string_view raw;
  // kError: the ERROR code a server answers with, and why.
  ErrorCode error = ErrorCode::kMalformed;
  std::string detail;
};

template <typename Message>
class FrameDecoder {
 public:
  // Frames whose `len` exceeds max_frame_length are refused (ErrorCode
  // kTooLarge) as soon as the length field has arrived.
  explicit FrameDecoder(size_t max_frame_length) : max_frame_length_(max_frame_length) {}

  DecodeStep<Message> next(std::string_view input);

  // Raw bytes still owed by the last DATA/PUT frame.
  uint64_t raw_remaining() const { return raw_remaining_; }
  // Records that `count` raw bytes (at most raw_remaining()) were taken
  // without passing through next() -- spliced straight off the socket.
  void skip_raw_bytes(uint64_t count) {
    raw_remaining_ -= count < raw_remaining_ ? count : raw_remaining_;
  }
  bool at_frame_boundary() const { return raw_remaining_ == 0; }
  bool failed() const { return failed_; }

 private:
  DecodeStep<Message> fail(ErrorCode code, std::string detail);

  size_t max_frame_length_;
  uint64_t raw_remaining_ = 0;
  bool failed_ = false;
  ErrorCode failure_code_ = ErrorCode::kMalformed;
  std::string failure_detail_;
};

// What a server reads: client -> server frames, at most 64 KiB each.
class RequestDecoder : public FrameDecoder<Request> {
 public:
  RequestDecoder() : FrameDecoder<Request>(kMaxRequestFrameLength) {}
};

// What a client reads: server -> client frames.
class ReplyDecoder : public FrameDecoder<Reply> {
 public:
  explicit ReplyDecoder(size_t max_frame_length = kMaxReplyFrameLength)
      : FrameDecoder<Reply>(max_frame_length) {}
};

extern template class FrameDecoder<Request>;
extern template class FrameDecoder<Reply>;

}  // namespace reactor::file
