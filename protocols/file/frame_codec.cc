#include "protocols/file/frame_codec.h"

#include <limits>
#include <stdexcept>

#include "protocols/file/overloaded.h"
#include "protocols/file/wire_format.h"

namespace reactor::file {
namespace {

// Smallest encoded size of one LIST_OK entry: kind, size, mtime, empty name.
constexpr size_t kMinListEntryBytes = 1 + 8 + 8 + 2;

// Writes the type byte and payload after a placeholder length, then fills
// the length in: one pass, no temporary string per frame.
template <typename WritePayload>
void append_framed(std::string& out, MessageType type, WritePayload&& write_payload) {
  size_t start = out.size();
  out.append(kLengthFieldBytes, '\0');
  wire::put_u8(out, static_cast<uint8_t>(type));
  try {
    write_payload(out);
  } catch (...) {
    out.resize(start);  // leave no half frame behind
    throw;
  }
  size_t length = out.size() - start - kLengthFieldBytes;
  if (length > std::numeric_limits<uint32_t>::max()) {
    out.resize(start);
    throw std::length_error("RFTP frame longer than 4 GiB");
  }
  for (size_t i = 0; i < kLengthFieldBytes; ++i) {
    out[start + i] = static_cast<char>((length >> (8 * (kLengthFieldBytes - 1 - i))) & 0xFF);
  }
}

bool is_valid_kind(uint8_t kind, bool allow_unfinished) {
  return kind <= static_cast<uint8_t>(EntryKind::kOther) ||
         (allow_unfinished && kind == static_cast<uint8_t>(EntryKind::kUnfinishedUpload));
}

// A parsed payload or the reason it is malformed.
template <typename Message>
struct Parsed {
  Message message{};
  std::string error;  // empty when parsing succeeded
};

Parsed<Request> parse_request(uint8_t type, std::string_view payload) {
  wire::Reader reader(payload);
  Parsed<Request> result;
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello: {
      std::string_view magic = reader.bytes(kMagic.size());
      uint16_t version = reader.u16();
      if (reader.ok() && magic != kMagic) {
        result.error = "HELLO without the RFTP magic";
        return result;
      }
      result.message = Hello{version};
      break;
    }
    case MessageType::kList:
      result.message = ListRequest{reader.str()};
      break;
    case MessageType::kStat:
      result.message = StatRequest{reader.str()};
      break;
    case MessageType::kGet: {
      GetRequest get;
      get.path = reader.str();
      get.offset = reader.u64();
      result.message = std::move(get);
      break;
    }
    case MessageType::kPut: {
      PutRequest put;
      put.path = reader.str();
      put.size = reader.u64();
      put.offset = reader.u64();
      if (reader.finished() && put.offset > put.size) {
        result.error = "PUT offset beyond its size";
        return result;
      }
      result.message = std::move(put);
      break;
    }
    case MessageType::kPing:
      result.message = Ping{reader.u64()};
      break;
    case MessageType::kHash:
      result.message = HashRequest{reader.str()};
      break;
    default:
      result.error = "unexpected frame type " + message_type_name(type);
      return result;
  }
  if (!reader.ok()) {
    result.error = message_type_name(type) + " payload too short";
  } else if (!reader.finished()) {
    result.error = message_type_name(type) + " payload has trailing bytes";
  }
  return result;
}

Parsed<Reply> parse_reply(uint8_t type, std::string_view payload) {
  wire::Reader reader(payload);
  Parsed<Reply> result;
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHelloOk: {
      HelloOk hello;
      hello.version = reader.u16();
      hello.server = reader.str();
      result.message = std::move(hello);
      break;
    }
    case MessageType::kListOk: {
      ListOk list;
      uint32_t count = reader.u32();
      // Checked before reserving: a forged count must not allocate 4 G entries.
      if (reader.ok() && count > reader.remaining() / kMinListEntryBytes) {
        result.error = "LIST_OK count exceeds its payload";
        return result;
      }
      list.entries.reserve(count);
      for (uint32_t i = 0; i < count && reader.ok(); ++i) {
        ListEntry entry;
        uint8_t kind = reader.u8();
        entry.size = reader.u64();
        entry.mtime = reader.i64();
        entry.name = reader.str();
        if (reader.ok() && !is_valid_kind(kind, false)) {
          result.error = "LIST_OK entry of unknown kind";
          return result;
        }
        entry.kind = static_cast<EntryKind>(kind);
        list.entries.push_back(std::move(entry));
      }
      result.message = std::move(list);
      break;
    }
    case MessageType::kStatOk: {
      StatOk stat;
      uint8_t kind = reader.u8();
      stat.size = reader.u64();
      stat.mtime = reader.i64();
      stat.upload_offset = reader.u64();
      if (reader.ok() && !is_valid_kind(kind, true)) {
        result.error = "STAT_OK of unknown kind";
        return result;
      }
      stat.kind = static_cast<EntryKind>(kind);
      result.message = stat;
      break;
    }
    case MessageType::kData: {
      DataHeader data;
      data.size = reader.u64();
      data.offset = reader.u64();
      data.length = reader.u64();
      if (reader.finished() && (data.offset > data.size || data.length > data.size - data.offset)) {
        result.error = "DATA range beyond the file size";
        return result;
      }
      result.message = data;
      break;
    }
    case MessageType::kPutOk: {
      PutOk put;
      put.path = reader.str();
      put.size = reader.u64();
      result.message = std::move(put);
      break;
    }
    case MessageType::kPong:
      result.message = Pong{reader.u64()};
      break;
    case MessageType::kHashOk: {
      HashOk hash;
      hash.path = reader.str();
      std::string_view digest = reader.bytes(kDigestBytes);
      if (reader.ok()) std::copy(digest.begin(), digest.end(), hash.digest.begin());
      result.message = std::move(hash);
      break;
    }
    case MessageType::kError: {
      ErrorReply error;
      error.code = reader.u16();
      error.message = reader.str();
      result.message = std::move(error);
      break;
    }
    default:
      result.error = "unexpected frame type " + message_type_name(type);
      return result;
  }
  if (!reader.ok()) {
    result.error = message_type_name(type) + " payload too short";
  } else if (!reader.finished()) {
    result.error = message_type_name(type) + " payload has trailing bytes";
  }
  return result;
}

