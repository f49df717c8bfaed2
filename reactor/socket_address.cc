#include "reactor/socket_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace reactor {

SocketAddress::SocketAddress() {
  storage_.v4.sin_family = AF_INET;
  storage_.v4.sin_addr.s_addr = htonl(INADDR_ANY);
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view host, uint16_t port) {
  // inet_pton needs a NUL-terminated string; 45 chars is the longest IPv6 text.
  char text[INET6_ADDRSTRLEN + 1];
  if (host.size() >= sizeof text) return std::nullopt;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';

  SocketAddress address;
  if (inet_pton(AF_INET, text, &address.storage_.v4.sin_addr) == 1) {
    address.storage_.v4.sin_family = AF_INET;
    address.storage_.v4.sin_port = htons(port);
    return address;
  }
  address.storage_ = {};
  if (inet_pton(AF_INET6, text, &address.storage_.v6.sin6_addr) == 1) {
    address.storage_.v6.sin6_family = AF_INET6;
    address.storage_.v6.sin6_port = htons(port);
    return address;
  }
  return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::parse_endpoint(std::string_view endpoint) {
  std::string_view host;
  std::string_view port_text;
  if (!endpoint.empty() && endpoint.front() == '[') {
    size_t close = endpoint.find(']');
    if (close == std::string_view::npos || close + 1 >= endpoint.size() ||
        endpoint[close + 1] != ':') {
      return std::nullopt;
    }
    host = endpoint.substr(1, close - 1);
    port_text = endpoint.substr(close + 2);
  } else {
    size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = endpoint.substr(0, colon);
    // "::1:80" is ambiguous; IPv6 endpoints must use brackets.
    if (host.find(':') != std::string_view::npos) return std::nullopt;
    port_text = endpoint.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return std::nullopt;
  }
  return parse(host, static_cast<uint16_t>(port));
}

SocketAddress SocketAddress::loopback_v4(uint16_t port) {
  SocketAddress address;
  address.storage_.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.storage_.v4.sin_port = htons(port);
  return address;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  result.storage_ = {};
  std::memcpy(&result.storage_, address, std::min<size_t>(length, sizeof result.storage_));
  return result;
}

bool SocketAddress::is_wildcard() const {
  if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&storage_.v6.sin6_addr);
  return storage_.v4.sin_addr.s_addr == htonl(INADDR_ANY);
}

uint16_t SocketAddress::port() const {
  return ntohs(family() == AF_INET6 ? storage_.v6.sin6_port : storage_.v4.sin_port);
}

std::string SocketAddress::ip() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &storage_.v6.sin6_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET, &storage_.v4.sin_addr, text, sizeof text);
  }
  return text;
}

std::string SocketAddress::to_string() const {
  // Built with append: GCC 12 at -O3 reports a false -Wrestrict for
  // "[" + std::string(...).
  std::string text;
  if (family() == AF_INET6) {
    text.append("[").append(ip()).append("]");
  } else {
    text.append(ip());
  }
  text.append(":").append(std::to_string(port()));
  return text;
}

socklen_t SocketAddress::length() const {
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace reactor
