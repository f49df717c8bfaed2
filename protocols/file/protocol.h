// RFTP wire vocabulary: message types, error codes, entry kinds and the
// limits every implementation must enforce. docs/PROTOCOL.md is the
// contract; this header is its machine-readable summary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace reactor::file {

inline constexpr std::string_view kMagic = "RFTP";
// Version 1: no authentication, PUT trusts the declared size on resume.
// Version 2 adds the token challenge (CHALLENGE/AUTH), PUT2 with the
// source's mtime and RESUME (the held prefix's SHA-256). A server speaks
// both; one with a token requires 2.
inline constexpr uint16_t kProtocolVersion1 = 1;
inline constexpr uint16_t kProtocolVersion2 = 2;
// The newest version: what a client offers.
inline constexpr uint16_t kProtocolVersion = kProtocolVersion2;
// PUT2's mtime when the client has none to give: the server keeps the time
// of the upload's completion.
inline constexpr int64_t kNoMtime = INT64_MIN;
// Bytes of CHALLENGE's nonce and AUTH's proof (an HMAC-SHA256).
inline constexpr size_t kNonceBytes = 32;

// Every frame starts with a big-endian u32 counting the type byte and the
// payload (never the raw bytes that follow DATA and PUT).
inline constexpr size_t kLengthFieldBytes = 4;
// Largest `len` a server accepts from a client; beyond it: ERROR 6, close.
inline constexpr size_t kMaxRequestFrameLength = 64 * 1024;
// The contract sets no limit on server frames (a LIST_OK is one frame);
// a client still has to bound what it buffers from a hostile server.
inline constexpr size_t kMaxReplyFrameLength = 256 * 1024 * 1024;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxNameBytes = 255;
inline constexpr size_t kDigestBytes = 32;
// DATA's `len`: type byte + size + offset + length.
inline constexpr size_t kDataFrameLength = 1 + 3 * 8;

enum class MessageType : uint8_t {
  // client -> server
  kHello = 0x01,
  kList = 0x02,
  kStat = 0x03,
  kGet = 0x04,
  kPut = 0x05,
  kPing = 0x06,
  kHash = 0x07,
  kAuth = 0x08,    // version 2
  kPut2 = 0x09,    // version 2
  kResume = 0x0A,  // version 2
  kMkdir = 0x0B,   // version 2
  // server -> client
  kHelloOk = 0x81,
  kListOk = 0x82,
  kStatOk = 0x83,
  kData = 0x84,
  kPutOk = 0x85,
  kPong = 0x86,
  kHashOk = 0x87,
  kChallenge = 0x88,  // version 2
  kResumeOk = 0x8A,   // version 2
  kMkdirOk = 0x8B,    // version 2
  kError = 0xFF,
};

enum class ErrorCode : uint16_t {
  kMalformed = 1,
  kNotFound = 2,
  kForbidden = 3,
  kConflict = 4,
  kIoError = 5,
  kTooLarge = 6,
  kUnsupportedVersion = 7,
  kNotRegularFile = 8,
  kNotDirectory = 9,
  // Version 2: a token is required and was not proven (wrong, or missing).
  kUnauthorized = 10,
};

enum class EntryKind : uint8_t {
  kFile = 0,
  kDirectory = 1,
  kOther = 2,
  // STAT only: the path has nothing but an unfinished upload.
  kUnfinishedUpload = 3,
};

// An ERROR reply in the making: the code and a message for the client.
struct RequestError {
  ErrorCode code = ErrorCode::kIoError;
  std::string message;
};

// The RFTP module's use of the Result convention (protocols/common/result.h):
// a value, or the ERROR to answer with. Outcome<void>: success or an ERROR.
template <typename T>
using Outcome = protocols::Result<T, RequestError>;

// "GET", "HELLO_OK", ... for logs and messages; "0x42" style for unknown.
std::string message_type_name(uint8_t type);
// Short English name of an error code ("not found"); "error N" if unknown.
std::string error_code_name(uint16_t code);

}  // namespace reactor::file
