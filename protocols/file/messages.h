// RFTP messages as plain structs, one per frame type, grouped into the two
// directions. The codec (frame_codec.h) turns them into bytes and back.
//
// Each message names its frame type (kType) and lists its payload fields
// in wire order (fields(), called with any visitor that accepts each
// field type). That list is the whole wire layout: the codec has one
// writer and one reader for field types, none per message.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "protocols/file/protocol.h"

namespace reactor::file {

// HELLO's 4-byte magic: on the wire, but in no struct.
struct MagicField {};

// ---- client -> server ------------------------------------------------------

// The magic is checked by the decoder; only the version reaches the server.
struct Hello {
  static constexpr MessageType kType = MessageType::kHello;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(MagicField{});
    visit(self.version);
  }
  uint16_t version = kProtocolVersion;
};
struct ListRequest {
  static constexpr MessageType kType = MessageType::kList;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;
};
struct StatRequest {
  static constexpr MessageType kType = MessageType::kStat;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;
};
struct GetRequest {
  static constexpr MessageType kType = MessageType::kGet;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.offset);
  }
  std::string path;
  uint64_t offset = 0;
};
// Followed on the wire by exactly size - offset raw bytes.
struct PutRequest {
  static constexpr MessageType kType = MessageType::kPut;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.size);
    visit(self.offset);
  }
  std::string path;
  uint64_t size = 0;
  uint64_t offset = 0;
};
struct Ping {
  static constexpr MessageType kType = MessageType::kPing;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.token);
  }
  uint64_t token = 0;
};
struct HashRequest {
  static constexpr MessageType kType = MessageType::kHash;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;
};

using Digest = std::array<uint8_t, kDigestBytes>;

// Version 2: the answer to CHALLENGE, HMAC-SHA256(token, "RFTP-AUTH-2" ||
// nonce) -- see auth.h.
struct AuthRequest {
  static constexpr MessageType kType = MessageType::kAuth;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.proof);
  }
  Digest proof{};
};
// Version 2 PUT: PUT plus the local file's mtime, which the server records
// when the upload starts (a resume must carry the same) and gives the
// finished file. Followed by exactly size - offset raw bytes.
struct Put2Request {
  static constexpr MessageType kType = MessageType::kPut2;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.size);
    visit(self.offset);
    visit(self.mtime);
  }
  std::string path;
  uint64_t size = 0;
  uint64_t offset = 0;
  int64_t mtime = kNoMtime;
};
// Version 2: what the server holds of an unfinished upload, with the
// SHA-256 of the held bytes, so the client can prove its file is the one
// the upload started from before resuming.
struct ResumeRequest {
  static constexpr MessageType kType = MessageType::kResume;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;
};

// Version 2: creates the directory `path` and its missing parents, as
// mkdir -p does; one that exists already is no error. A PUT creates the
// directories its file needs; this is for those that hold no file (the
// empty directories of a tree upload).
struct MkdirRequest {
  static constexpr MessageType kType = MessageType::kMkdir;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;
};

using Request = std::variant<Hello, ListRequest, StatRequest, GetRequest, PutRequest, Ping,
                             HashRequest, AuthRequest, Put2Request, ResumeRequest, MkdirRequest>;

// ---- server -> client ------------------------------------------------------

struct HelloOk {
  static constexpr MessageType kType = MessageType::kHelloOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.version);
    visit(self.server);
  }
  uint16_t version = kProtocolVersion;
  std::string server;
};
struct ListEntry {
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.kind);
    visit(self.size);
    visit(self.mtime);
    visit(self.name);
  }
  EntryKind kind = EntryKind::kFile;
  uint64_t size = 0;
  int64_t mtime = 0;
  std::string name;
};
struct ListOk {
  static constexpr MessageType kType = MessageType::kListOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.entries);
  }
  std::vector<ListEntry> entries;
};
struct StatOk {
  static constexpr MessageType kType = MessageType::kStatOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.kind);
    visit(self.size);
    visit(self.mtime);
    visit(self.upload_offset);
  }
  EntryKind kind = EntryKind::kFile;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint64_t upload_offset = 0;
};
// Followed on the wire by exactly `length` raw bytes.
struct DataHeader {
  static constexpr MessageType kType = MessageType::kData;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.size);
    visit(self.offset);
    visit(self.length);
  }
  uint64_t size = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};
struct PutOk {
  static constexpr MessageType kType = MessageType::kPutOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.size);
  }
  std::string path;
  uint64_t size = 0;
};
struct Pong {
  static constexpr MessageType kType = MessageType::kPong;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.token);
  }
  uint64_t token = 0;
};
struct HashOk {
  static constexpr MessageType kType = MessageType::kHashOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.digest);
  }
  std::string path;
  Digest digest{};
};
// `code` stays a raw number: a newer server may send codes we do not know.
struct ErrorReply {
  static constexpr MessageType kType = MessageType::kError;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.code);
    visit(self.message);
  }
  uint16_t code = 0;
  std::string message;
};

// Version 2: the answer to a HELLO when the server requires a token.
struct Challenge {
  static constexpr MessageType kType = MessageType::kChallenge;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.nonce);
  }
  Digest nonce{};
};
struct ResumeOk {
  static constexpr MessageType kType = MessageType::kResumeOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
    visit(self.size);
    visit(self.mtime);
    visit(self.held);
    visit(self.prefix_digest);
  }
  std::string path;        // as the request sent it
  uint64_t size = 0;       // declared when the upload started
  int64_t mtime = 0;       // the source's mtime recorded then (kNoMtime: none)
  uint64_t held = 0;       // bytes the server holds
  Digest prefix_digest{};  // SHA-256 of those bytes
};

// Version 2: the directory exists now.
struct MkdirOk {
  static constexpr MessageType kType = MessageType::kMkdirOk;
  template <typename Self, typename Visit>
  static void fields(Self& self, Visit&& visit) {
    visit(self.path);
  }
  std::string path;  // as the request sent it
};

using Reply = std::variant<HelloOk, ListOk, StatOk, DataHeader, PutOk, Pong, HashOk, ErrorReply,
                           Challenge, ResumeOk, MkdirOk>;

// The frame type of a message.
MessageType type_of(const Request& request);
MessageType type_of(const Reply& reply);

// Raw bytes that follow the message's frame on the wire (PUT: size - offset,
// DATA: length; 0 for every other message).
uint64_t trailing_bytes(const Request& request);
uint64_t trailing_bytes(const Reply& reply);

}  // namespace reactor::file
