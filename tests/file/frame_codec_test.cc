// Unit tests of the RFTP frame codec: every message encoded, then decoded
// from the stream split at every byte offset; malformed and oversized
// frames; the raw runs after DATA and PUT.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/file/frame_codec.h"
#include "protocols/file/wire_format.h"

namespace rf = reactor::file;

namespace {

std::vector<rf::Request> sample_requests() {
  return {
      rf::Hello{1},
      rf::Hello{7},
      rf::ListRequest{""},
      rf::ListRequest{"dir/sub"},
      rf::StatRequest{"a.txt"},
      rf::GetRequest{"big.bin", 123456789012345ULL},
      rf::PutRequest{"up/load.bin", 10, 4},
      rf::PutRequest{"empty", 0, 0},
      rf::Ping{0xDEADBEEFCAFEF00DULL},
      rf::HashRequest{"h\xC3\xA9llo"},
      rf::Hello{2},
      rf::AuthRequest{},
      rf::Put2Request{"up/load.bin", 10, 4, 1700000000},
      rf::Put2Request{"empty", 0, 0, rf::kNoMtime},
      rf::ResumeRequest{"up/load.bin"},
      rf::MkdirRequest{"a/b"},
      rf::MkdirRequest{""},
  };
}

std::vector<rf::Reply> sample_replies() {
  rf::ListOk list;
  list.entries.push_back({rf::EntryKind::kDirectory, 0, 1700000000, "dir"});
  list.entries.push_back({rf::EntryKind::kFile, 42, -5, "file.txt"});
  list.entries.push_back({rf::EntryKind::kOther, 0, 0, ""});
  rf::HashOk hash{"some/path", {}};
  for (size_t i = 0; i < hash.digest.size(); ++i) hash.digest[i] = static_cast<uint8_t>(i * 7);
  return {
      rf::HelloOk{1, "reactor-fileserver/0.1"},
      list,
      rf::ListOk{},
      rf::StatOk{rf::EntryKind::kUnfinishedUpload, 100, 1700000001, 60},
      rf::DataHeader{10, 3, 7},
      rf::DataHeader{0, 0, 0},
      rf::PutOk{"x/y", 99},
      rf::Pong{77},
      hash,
      rf::ErrorReply{2, "not found"},
      rf::Challenge{hash.digest},
      rf::ResumeOk{"up/x", 100, -3, 40, hash.digest},
      rf::ResumeOk{"", 0, rf::kNoMtime, 0, {}},
      rf::MkdirOk{"a/b"},
  };
}

// Raw bytes that follow a message on the wire, recognisable per message.
std::string trailing_for(uint64_t count, size_t seed) {
  std::string bytes;
  for (uint64_t i = 0; i < count; ++i) bytes.push_back(static_cast<char>('a' + (i + seed) % 26));
  return bytes;
}

// Decodes a whole stream fed in two pieces (split at `split`), the way a
// connection's input buffer grows: unconsumed bytes are offered again
// with more appended.
template <typename Decoder, typename Message>
void decode_stream(Decoder& decoder, const std::string& stream, size_t split,
                   std::vector<Message>& messages, std::string& raw) {
  std::string buffer;
  size_t fed = 0;
  std::vector<size_t> feeds = {split, stream.size()};
  for (size_t until : feeds) {
    buffer.append(stream, fed, until - fed);
    fed = until;
    for (int guard = 0; guard < 10000; ++guard) {
      auto step = decoder.next(buffer);
      if (step.status == rf::DecodeStatus::kNeedMore) {
        CHECK(step.consumed == 0);
        break;
      }
      REQUIRE(step.status != rf::DecodeStatus::kError);
      if (step.status == rf::DecodeStatus::kMessage) {
        messages.push_back(std::move(step.message));
      } else {
        raw.append(step.raw);
      }
      buffer.erase(0, step.consumed);
    }
  }
  CHECK(buffer.empty());
}

std::string frame_with(uint8_t type, const std::string& payload) {
  std::string frame;
  rf::wire::put_u32(frame, static_cast<uint32_t>(payload.size() + 1));
  rf::wire::put_u8(frame, type);
  return frame + payload;
}

rf::DecodeStep<rf::Request> decode_one_request(const std::string& bytes) {
  rf::RequestDecoder decoder;
  return decoder.next(bytes);
}

}  // namespace