Parsed<Request> parse_message(uint8_t type, std::string_view payload, const Request*) {
  return parse_request(type, payload);
}
Parsed<Reply> parse_message(uint8_t type, std::string_view payload, const Reply*) {
  return parse_reply(type, payload);
}

}  // namespace

void append_frame(std::string& out, const Request& request) {
  append_framed(out, type_of(request), [&](std::string& payload) {
    std::visit(Overloaded{
                   [&](const Hello& hello) {
                     payload.append(kMagic);
                     wire::put_u16(payload, hello.version);
                   },
                   [&](const ListRequest& list) { wire::put_str(payload, list.path); },
                   [&](const StatRequest& stat) { wire::put_str(payload, stat.path); },
                   [&](const GetRequest& get) {
                     wire::put_str(payload, get.path);
                     wire::put_u64(payload, get.offset);
                   },
                   [&](const PutRequest& put) {
                     wire::put_str(payload, put.path);
                     wire::put_u64(payload, put.size);
                     wire::put_u64(payload, put.offset);
                   },
                   [&](const Ping& ping) { wire::put_u64(payload, ping.token); },
                   [&](const HashRequest& hash) { wire::put_str(payload, hash.path); },
               },
               request);
  });
}

void append_frame(std::string& out, const Reply& reply) {
  append_framed(out, type_of(reply), [&](std::string& payload) {
    std::visit(Overloaded{
                   [&](const HelloOk& hello) {
                     wire::put_u16(payload, hello.version);
                     wire::put_str(payload, hello.server);
                   },
                   [&](const ListOk& list) {
                     if (list.entries.size() > std::numeric_limits<uint32_t>::max()) {
                       throw std::length_error("LIST_OK with more than 2^32 entries");
                     }
                     wire::put_u32(payload, static_cast<uint32_t>(list.entries.size()));
                     for (const ListEntry& entry : list.entries) {
                       wire::put_u8(payload, static_cast<uint8_t>(entry.kind));
                       wire::put_u64(payload, entry.size);
                       wire::put_i64(payload, entry.mtime);
                       wire::put_str(payload, entry.name);
                     }
                   },
                   [&](const StatOk& stat) {
                     wire::put_u8(payload, static_cast<uint8_t>(stat.kind));
                     wire::put_u64(payload, stat.size);
                     wire::put_i64(payload, stat.mtime);
                     wire::put_u64(payload, stat.upload_offset);
                   },
                   [&](const DataHeader& data) {
                     wire::put_u64(payload, data.size);
                     wire::put_u64(payload, data.offset);
                     wire::put_u64(payload, data.length);
                   },
                   [&](const PutOk& put) {
                     wire::put_str(payload, put.path);
                     wire::put_u64(payload, put.size);
                   },
                   [&](const Pong& pong) { wire::put_u64(payload, pong.token); },
                   [&](const HashOk& hash) {
                     wire::put_str(payload, hash.path);
                     payload.append(reinterpret_cast<const char*>(hash.digest.data()),
                                    hash.digest.size());
                   },
                   [&](const ErrorReply& error) {
                     wire::put_u16(payload, error.code);
                     wire::put_str(payload, error.message);
                   },
               },
               reply);
  });
}

