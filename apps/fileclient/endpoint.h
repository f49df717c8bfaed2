// HOST:PORT on the command line: a numeric address ("127.0.0.1:9000",
// "[::1]:9000") or a host name resolved once, before the loop starts.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reactor/socket_address.h"

namespace reactor::file::client {

struct EndpointError {
  bool usage;  // malformed (exit 2) rather than unresolvable (exit 3)
  std::string message;
};

struct Endpoint {
  std::optional<SocketAddress> address;
  std::optional<EndpointError> error;
};

// Splits "HOST:PORT" / "[V6]:PORT"; nullopt if malformed or PORT is not
// 1..65535.
std::optional<std::pair<std::string, uint16_t>> split_endpoint(std::string_view text);

Endpoint resolve_endpoint(std::string_view text);

}  // namespace reactor::file::client