TEST_CASE("every request survives a split at every byte offset") {
  std::string stream;
  std::string expected_raw;
  auto requests = sample_requests();
  for (size_t i = 0; i < requests.size(); ++i) {
    rf::append_frame(stream, requests[i]);
    std::string raw = trailing_for(rf::trailing_bytes(requests[i]), i);
    stream += raw;
    expected_raw += raw;
  }
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    rf::RequestDecoder decoder;
    std::vector<rf::Request> decoded;
    std::string raw;
    decode_stream(decoder, stream, split, decoded, raw);
    REQUIRE(decoded.size() == requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      CHECK(rf::type_of(decoded[i]) == rf::type_of(requests[i]));
      CHECK(rf::encode_frame(decoded[i]) == rf::encode_frame(requests[i]));
    }
    CHECK(raw == expected_raw);
    CHECK(decoder.at_frame_boundary());
  }
}

TEST_CASE("every reply survives a split at every byte offset") {
  std::string stream;
  std::string expected_raw;
  auto replies = sample_replies();
  for (size_t i = 0; i < replies.size(); ++i) {
    rf::append_frame(stream, replies[i]);
    std::string raw = trailing_for(rf::trailing_bytes(replies[i]), i);
    stream += raw;
    expected_raw += raw;
  }
  for (size_t split = 0; split <= stream.size(); ++split) {
    CAPTURE(split);
    rf::ReplyDecoder decoder;
    std::vector<rf::Reply> decoded;
    std::string raw;
    decode_stream(decoder, stream, split, decoded, raw);
    REQUIRE(decoded.size() == replies.size());
    for (size_t i = 0; i < replies.size(); ++i) {
      CHECK(rf::encode_frame(decoded[i]) == rf::encode_frame(replies[i]));
    }
    CHECK(raw == expected_raw);
  }
}

TEST_CASE("a stream fed one byte at a time decodes the same") {
  std::string stream;
  for (const auto& request : sample_requests()) {
    rf::append_frame(stream, request);
    stream += trailing_for(rf::trailing_bytes(request), 0);
  }
  rf::RequestDecoder decoder;
  std::string buffer;
  size_t messages = 0;
  size_t raw_bytes = 0;
  for (char byte : stream) {
    buffer.push_back(byte);
    for (;;) {
      auto step = decoder.next(buffer);
      REQUIRE(step.status != rf::DecodeStatus::kError);
      if (step.status == rf::DecodeStatus::kNeedMore) break;
      if (step.status == rf::DecodeStatus::kMessage) ++messages;
      if (step.status == rf::DecodeStatus::kRawBytes) raw_bytes += step.raw.size();
      buffer.erase(0, step.consumed);
    }
  }
  CHECK(messages == sample_requests().size());
  CHECK(raw_bytes == (10 - 4) * 2);  // PUT and PUT2
}

TEST_CASE("field values round-trip exactly") {
  rf::RequestDecoder decoder;
  auto step = decoder.next(rf::encode_frame(rf::PutRequest{"p", 1ULL << 40, (1ULL << 40) - 5}));
  REQUIRE(step.status == rf::DecodeStatus::kMessage);
  const auto& put = std::get<rf::PutRequest>(step.message);
  CHECK(put.path == "p");
  CHECK(put.size == 1ULL << 40);
  CHECK(put.offset == (1ULL << 40) - 5);
  CHECK(decoder.raw_remaining() == 5);

  rf::ReplyDecoder replies;
  auto stat = replies.next(rf::encode_frame(rf::StatOk{rf::EntryKind::kFile, 5, -1, 3}));
  REQUIRE(stat.status == rf::DecodeStatus::kMessage);
  CHECK(std::get<rf::StatOk>(stat.message).mtime == -1);
  CHECK(std::get<rf::StatOk>(stat.message).upload_offset == 3);
}

