// echo-libevent-bufferevent: libevent 2 the way most people use it, an
// evconnlistener handing each client to a bufferevent whose read callback
// moves the input buffer to the output buffer (evbuffer_add_buffer, no copy
// of the bytes). libevent's defaults are kept, as its users keep them.
//
// --threads N: N event_bases, one per thread, each with its own
// evconnlistener on the port (LEV_OPT_REUSEABLE_PORT, i.e. SO_REUSEPORT) and
// its own bufferevents; no event crosses threads, so libevent's threading
// support stays off. The main thread's base catches SIGINT/SIGTERM and tells
// the others through an eventfd each of them watches.
//
//   echo-libevent-bufferevent PORT [--threads N]    (binds 127.0.0.1; 0 picks a free port)

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <unordered_set>
#include <vector>

#include "peer_common.h"

namespace {

// A peer that stops reading must not make us buffer without bound: above
// this much queued output we stop reading from it until the output drains
// below the write low-water mark.
constexpr size_t kMaxPendingBytes = 4 * 1024 * 1024;

struct Server {
  event_base* base = nullptr;
  std::unordered_set<bufferevent*> connections;
};

void on_write(bufferevent* connection, void* arg);
void on_event(bufferevent* connection, short events, void* arg);

void on_read(bufferevent* connection, void* arg) {
  evbuffer* output = bufferevent_get_output(connection);
  evbuffer_add_buffer(output, bufferevent_get_input(connection));
  if (evbuffer_get_length(output) > kMaxPendingBytes) {
    bufferevent_disable(connection, EV_READ);
    bufferevent_setwatermark(connection, EV_WRITE, kMaxPendingBytes / 2, 0);
    bufferevent_setcb(connection, on_read, on_write, on_event, arg);
  }
}

// Installed only while reading is paused, so the echo path is exactly the
// common read-callback-only use; libevent calls it once the output has
// drained to the low-water mark.
void on_write(bufferevent* connection, void* arg) {
  bufferevent_setwatermark(connection, EV_WRITE, 0, 0);
  bufferevent_setcb(connection, on_read, nullptr, on_event, arg);
  bufferevent_enable(connection, EV_READ);
}

void on_event(bufferevent* connection, short events, void* arg) {
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    static_cast<Server*>(arg)->connections.erase(connection);
    bufferevent_free(connection);
  }
}

void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* server = static_cast<Server*>(arg);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bufferevent* connection = bufferevent_socket_new(server->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!connection) {
    evutil_closesocket(fd);
    return;
  }
  server->connections.insert(connection);
  bufferevent_setcb(connection, on_read, nullptr, on_event, server);
  bufferevent_enable(connection, EV_READ | EV_WRITE);
}

void on_accept_error(evconnlistener*, void*) {
  // Typically EMFILE; libevent retries on the next readiness, so report and go on.
  std::fprintf(stderr, "accept: %s\n", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
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

// Binds `server`'s listener to 127.0.0.1:*port and stores the port it got
// back in *port (port 0 picks one).
evconnlistener* listen_on_loopback(Server& server, uint16_t* port, bool share_port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(*port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
  if (share_port) flags |= LEV_OPT_REUSEABLE_PORT;
  evconnlistener* listener =
      evconnlistener_new_bind(server.base, on_accept, &server, flags, -1,
                              reinterpret_cast<sockaddr*>(&address), sizeof address);
  if (!listener) return nullptr;
  evconnlistener_set_error_cb(listener, on_accept_error);
  socklen_t length = sizeof address;
  getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return listener;
}

// Runs `base` until SIGINT/SIGTERM (main thread) or the stop eventfd (the
// others), then frees what the loop holds.
void run_loop(Server* server, evconnlistener* listener) {
  event* stop = event_new(server->base, stop_fd, EV_READ, on_stop_request, server->base);
  event_add(stop, nullptr);
  event_base_dispatch(server->base);
  event_free(stop);
  for (bufferevent* connection : server->connections) bufferevent_free(connection);
  evconnlistener_free(listener);
}

}  // namespace

int main(int argc, char** argv) {
  const echo_bench::PeerOptions options = echo_bench::parse_options_or_exit(argc, argv);
  const bool share_port = options.threads > 1;
  signal(SIGPIPE, SIG_IGN);  // writes to a reset peer must fail, not kill us

  stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    std::perror("eventfd");
    return 1;
  }
  // The first listener resolves port 0; the others join the port it got.
  std::vector<Server> servers(options.threads);
  std::vector<evconnlistener*> listeners;
  uint16_t port = options.port;
  for (Server& server : servers) {
    server.base = event_base_new();
    if (!server.base) {
      std::fprintf(stderr, "event_base_new failed\n");
      return 1;
    }
    evconnlistener* listener = listen_on_loopback(server, &port, share_port);
    if (!listener) {
      std::fprintf(stderr, "listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
      return 1;
    }
    listeners.push_back(listener);
  }

  event_base* base = servers[0].base;
  event* sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
  event* sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
  event_add(sigint, nullptr);
  event_add(sigterm, nullptr);

  std::vector<std::thread> threads;
  for (size_t i = 1; i < servers.size(); ++i)
    threads.emplace_back(run_loop, &servers[i], listeners[i]);
  echo_bench::announce_listening(port, options.threads);
  run_loop(&servers[0], listeners[0]);
  for (std::thread& thread : threads) thread.join();

  event_free(sigint);
  event_free(sigterm);
  for (Server& server : servers) event_base_free(server.base);
  close(stop_fd);
  return 0;
}