std::string encode_frame(const Request& request) {
  std::string out;
  append_frame(out, request);
  return out;
}

std::string encode_frame(const Reply& reply) {
  std::string out;
  append_frame(out, reply);
  return out;
}

template <typename Message>
DecodeStep<Message> FrameDecoder<Message>::fail(ErrorCode code, std::string detail) {
  failed_ = true;
  failure_code_ = code;
  failure_detail_ = detail;
  DecodeStep<Message> step;
  step.status = DecodeStatus::kError;
  step.error = code;
  step.detail = std::move(detail);
  return step;
}

template <typename Message>
DecodeStep<Message> FrameDecoder<Message>::next(std::string_view input) {
  DecodeStep<Message> step;
  if (failed_) {
    step.status = DecodeStatus::kError;
    step.error = failure_code_;
    step.detail = failure_detail_;
    return step;
  }
  if (raw_remaining_ > 0) {
    if (input.empty()) return step;
    size_t take =
        input.size() < raw_remaining_ ? input.size() : static_cast<size_t>(raw_remaining_);
    raw_remaining_ -= take;
    step.status = DecodeStatus::kRawBytes;
    step.consumed = take;
    step.raw = input.substr(0, take);
    return step;
  }
  if (input.size() < kLengthFieldBytes) return step;
  uint64_t length = wire::get_uint(input.data(), kLengthFieldBytes);
  if (length == 0) return fail(ErrorCode::kMalformed, "frame of length 0");
  // Refused before the body arrives: nobody should have to buffer it.
  if (length > max_frame_length_) {
    return fail(ErrorCode::kTooLarge, "frame of " + std::to_string(length) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_frame_length_));
  }
  if (input.size() - kLengthFieldBytes < length) return step;
  uint8_t type = static_cast<uint8_t>(input[kLengthFieldBytes]);
  std::string_view payload = input.substr(kLengthFieldBytes + 1, length - 1);
  Parsed<Message> parsed = parse_message(type, payload, static_cast<const Message*>(nullptr));
  if (!parsed.error.empty()) return fail(ErrorCode::kMalformed, std::move(parsed.error));
  raw_remaining_ = trailing_bytes(parsed.message);
  step.status = DecodeStatus::kMessage;
  step.consumed = kLengthFieldBytes + length;
  step.message = std::move(parsed.message);
  return step;
}

template class FrameDecoder<Request>;
template class FrameDecoder<Reply>;

}  // namespace reactor::file
