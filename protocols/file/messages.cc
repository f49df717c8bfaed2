#include "protocols/file/messages.h"

#include "protocols/file/overloaded.h"

namespace reactor::file {
MessageType type_of(const Request& request) {
  return std::visit(Overloaded{
                        [](const Hello&) { return MessageType::kHello; },
                        [](const ListRequest&) { return MessageType::kList; },
                        [](const StatRequest&) { return MessageType::kStat; },
                        [](const GetRequest&) { return MessageType::kGet; },
                        [](const PutRequest&) { return MessageType::kPut; },
                        [](const Ping&) { return MessageType::kPing; },
                        [](const HashRequest&) { return MessageType::kHash; },
                    },
                    request);
}

MessageType type_of(const Reply& reply) {
  return std::visit(Overloaded{
                        [](const HelloOk&) { return MessageType::kHelloOk; },
                        [](const ListOk&) { return MessageType::kListOk; },
                        [](const StatOk&) { return MessageType::kStatOk; },
                        [](const DataHeader&) { return MessageType::kData; },
                        [](const PutOk&) { return MessageType::kPutOk; },
                        [](const Pong&) { return MessageType::kPong; },
                        [](const HashOk&) { return MessageType::kHashOk; },
                        [](const ErrorReply&) { return MessageType::kError; },
                    },
                    reply);
}

uint64_t trailing_bytes(const Request& request) {
  if (const auto* put = std::get_if<PutRequest>(&request)) {
    return put->offset <= put->size ? put->size - put->offset : 0;
  }
  return 0;
}

uint64_t trailing_bytes(const Reply& reply) {
  if (const auto* data = std::get_if<DataHeader>(&reply)) return data->length;
  return 0;
}

}  // namespace reactor::file
