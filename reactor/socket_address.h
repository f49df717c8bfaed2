// SocketAddress: an IPv4 or IPv6 endpoint (address + port), or a Unix-domain
// socket path, stored the way the socket calls want it so that
// bind/connect/accept need no conversion.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <memory>
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
  // A Unix-domain socket at `path` (AF_UNIX). Returns nullopt for an empty
  // path or one too long for sockaddr_un (107 bytes).
  static std::optional<SocketAddress> unix_path(std::string_view path);
  // Wraps what accept()/getsockname() filled in (any of the three families).
  static SocketAddress from_sockaddr(const sockaddr* address, socklen_t length);

  // 0.0.0.0 or ::
  bool is_wildcard() const;
  int family() const { return storage_.v4.sin_family; }
  bool is_unix() const { return family() == AF_UNIX; }
  // 0 for a Unix-domain address.
  uint16_t port() const;
  // "127.0.0.1" or "::1" (no brackets, no port); "unix" for a Unix-domain
  // address, whose peers have no name worth showing.
  std::string ip() const;
  // "127.0.0.1:80", "[::1]:80", "unix:/run/app.sock" ("unix:" for an
  // unnamed Unix socket, as a connecting client's is).
  std::string to_string() const;
  // The path of a Unix-domain address ("" if unnamed or not AF_UNIX).
  std::string path() const;

  const sockaddr* get() const {
    return unix_ ? reinterpret_cast<const sockaddr*>(&unix_->address)
                 : reinterpret_cast<const sockaddr*>(&storage_);
  }
  socklen_t length() const;

 private:
  struct UnixAddress {
    sockaddr_un address;
    socklen_t length;
  };

  // Not sockaddr_storage (128 bytes): every connection keeps two of these.
  // The rare Unix-domain address lives out of line (shared, immutable), so
  // IP addresses stay small and cheap to copy; storage_'s family field
  // still says AF_UNIX for family().
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage_{};
  std::shared_ptr<const UnixAddress> unix_;
};

}  // namespace reactor