TEST_CASE("DATA frames have length 25 and announce their raw bytes") {
  std::string frame = rf::encode_frame(rf::DataHeader{100, 40, 60});
  CHECK(frame.size() == 4 + rf::kDataFrameLength);
  CHECK(rf::wire::get_uint(frame.data(), 4) == 25);
  rf::ReplyDecoder decoder;
  auto step = decoder.next(frame);
  REQUIRE(step.status == rf::DecodeStatus::kMessage);
  CHECK(decoder.raw_remaining() == 60);
  auto raw = decoder.next("xyz");
  CHECK(raw.status == rf::DecodeStatus::kRawBytes);
  CHECK(raw.raw == "xyz");
  CHECK(decoder.raw_remaining() == 57);
  CHECK(decoder.next("").status == rf::DecodeStatus::kNeedMore);
}

TEST_CASE("raw bytes never swallow the next frame") {
  std::string stream =
      rf::encode_frame(rf::PutRequest{"f", 3, 0}) + "abc" + rf::encode_frame(rf::Ping{9});
  rf::RequestDecoder decoder;
  auto put = decoder.next(stream);
  REQUIRE(put.status == rf::DecodeStatus::kMessage);
  stream.erase(0, put.consumed);
  auto raw = decoder.next(stream);
  REQUIRE(raw.status == rf::DecodeStatus::kRawBytes);
  CHECK(raw.raw == "abc");
  stream.erase(0, raw.consumed);
  auto ping = decoder.next(stream);
  REQUIRE(ping.status == rf::DecodeStatus::kMessage);
  CHECK(std::get<rf::Ping>(ping.message).token == 9);
}

TEST_CASE("malformed requests are refused with the contract's codes") {
  auto length_field = [](uint32_t length) {
    std::string bytes;
    rf::wire::put_u32(bytes, length);
    return bytes;
  };
  auto expect_error = [](const std::string& bytes, rf::ErrorCode code) {
    auto step = decode_one_request(bytes);
    CHECK(step.status == rf::DecodeStatus::kError);
    CHECK(step.error == code);
    CHECK_FALSE(step.detail.empty());
  };
  SUBCASE("zero length") {
    expect_error(length_field(0), rf::ErrorCode::kMalformed);
  }
  SUBCASE("oversized length, refused from the length field alone") {
    expect_error(length_field(65537), rf::ErrorCode::kTooLarge);
    expect_error(length_field(0xFFFFFFFF), rf::ErrorCode::kTooLarge);
  }
  SUBCASE("the largest allowed length waits for its bytes") {
    auto step = decode_one_request(length_field(65536) + "\x02");
    CHECK(step.status == rf::DecodeStatus::kNeedMore);
  }
  SUBCASE("unknown and server-side types") {
    expect_error(frame_with(0x00, ""), rf::ErrorCode::kMalformed);
    expect_error(frame_with(0x08, ""), rf::ErrorCode::kMalformed);
    expect_error(frame_with(0x81, ""), rf::ErrorCode::kMalformed);
    expect_error(frame_with(0xFF, ""), rf::ErrorCode::kMalformed);
  }
  SUBCASE("payload shorter than its fields") {
    expect_error(frame_with(0x06, "1234567"), rf::ErrorCode::kMalformed);
    expect_error(frame_with(0x02, std::string("\x00\x05"
                                              "abc",
                                              5)),
                 rf::ErrorCode::kMalformed);
    expect_error(frame_with(0x02, ""), rf::ErrorCode::kMalformed);
  }
  SUBCASE("payload longer than its fields") {
    expect_error(frame_with(0x06, "123456789"), rf::ErrorCode::kMalformed);
    expect_error(frame_with(0x02, std::string("\x00\x01"
                                              "ab",
                                              4)),
                 rf::ErrorCode::kMalformed);
  }
  SUBCASE("HELLO with the wrong magic") {
    expect_error(frame_with(0x01, std::string("RFTX\x00\x01", 6)), rf::ErrorCode::kMalformed);
  }
  SUBCASE("PUT offset beyond its size") {
    std::string payload;
    rf::wire::put_str(payload, "p");
    rf::wire::put_u64(payload, 5);
    rf::wire::put_u64(payload, 6);
    expect_error(frame_with(0x05, payload), rf::ErrorCode::kMalformed);
  }
}

