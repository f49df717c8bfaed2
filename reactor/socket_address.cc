#include "reactor/socket_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
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

std::optional<SocketAddress> SocketAddress::unix_path(std::string_view path) {
  auto unix_address = std::make_shared<UnixAddress>();
  if (path.empty() || path.size() >= sizeof unix_address->address.sun_path) return std::nullopt;
  unix_address->address.sun_family = AF_UNIX;
  std::memcpy(unix_address->address.sun_path, path.data(), path.size());
  unix_address->length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  SocketAddress result;
  result.storage_ = {};
  result.storage_.v4.sin_family = AF_UNIX;
  result.unix_ = std::move(unix_address);
  return result;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* address, socklen_t length) {
  SocketAddress result;
  result.storage_ = {};
  if (address->sa_family == AF_UNIX) {
    auto unix_address = std::make_shared<UnixAddress>();
    unix_address->length = std::min<socklen_t>(length, sizeof unix_address->address);
    std::memcpy(&unix_address->address, address, unix_address->length);
    result.storage_.v4.sin_family = AF_UNIX;
    result.unix_ = std::move(unix_address);
    return result;
  }
  std::memcpy(&result.storage_, address, std::min<size_t>(length, sizeof result.storage_));
  return result;
}

bool SocketAddress::is_wildcard() const {
  if (is_unix()) return false;
  if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&storage_.v6.sin6_addr);
  return storage_.v4.sin_addr.s_addr == htonl(INADDR_ANY);
}

uint16_t SocketAddress::port() const {
  if (is_unix()) return 0;
  return ntohs(family() == AF_INET6 ? storage_.v6.sin6_port : storage_.v4.sin_port);
}

std::string SocketAddress::ip() const {
  if (is_unix()) return "unix";
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
  if (is_unix()) return text.append("unix:").append(path());
  if (family() == AF_INET6) {
    text.append("[").append(ip()).append("]");
  } else {
    text.append(ip());
  }
  text.append(":").append(std::to_string(port()));
  return text;
}

std::string SocketAddress::path() const {
  if (!unix_) return "";
  const size_t offset = offsetof(sockaddr_un, sun_path);
  if (unix_->length <= offset) return "";  // unnamed
  // Abstract addresses start with a NUL; shown with '@' as ss(8) does.
  const char* name = unix_->address.sun_path;
  size_t size = unix_->length - offset;
  if (name[0] == '\0') return "@" + std::string(name + 1, size - 1);
  return std::string(name, strnlen(name, size));
}

socklen_t SocketAddress::length() const {
  if (unix_) return unix_->length;
  return family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace reactor
