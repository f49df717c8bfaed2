#include "reactor/acceptor.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace reactor {
namespace {

constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
// Clients taken off the backlog per wake-up. The listening socket is
// level-triggered, so stopping early loses nothing: epoll reports it again
// on the next turn of the loop, after the connections already open had
// their turn. Stopping after one (as nginx does without multi_accept)
// spares the accept() that would only say EAGAIN -- under a steady stream
// of short connections, about one wasted syscall per connection.
constexpr int kAcceptsPerWake = 1;

UniqueFd open_spare_fd() {
  return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

}  // namespace

Acceptor::Acceptor(EventLoop* loop, const SocketAddress& address, bool reuse_port)
    : loop_(loop),
      socket_(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
      channel_(loop, socket_.get()),
      spare_fd_(open_spare_fd()) {
  if (!socket_) throw std::system_error(errno, std::generic_category(), "socket");
  int on = 1;
  // Lets a restarted server bind while old connections sit in TIME_WAIT.
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (reuse_port && ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
    throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
  }
  if (address.family() == AF_INET6) {
    // "::" then means IPv6 only; bind 0.0.0.0 separately for IPv4. Being
    // explicit avoids depending on the bindv6only sysctl.
    ::setsockopt(socket_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (::bind(socket_.get(), address.get(), address.length()) < 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + address.to_string());
  }
  if (::listen(socket_.get(), SOMAXCONN) < 0) {
    throw std::system_error(errno, std::generic_category(), "listen");
  }
  sockaddr_in6 bound{};
  socklen_t length = sizeof bound;
  ::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  address_ = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), length);
  channel_.set_level_triggered(true);
  channel_.set_read_callback([this] { handle_read(); });
}

Acceptor::~Acceptor() {
  if (retry_timer_ != 0) loop_->cancel(retry_timer_);
  channel_.remove();
}

void Acceptor::set_tcp_no_delay() {
  int on = 1;
  ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void Acceptor::set_defer_accept(std::chrono::seconds timeout) {
  int seconds = static_cast<int>(timeout.count());
  if (::setsockopt(socket_.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) < 0) {
    spdlog::warn("TCP_DEFER_ACCEPT on {}: {}", address_.to_string(), std::strerror(errno));
  }
}

void Acceptor::resume() {
  if (!socket_) return;
  if (retry_timer_ != 0) {
    loop_->cancel(retry_timer_);
    retry_timer_ = 0;
  }
  channel_.enable_reading();
}

void Acceptor::pause() {
  if (!socket_) return;
  if (retry_timer_ != 0) {
    loop_->cancel(retry_timer_);
    retry_timer_ = 0;
  }
  channel_.disable_reading();
}

void Acceptor::close() {
  pause();
  channel_.remove();
  socket_.reset();
  spare_fd_.reset();
}

void Acceptor::handle_read() {
  int accepted = 0;
  while (channel_.reading() && accepted < kAcceptsPerWake) {
    sockaddr_in6 peer{};
    socklen_t length = sizeof peer;
    int fd = ::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&peer), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      SocketAddress peer_address =
          SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&peer), length);
      ++accepted;
      if (callback_) {
        callback_(UniqueFd(fd), peer_address);
      } else {
        ::close(fd);
      }
      continue;
    }
    switch (errno) {
      case EAGAIN:
        return;
      case EINTR:
      case ECONNABORTED:  // the client gave up while queued; next one
      case EPROTO:
      case EPERM:  // firewall rules; not ours to fix
        continue;
      case EMFILE:
      case ENFILE:
        handle_descriptor_exhaustion();
        return;
      default:
        // ENOBUFS/ENOMEM and the like: back off instead of spinning.
        spdlog::error("accept on {}: {}", address_.to_string(), std::strerror(errno));
        handle_descriptor_exhaustion();
        return;
    }
  }
}

void Acceptor::handle_descriptor_exhaustion() {
  spdlog::warn("accept on {}: {}; shedding waiting clients", address_.to_string(),
               std::strerror(errno));
  // Give the spare descriptor up to take one client off the backlog and
  // close it at once, so it is told "no" instead of waiting forever.
  // Bounded: a client that reconnects as fast as we refuse must not keep
  // the loop here forever.
  for (int shed = 0; spare_fd_ && shed < 256; ++shed) {
    spare_fd_.reset();
    int fd = ::accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    spare_fd_ = open_spare_fd();
    if (fd < 0) {
      if (errno == EAGAIN) return;  // backlog empty
      break;
    }
  }
  // No spare (another thread took it) or accept still failing: pause and
  // try again shortly; re-enabling makes epoll report waiting clients.
  channel_.disable_reading();
  retry_timer_ = loop_->run_after(kAcceptRetryDelay, [this] {
    retry_timer_ = 0;
    if (!spare_fd_) spare_fd_ = open_spare_fd();
    channel_.enable_reading();
  });
}

void Acceptor::check_available(const SocketAddress& address) {
  if (address.port() == 0) return;  // any free port: nothing to collide with
  UniqueFd probe(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) throw std::system_error(errno, std::generic_category(), "socket");
  int on = 1;
  // As the real listener: TIME_WAIT leftovers are no reason to fail.
  ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (address.family() == AF_INET6) {
    ::setsockopt(probe.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  }
  if (::bind(probe.get(), address.get(), address.length()) < 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + address.to_string());
  }
}

}  // namespace reactor
