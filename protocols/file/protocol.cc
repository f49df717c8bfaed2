#include "protocols/file/protocol.h"

#include <cstdio>

namespace reactor::file {

std::string message_type_name(uint8_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::kHello:
      return "HELLO";
    case MessageType::kList:
      return "LIST";
    case MessageType::kStat:
      return "STAT";
    case MessageType::kGet:
      return "GET";
    case MessageType::kPut:
      return "PUT";
    case MessageType::kPing:
      return "PING";
    case MessageType::kHash:
      return "HASH";
    case MessageType::kAuth:
      return "AUTH";
    case MessageType::kPut2:
      return "PUT2";
    case MessageType::kResume:
      return "RESUME";
    case MessageType::kMkdir:
      return "MKDIR";
    case MessageType::kMkdirOk:
      return "MKDIR_OK";
    case MessageType::kChallenge:
      return "CHALLENGE";
    case MessageType::kResumeOk:
      return "RESUME_OK";
    case MessageType::kHelloOk:
      return "HELLO_OK";
    case MessageType::kListOk:
      return "LIST_OK";
    case MessageType::kStatOk:
      return "STAT_OK";
    case MessageType::kData:
      return "DATA";
    case MessageType::kPutOk:
      return "PUT_OK";
    case MessageType::kPong:
      return "PONG";
    case MessageType::kHashOk:
      return "HASH_OK";
    case MessageType::kError:
      return "ERROR";
  }
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", type);
  return text;
}

std::string error_code_name(uint16_t code) {
  switch (static_cast<ErrorCode>(code)) {
    case ErrorCode::kMalformed:
      return "malformed request";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kIoError:
      return "I/O error";
    case ErrorCode::kTooLarge:
      return "too large";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported version";
    case ErrorCode::kNotRegularFile:
      return "not a regular file";
    case ErrorCode::kNotDirectory:
      return "not a directory";
    case ErrorCode::kUnauthorized:
      return "unauthorized";
  }
  return "error " + std::to_string(code);
}

}  // namespace reactor::file
