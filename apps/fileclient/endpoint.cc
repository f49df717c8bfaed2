#include "apps/fileclient/endpoint.h"

#include <netdb.h>
#include <sys/socket.h>

#include <charconv>

namespace reactor::file::client {

std::optional<std::pair<std::string, uint16_t>> split_endpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // A bare IPv6 address without brackets is ambiguous.
    if (host.find(':') != std::string_view::npos) return std::nullopt;
  }
  if (host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(value));
}

Endpoint resolve_endpoint(std::string_view text) {
  Endpoint result;
  auto parts = split_endpoint(text);
  if (!parts) {
    result.error = EndpointError{true, "bad HOST:PORT '" + std::string(text) +
                                           "' (examples: 127.0.0.1:9000, [::1]:9000, "
                                           "files.example:9000)"};
    return result;
  }
  if (auto numeric = SocketAddress::parse(parts->first, parts->second)) {
    result.address = *numeric;
    return result;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int status = ::getaddrinfo(parts->first.c_str(), nullptr, &hints, &found);
  if (status != 0 || found == nullptr) {
    result.error =
        EndpointError{false, "cannot resolve '" + parts->first + "': " + ::gai_strerror(status)};
    return result;
  }
  SocketAddress address = SocketAddress::from_sockaddr(found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  auto with_port = SocketAddress::parse(address.ip(), parts->second);
  if (!with_port) {
    result.error = EndpointError{false, "cannot use the address of '" + parts->first + "'"};
    return result;
  }
  result.address = *with_port;
  return result;
}

}  // namespace reactor::file::client