TEST_CASE("a failed decoder stays failed") {
  rf::RequestDecoder decoder;
  std::string bytes(4, '\0');
  CHECK(decoder.next(bytes).status == rf::DecodeStatus::kError);
  CHECK(decoder.failed());
  CHECK(decoder.next(rf::encode_frame(rf::Ping{1})).status == rf::DecodeStatus::kError);
}

TEST_CASE("malformed replies are refused") {
  auto reply_error = [](uint8_t type, const std::string& payload) {
    rf::ReplyDecoder decoder;
    return decoder.next(frame_with(type, payload)).status == rf::DecodeStatus::kError;
  };
  CHECK(reply_error(0x01, ""));  // a client-side type
  CHECK(reply_error(0x99, ""));
  std::string forged_count;
  rf::wire::put_u32(forged_count, 0xFFFFFFFF);
  CHECK(reply_error(0x82, forged_count));
  std::string data;
  rf::wire::put_u64(data, 10);
  rf::wire::put_u64(data, 11);
  rf::wire::put_u64(data, 0);
  CHECK(reply_error(0x84, data));
  std::string stat;
  rf::wire::put_u8(stat, 4);
  rf::wire::put_u64(stat, 0);
  rf::wire::put_u64(stat, 0);
  rf::wire::put_u64(stat, 0);
  CHECK(reply_error(0x83, stat));

  rf::ReplyDecoder small(100);
  std::string big;
  rf::wire::put_u32(big, 101);
  CHECK(small.next(big).error == rf::ErrorCode::kTooLarge);
}

TEST_CASE("a DATA header whose range runs past the end of the file is refused") {
  // The client writes `length` raw bytes at `offset` of a file of `size`:
  // a range past the end would grow the file beyond what the server said.
  auto data_header = [](uint64_t size, uint64_t offset, uint64_t length) {
    std::string payload;
    rf::wire::put_u64(payload, size);
    rf::wire::put_u64(payload, offset);
    rf::wire::put_u64(payload, length);
    rf::ReplyDecoder decoder;
    return decoder.next(frame_with(0x84, payload)).status;
  };
  CHECK(data_header(100, 40, 60) == rf::DecodeStatus::kMessage);  // up to the last byte
  CHECK(data_header(100, 40, 61) == rf::DecodeStatus::kError);
  CHECK(data_header(100, 100, 0) == rf::DecodeStatus::kMessage);
  CHECK(data_header(100, 100, 1) == rf::DecodeStatus::kError);
  // offset + length would wrap around to a small number.
  CHECK(data_header(10, 5, UINT64_MAX) == rf::DecodeStatus::kError);
}

TEST_CASE("encoding refuses strings that do not fit a u16 length") {
  std::string huge(70000, 'x');
  CHECK_THROWS_AS(rf::encode_frame(rf::StatRequest{huge}), std::length_error);
  std::string out = "keep";
  CHECK_THROWS(rf::append_frame(out, rf::Reply{rf::ErrorReply{1, huge}}));
  CHECK(out == "keep");
}

