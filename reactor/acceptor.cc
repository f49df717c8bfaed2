#include "reactor/acceptor.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
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

// A socket file left behind by a server that died: connecting to it is
// refused. Anything else at `path` (a live server, a regular file) is not
// ours to remove, and bind() then reports EADDRINUSE.
void remove_stale_socket_file(const SocketAddress& address) {
  const std::string path = address.path();
  struct stat info {};
  if (path.empty() || path[0] == '@' || ::lstat(path.c_str(), &info) != 0 ||
      !S_ISSOCK(info.st_mode)) {
    return;
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return;
  if (::connect(probe.get(), address.get(), address.length()) < 0 && errno == ECONNREFUSED) {
    spdlog::info("removing stale socket file {}", path);
    ::unlink(path.c_str());
  }
}

}  // namespace

Acceptor::Acceptor(EventLoop* loop, const SocketAddress& address, bool reuse_port, bool v6_only)
    : loop_(loop),
      socket_(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)),
      channel_(loop, socket_.get()),
      spare_fd_(open_spare_fd()) {
  if (!socket_) throw std::system_error(errno, std::generic_category(), "socket");
  int on = 1;
  if (address.is_unix()) {
    remove_stale_socket_file(address);
  } else {
    // Lets a restarted server bind while old connections sit in TIME_WAIT.
    ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  if (reuse_port && ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) < 0) {
    throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
  }
  if (address.family() == AF_INET6) {
    // Explicit either way: the default follows the bindv6only sysctl. With
    // it on, "::" means IPv6 only; bind 0.0.0.0 separately for IPv4.
    int v6_only_value = v6_only ? 1 : 0;
    ::setsockopt(socket_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6_only_value, sizeof v6_only_value);
  }
  if (::bind(socket_.get(), address.get(), address.length()) < 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + address.to_string());
  }
  if (address.is_unix() && address.path()[0] != '@') created_socket_file_ = address.path();
  if (::listen(socket_.get(), SOMAXCONN) < 0) {
    const int error = errno;
    remove_unix_socket_file();
    throw std::system_error(error, std::generic_category(), "listen");
  }
  finish_setup();
}

Acceptor::Acceptor(EventLoop* loop, UniqueFd listening_socket)
    : loop_(loop),
      socket_(std::move(listening_socket)),
      channel_(loop, socket_.get()),
      spare_fd_(open_spare_fd()) {
  int listening = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) < 0) {
    throw std::system_error(errno, std::generic_category(), "adopted listening socket");
  }
  if (!listening) {
    throw std::system_error(
        EINVAL, std::generic_category(),
        "adopted descriptor " + std::to_string(socket_.get()) + " is not a listening socket");
  }
  const int flags = ::fcntl(socket_.get(), F_GETFL);
  ::fcntl(socket_.get(), F_SETFL, flags | O_NONBLOCK);
  ::fcntl(socket_.get(), F_SETFD, FD_CLOEXEC);
  finish_setup();
}

void Acceptor::finish_setup() {
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
  address_ = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), length);
  channel_.set_level_triggered(true);
  channel_.set_read_callback([this] { handle_read(); });
}

void Acceptor::remove_unix_socket_file() {
  if (created_socket_file_.empty()) return;
  ::unlink(created_socket_file_.c_str());
  created_socket_file_.clear();
}

Acceptor::~Acceptor() {
  if (retry_timer_ != 0) loop_->cancel(retry_timer_);
  channel_.remove();
  remove_unix_socket_file();
}

void Acceptor::set_tcp_no_delay() {
  if (address_.is_unix()) return;
  int on = 1;
  ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void Acceptor::set_defer_accept(std::chrono::seconds timeout) {
  if (address_.is_unix()) return;
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

UniqueFd Acceptor::duplicate() const {
  if (!socket_) return UniqueFd();
  UniqueFd copy(::fcntl(socket_.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy) throw std::system_error(errno, std::generic_category(), "dup listening socket");
  return copy;
}

void Acceptor::close() {
  pause();
  channel_.remove();
  socket_.reset();
  spare_fd_.reset();
  remove_unix_socket_file();
}

void Acceptor::handle_read() {
  int accepted = 0;
  while (channel_.reading() && accepted < kAcceptsPerWake) {
    sockaddr_storage peer{};
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
