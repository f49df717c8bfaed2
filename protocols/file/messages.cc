#include "protocols/file/messages.h"

namespace reactor::file {

MessageType type_of(const Request& request) {
  return std::visit([](const auto& message) { return message.kType; }, request);
}

MessageType type_of(const Reply& reply) {
  return std::visit([](const auto& message) { return message.kType; }, reply);
}

uint64_t trailing_bytes(const Request& request) {
  if (const auto* put = std::get_if<PutRequest>(&request)) {
    return put->offset <= put->size ? put->size - put->offset : 0;
  }
  if (const auto* put = std::get_if<Put2Request>(&request)) {
    return put->offset <= put->size ? put->size - put->offset : 0;
  }
  return 0;
}

uint64_t trailing_bytes(const Reply& reply) {
  if (const auto* data = std::get_if<DataHeader>(&reply)) return data->length;
  return 0;
}

}  // namespace reactor::file