TEST_CASE("every message type has the bytes of the wire format (pinned)") {
  // Hex of the frames the codec wrote before it became table-driven, so a
  // change in layout is caught here rather than by a peer.
  auto hex = [](const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (unsigned char c : bytes) {
      text += kDigits[c >> 4];
      text += kDigits[c & 15];
    }
    return text;
  };
  rf::Digest digest{};
  for (size_t i = 0; i < digest.size(); ++i) digest[i] = static_cast<uint8_t>(i * 7 + 1);
  CHECK(hex(rf::encode_frame(rf::Request{rf::Hello{1}})) == "0000000701524654500001");
  CHECK(hex(rf::encode_frame(rf::Request{rf::ListRequest{"a/b"}})) == "00000006020003612f62");
  CHECK(hex(rf::encode_frame(rf::Request{rf::StatRequest{"x\xC3\xA9"}})) == "0000000603000378c3a9");
  CHECK(hex(rf::encode_frame(rf::Request{rf::GetRequest{"f", 0x0102030405060708ULL}})) ==
        "0000000c040001660102030405060708");
  CHECK(hex(rf::encode_frame(rf::Request{rf::PutRequest{"up/p", 1000, 10}})) ==
        "0000001705000475702f7000000000000003e8000000000000000a");
  CHECK(hex(rf::encode_frame(rf::Request{rf::Ping{0xFFFFFFFFFFFFFFFFULL}})) ==
        "0000000906ffffffffffffffff");
  CHECK(hex(rf::encode_frame(rf::Request{rf::HashRequest{"h"}})) == "0000000407000168");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::HelloOk{1, "reactor-fileserver/0.1.0"}})) ==
        "0000001d810001001872656163746f722d66696c657365727665722f302e312e30");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::ListOk{{
            {rf::EntryKind::kFile, 3, 1700662400, "hi.txt"},
            {rf::EntryKind::kDirectory, 0, -5, "d"},
            {rf::EntryKind::kOther, 9, 0, ""},
        }}})) ==
        "00000045820000000300000000000000000300000000655e0c80000668692e74787401000000000000"
        "0000fffffffffffffffb00016402000000000000000900000000000000000000");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::StatOk{rf::EntryKind::kUnfinishedUpload, 77, -1, 5}})) ==
        "0000001a8303000000000000004dffffffffffffffff0000000000000005");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::DataHeader{100, 10, 90}})) ==
        "00000019840000000000000064000000000000000a000000000000005a");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::PutOk{"./a//b", 12}})) ==
        "000000118500062e2f612f2f62000000000000000c");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::Pong{42}})) == "0000000986000000000000002a");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::HashOk{"p", digest}})) ==
        "000000248700017001080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::ErrorReply{8, "pipe: not a regular file"}})) ==
        "0000001dff00080018706970653a206e6f74206120726567756c61722066696c65");
  // Version 2 (docs/PROTOCOL.md, section 2).
  CHECK(hex(rf::encode_frame(rf::Request{rf::AuthRequest{digest}})) ==
        "0000002108"
        "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
  CHECK(hex(rf::encode_frame(rf::Request{rf::Put2Request{"up/p", 1000, 10, -2}})) ==
        "0000001f09000475702f7000000000000003e8000000000000000afffffffffffffffe");
  CHECK(hex(rf::encode_frame(rf::Request{rf::ResumeRequest{"h"}})) == "000000040a000168");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::Challenge{digest}})) ==
        "0000002188"
        "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
  CHECK(hex(rf::encode_frame(rf::Reply{rf::ResumeOk{"p", 9, 1, 4, digest}})) ==
        "0000003c8a000170"
        "0000000000000009"
        "0000000000000001"
        "0000000000000004"
        "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
}

TEST_CASE("version 2 frames that break their own rules are malformed") {
  rf::RequestDecoder requests;
  auto put2 = rf::encode_frame(rf::Request{rf::Put2Request{"p", 5, 6, 0}});
  CHECK(requests.next(put2).status == rf::DecodeStatus::kError);
  rf::ReplyDecoder replies;
  auto resume = rf::encode_frame(rf::Reply{rf::ResumeOk{"p", 5, 0, 6, {}}});
  CHECK(replies.next(resume).status == rf::DecodeStatus::kError);
  rf::RequestDecoder short_auth;
  std::string auth = rf::encode_frame(rf::Request{rf::AuthRequest{}});
  auth[3] = static_cast<char>(auth[3] - 1);  // one proof byte short
  auth.pop_back();
  CHECK(short_auth.next(auth).status == rf::DecodeStatus::kError);
}
