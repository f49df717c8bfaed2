#include "protocols/file/frame_codec.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <type_traits>

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

bool is_valid_kind(EntryKind kind, bool allow_unfinished) {
  return kind <= EntryKind::kOther || (allow_unfinished && kind == EntryKind::kUnfinishedUpload);
}

// Appends each field in wire order; every message's layout is its fields().
struct FieldWriter {
  std::string& out;

  void operator()(MagicField) { out.append(kMagic); }
  void operator()(uint16_t value) { wire::put_u16(out, value); }
  void operator()(uint64_t value) { wire::put_u64(out, value); }
  void operator()(int64_t value) { wire::put_i64(out, value); }
  void operator()(EntryKind kind) { wire::put_u8(out, static_cast<uint8_t>(kind)); }
  void operator()(const std::string& text) { wire::put_str(out, text); }
  void operator()(const Digest& digest) {
    out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  }
  void operator()(const std::vector<ListEntry>& entries) {
    if (entries.size() > std::numeric_limits<uint32_t>::max()) {
      throw std::length_error("LIST_OK with more than 2^32 entries");
    }
    wire::put_u32(out, static_cast<uint32_t>(entries.size()));
    for (const ListEntry& entry : entries) ListEntry::fields(entry, *this);
  }
};

// Reads each field in wire order. A field that cannot be valid whatever
// follows it (a forged LIST_OK count, an unknown entry kind) stops the
// parse with `error`; running out of bytes is left to the caller's
// Reader::ok() check.
struct FieldReader {
  wire::Reader& reader;
  std::string& error;
  bool magic_matches = true;

  void operator()(MagicField) { magic_matches = reader.bytes(kMagic.size()) == kMagic; }
  void operator()(uint16_t& value) { value = reader.u16(); }
  void operator()(uint64_t& value) { value = reader.u64(); }
  void operator()(int64_t& value) { value = reader.i64(); }
  void operator()(EntryKind& kind) { kind = static_cast<EntryKind>(reader.u8()); }
  void operator()(std::string& text) { text = reader.str(); }
  void operator()(Digest& digest) {
    std::string_view bytes = reader.bytes(kDigestBytes);
    if (reader.ok()) std::copy(bytes.begin(), bytes.end(), digest.begin());
  }
  void operator()(std::vector<ListEntry>& entries) {
    uint32_t count = reader.u32();
    // Checked before reserving: a forged count must not allocate 4 G entries.
    if (reader.ok() && count > reader.remaining() / kMinListEntryBytes) {
      error = "LIST_OK count exceeds its payload";
      return;
    }
    entries.reserve(count);
    for (uint32_t i = 0; i < count && reader.ok(); ++i) {
      ListEntry entry;
      ListEntry::fields(entry, *this);
      if (reader.ok() && !is_valid_kind(entry.kind, false)) {
        error = "LIST_OK entry of unknown kind";
        return;
      }
      entries.push_back(std::move(entry));
    }
  }
};

// Rules beyond the field layout, checked once the fields are read; an
// empty string when the message is fine.
template <typename Message>
std::string violation(const Message&, const FieldReader&) {
  return {};
}
std::string violation(const Hello&, const FieldReader& fields) {
  return fields.reader.ok() && !fields.magic_matches ? "HELLO without the RFTP magic" : "";
}
std::string violation(const PutRequest& put, const FieldReader& fields) {
  return fields.reader.finished() && put.offset > put.size ? "PUT offset beyond its size" : "";
}
std::string violation(const Put2Request& put, const FieldReader& fields) {
  return fields.reader.finished() && put.offset > put.size ? "PUT2 offset beyond its size" : "";
}
std::string violation(const ResumeOk& resume, const FieldReader& fields) {
  return fields.reader.finished() && resume.held > resume.size
             ? "RESUME_OK holds more than its size"
             : "";
}
std::string violation(const StatOk& stat, const FieldReader& fields) {
  return fields.reader.ok() && !is_valid_kind(stat.kind, true) ? "STAT_OK of unknown kind" : "";
}
std::string violation(const DataHeader& data, const FieldReader& fields) {
  const bool beyond = data.offset > data.size || data.length > data.size - data.offset;
  return fields.reader.finished() && beyond ? "DATA range beyond the file size" : "";
}

// A parsed payload or the reason it is malformed.
template <typename Message>
struct Parsed {
  Message message{};
  std::string error;  // empty when parsing succeeded
};

template <typename Message, typename Variant>
Parsed<Variant> parse_payload(std::string_view payload) {
  wire::Reader reader(payload);
  Parsed<Variant> result;
  Message message{};
  FieldReader fields{reader, result.error};
  Message::fields(message, fields);
  if (!result.error.empty()) return result;
  result.error = violation(message, fields);
  if (!result.error.empty()) return result;
  const std::string name = message_type_name(static_cast<uint8_t>(Message::kType));
  if (!reader.ok()) {
    result.error = name + " payload too short";
  } else if (!reader.finished()) {
    result.error = name + " payload has trailing bytes";
  } else {
    result.message = std::move(message);
  }
  return result;
}

// Finds the alternative of `Variant` whose kType is `type`: the frame
// table is the variant itself.
template <typename Variant, size_t Index = 0>
Parsed<Variant> parse_message(uint8_t type, std::string_view payload) {
  if constexpr (Index == std::variant_size_v<Variant>) {
    Parsed<Variant> result;
    result.error = "unexpected frame type " + message_type_name(type);
    return result;
  } else {
    using Message = std::variant_alternative_t<Index, Variant>;
    if (type == static_cast<uint8_t>(Message::kType)) {
      return parse_payload<Message, Variant>(payload);
    }
    return parse_message<Variant, Index + 1>(type, payload);
  }
}

template <typename Variant>
void append_message(std::string& out, const Variant& message) {
  std::visit(
      [&](const auto& alternative) {
        using Message = std::decay_t<decltype(alternative)>;
        append_framed(out, Message::kType, [&](std::string& payload) {
          Message::fields(alternative, FieldWriter{payload});
        });
      },
      message);
}

}  // namespace

void append_frame(std::string& out, const Request& request) {
  append_message(out, request);
}

void append_frame(std::string& out, const Reply& reply) {
  append_message(out, reply);
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
  Parsed<Message> parsed = parse_message<Message>(type, payload);
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
