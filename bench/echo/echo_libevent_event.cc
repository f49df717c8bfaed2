// echo-libevent-event: libevent 2 used the fastest way, with a plain `event`
// per connection (EV_READ|EV_PERSIST, level-triggered) and read()/write()
// through a 64 KiB stack buffer. Bytes the kernel does not take at once are
// kept per connection and flushed from an EV_WRITE event; while any are
// queued, new input is appended behind them so the echo stays in order.
//
// --threads N: N event_bases, one per thread, each with its own listening
// socket on the port (SO_REUSEPORT) and its own connections; libevent's
// threading support (evthread_use_pthreads) stays off, since no event crosses
// threads. The main thread's base catches SIGINT/SIGTERM and tells the
// others through an eventfd each of them watches.
//
//   echo-libevent-event PORT [--threads N]    (binds 127.0.0.1; 0 picks a free port)

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <unordered_map>
#include <vector>

#include "peer_common.h"

namespace {

// A peer that stops reading must not make us buffer without bound: above
// this much queued output we stop reading from it until the queue drains.
constexpr size_t kMaxPendingBytes = 4 * 1024 * 1024;

class Server;

struct Connection {
  Server* server = nullptr;
  evutil_socket_t fd = -1;
  event* read_event = nullptr;
  event* write_event = nullptr;
  bool reading_paused = false;
  std::vector<char> pending;
  size_t pending_offset = 0;

  ~Connection() {
    if (read_event) event_free(read_event);
    if (write_event) event_free(write_event);
    if (fd >= 0) close(fd);
  }
  size_t pending_bytes() const { return pending.size() - pending_offset; }
};

class Server {
 public:
  Server(event_base* base, evutil_socket_t listen_fd) : base_(base), listen_fd_(listen_fd) {
    accept_event_ = event_new(base_, listen_fd_, EV_READ | EV_PERSIST, &Server::on_accept, this);
    event_add(accept_event_, nullptr);
  }
  ~Server() {
    connections_.clear();
    event_free(accept_event_);
    close(listen_fd_);
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

 private:
  static void on_accept(evutil_socket_t listen_fd, short, void* arg) {
    auto* server = static_cast<Server*>(arg);
    // Drain the backlog now rather than one client per loop iteration, so a
    // burst of 1,000 connects is accepted in a few wake-ups.
    for (;;) {
      int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN) std::perror("accept4");
        return;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      server->add_connection(fd);
    }
  }

  void add_connection(int fd) {
    auto connection = std::make_unique<Connection>();
    connection->server = this;
    connection->fd = fd;
    connection->read_event =
        event_new(base_, fd, EV_READ | EV_PERSIST, &Server::on_readable, connection.get());
    connection->write_event =
        event_new(base_, fd, EV_WRITE | EV_PERSIST, &Server::on_writable, connection.get());
    event_add(connection->read_event, nullptr);
    connections_.emplace(fd, std::move(connection));
  }

  void remove_connection(Connection* connection) { connections_.erase(connection->fd); }

  static void on_readable(evutil_socket_t fd, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    char buffer[64 * 1024];
    ssize_t received = read(fd, buffer, sizeof buffer);
    if (received <= 0) {
      if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
      connection->server->remove_connection(connection);  // EOF, reset or error
      return;
    }
    const char* data = buffer;
    size_t length = static_cast<size_t>(received);
    if (connection->pending_bytes() == 0) {
      ssize_t written = write(fd, data, length);
      if (written < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          connection->server->remove_connection(connection);
          return;
        }
        written = 0;
      }
      data += written;
      length -= static_cast<size_t>(written);
      if (length == 0) return;
      event_add(connection->write_event, nullptr);
    }
    connection->pending.insert(connection->pending.end(), data, data + length);
    if (connection->pending_bytes() > kMaxPendingBytes) {
      event_del(connection->read_event);
      connection->reading_paused = true;
    }
  }

  static void on_writable(evutil_socket_t fd, short, void* arg) {
    auto* connection = static_cast<Connection*>(arg);
    while (connection->pending_bytes() > 0) {
      ssize_t written = write(fd, connection->pending.data() + connection->pending_offset,
                              connection->pending_bytes());
      if (written < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        connection->server->remove_connection(connection);
        return;
      }
      connection->pending_offset += static_cast<size_t>(written);
    }
    connection->pending.clear();
    connection->pending_offset = 0;
    event_del(connection->write_event);
    if (connection->reading_paused) {
      connection->reading_paused = false;
      event_add(connection->read_event, nullptr);
    }
  }

  event_base* base_;
  evutil_socket_t listen_fd_;
  event* accept_event_ = nullptr;
  std::unordered_map<evutil_socket_t, std::unique_ptr<Connection>> connections_;
};

int listen_on_loopback(uint16_t port, bool share_port, uint16_t* bound_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (share_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, SOMAXCONN) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  *bound_port = ntohs(address.sin_port);
  return fd;
}

// Written once on SIGINT/SIGTERM and never read, so it stays readable and
// every loop watching it sees it.
int stop_fd = -1;

void on_stop_signal(evutil_socket_t, short, void* arg) {
  const uint64_t one = 1;
  if (write(stop_fd, &one, sizeof one) < 0) std::perror("write(eventfd)");
  event_base_loopbreak(static_cast<event_base*>(arg));
}

void on_stop_request(evutil_socket_t, short, void* arg) {
  event_base_loopbreak(static_cast<event_base*>(arg));
}

// One loop's share: its base, its listener and its connections.
struct Loop {
  event_base* base = nullptr;
  int listen_fd = -1;
};

// Runs one loop other than the main thread's until the stop eventfd fires.
void run_loop(Loop loop) {
  event* stop = event_new(loop.base, stop_fd, EV_READ, on_stop_request, loop.base);
  event_add(stop, nullptr);
  {
    Server server(loop.base, loop.listen_fd);
    event_base_dispatch(loop.base);
  }
  event_free(stop);
  event_base_free(loop.base);
}

}  // namespace

int main(int argc, char** argv) {
  const echo_bench::PeerOptions options = echo_bench::parse_options_or_exit(argc, argv);
  const bool share_port = options.threads > 1;
  signal(SIGPIPE, SIG_IGN);  // write() to a reset peer must fail, not kill us

  stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    std::perror("eventfd");
    return 1;
  }
  // The first listener resolves port 0; the others join the port it got.
  std::vector<Loop> loops(options.threads);
  uint16_t port = options.port;
  for (Loop& loop : loops) {
    loop.base = event_base_new();
    if (!loop.base) {
      std::fprintf(stderr, "event_base_new failed\n");
      return 1;
    }
    loop.listen_fd = listen_on_loopback(port, share_port, &port);
    if (loop.listen_fd < 0) {
      std::fprintf(stderr, "listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
      return 1;
    }
  }
  event_base* base = loops[0].base;
  event* sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
  event* sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
  event_add(sigint, nullptr);
  event_add(sigterm, nullptr);
  std::vector<std::thread> threads;
  {
    Server server(base, loops[0].listen_fd);
    for (size_t i = 1; i < loops.size(); ++i) threads.emplace_back(run_loop, loops[i]);
    echo_bench::announce_listening(port, options.threads);
    event_base_dispatch(base);
  }
  for (std::thread& thread : threads) thread.join();
  event_free(sigint);
  event_free(sigterm);
  event_base_free(base);
  close(stop_fd);
  return 0;
}
