#include "tests/support/net.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace test_support {
namespace {

using Clock = std::chrono::steady_clock;

int milliseconds_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// connect() to 127.0.0.1:port or [::1]:port; the result of connect().
int connect_loopback(int fd, int port, bool ipv6) {
  if (ipv6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(static_cast<uint16_t>(port));
    address.sin6_addr = in6addr_loopback;
    return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
}

}  // namespace

ClientSocket::ClientSocket(int port, bool ipv6) {
  fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int result = connect_loopback(fd_, port, ipv6);
  if (result < 0) {
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("connect to port " + std::to_string(port) + ": " +
                             std::strerror(error));
  }
  int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

ClientSocket::~ClientSocket() {
  if (fd_ >= 0) ::close(fd_);
}

ClientSocket::ClientSocket(ClientSocket&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

bool ClientSocket::send_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string ClientSocket::receive_some(std::chrono::milliseconds timeout) {
  pollfd entry{fd_, POLLIN, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return {};
  char chunk[65536];
  ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
  if (n <= 0) return {};
  return std::string(chunk, static_cast<size_t>(n));
}

std::string ClientSocket::receive_exactly(size_t count, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string result;
  std::string chunk(65536, '\0');
  while (result.size() < count) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, milliseconds_left(deadline)) <= 0) break;
    ssize_t n = ::recv(fd_, chunk.data(), std::min(chunk.size(), count - result.size()), 0);
    if (n <= 0) break;
    result.append(chunk.data(), static_cast<size_t>(n));
  }
  return result;
}

std::string ClientSocket::receive_until_close(std::chrono::milliseconds timeout, bool* closed) {
  auto deadline = Clock::now() + timeout;
  std::string result;
  char chunk[65536];
  bool peer_closed = false;
  for (;;) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, milliseconds_left(deadline)) <= 0) break;
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      peer_closed = n == 0 || errno == ECONNRESET || errno == EPIPE;
      break;
    }
    result.append(chunk, static_cast<size_t>(n));
  }
  if (closed != nullptr) *closed = peer_closed;
  return result;
}

std::string ClientSocket::receive_until(std::string_view delimiter,
                                        std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string result;
  char chunk[65536];
  while (result.find(delimiter) == std::string::npos) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, milliseconds_left(deadline)) <= 0) break;
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    result.append(chunk, static_cast<size_t>(n));
  }
  return result;
}

bool ClientSocket::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, milliseconds_left(deadline)) <= 0) return false;
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET || errno == EPIPE;
  }
}

void ClientSocket::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

void ClientSocket::reset() {
  linger option{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &option, sizeof option);
  ::close(fd_);
  fd_ = -1;
}

void ClientSocket::set_receive_buffer(int bytes) {
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

int connect_error(int port, bool ipv6) {
  const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int result = connect_loopback(fd, port, ipv6);
  const int error = result < 0 ? errno : 0;
  ::close(fd);
  return error;
}

size_t ClientSocket::unsent_bytes() const {
  int count = 0;
  if (::ioctl(fd_, SIOCOUTQ, &count) < 0) return 0;
  return static_cast<size_t>(count);
}

size_t ClientSocket::unread_bytes() const {
  int count = 0;
  if (::ioctl(fd_, FIONREAD, &count) < 0) return 0;
  return static_cast<size_t>(count);
}

LoopbackListener listen_on_loopback(int backlog) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(std::string("loopback listener: ") + std::strerror(error));
  }
  return {fd, ntohs(address.sin_port)};
}

int bind_unix_socket(const std::string& path, bool listening) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    throw std::runtime_error("Unix socket path too long: " + path);
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (listening && ::listen(fd, 16) != 0)) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("Unix socket " + path + ": " + std::strerror(error));
  }
  return fd;
}

}  // namespace test_support
