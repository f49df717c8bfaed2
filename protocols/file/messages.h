// RFTP messages as plain structs, one per frame type, grouped into the two
// directions. The codec (frame_codec.h) turns them into bytes and back.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "protocols/file/protocol.h"

namespace reactor::file {

// ---- client -> server ------------------------------------------------------

// The magic is checked by the decoder; only the version reaches the server.
struct Hello {
  uint16_t version = kProtocolVersion;
};
struct ListRequest {
  std::string path;
};
struct StatRequest {
  std::string path;
};
struct GetRequest {
  std::string path;
  uint64_t offset = 0;
};
// Followed on the wire by exactly size - offset raw bytes.
struct PutRequest {
  std::string path;
  uint64_t size = 0;
  uint64_t offset = 0;
};
struct Ping {
  uint64_t token = 0;
};
struct HashRequest {
  std::string path;
};

using Request =
    std::variant<Hello, ListRequest, StatRequest, GetRequest, PutRequest, Ping, HashRequest>;

// ---- server -> client ------------------------------------------------------

struct HelloOk {
  uint16_t version = kProtocolVersion;
  std::string server;
};
struct ListEntry {
  EntryKind kind = EntryKind::kFile;
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string name;
};
struct ListOk {
  std::vector<ListEntry> entries;
};
struct StatOk {
  EntryKind kind = EntryKind::kFile;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint64_t upload_offset = 0;
};
// Followed on the wire by exactly `length` raw bytes.
struct DataHeader {
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};
struct PutOk {
  std::string path;
  uint64_t size = 0;
};
struct Pong {
  uint64_t token = 0;
};
using Digest = std::array<uint8_t, kDigestBytes>;
struct HashOk {
  std::string path;
  Digest digest{};
};
// `code` stays a raw number: a newer server may send codes we do not know.
struct ErrorReply {
  uint16_t code = 0;
  std::string message;
};

using Reply = std::variant<HelloOk, ListOk, StatOk, DataHeader, PutOk, Pong, HashOk, ErrorReply>;

// The frame type of a message.
MessageType type_of(const Request& request);
MessageType type_of(const Reply& reply);

// Raw bytes that follow the message's frame on the wire (PUT: size - offset,
// DATA: length; 0 for every other message).
uint64_t trailing_bytes(const Request& request);
uint64_t trailing_bytes(const Reply& reply);

}  // namespace reactor::file
