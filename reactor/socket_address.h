// SocketAddress: an IPv4 or IPv6 endpoint (address + port), stored the way
// the socket calls want it so that bind/connect/accept need no conversion.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reactor {

class SocketAddress {
 public:
  // The IPv4 wildcard 0.0.0.0 with port 0.
  SocketAddress();
  // A numeric address ("127.0.0.1", "::1", "0.0.0.0", "::") and a port.
  // Returns nullopt for anything that is not a numeric IPv4/IPv6 address:
  // name resolution would block the loop, so it is the caller's business.
  static std::optional<SocketAddress> parse(std::string_view host, uint16_t port);
  // "HOST:PORT", "[V6]:PORT". Returns nullopt on a malformed string or port.
  static std::optional<SocketAddress> parse_endpoint(std::string_view endpoint);
  static SocketAddress loopback_v4(uint16_t port);
  // Wraps what accept()/getsockname() filled in.
  static SocketAddress from_sockaddr(const sockaddr* address, socklen_t length);

  // 0.0.0.0 or ::
  bool is_wildcard() const;
  int family() const { return storage_.v4.sin_family; }
  uint16_t port() const;
  // "127.0.0.1" or "::1" (no brackets, no port).
  std::string ip() const;
  // "127.0.0.1:80" or "[::1]:80".
  std::string to_string() const;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const;

 private:
  // Not sockaddr_storage (128 bytes): every connection keeps two of these.
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_{};
};

}  // namespace reactor
