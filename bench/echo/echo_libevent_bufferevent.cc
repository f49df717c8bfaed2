// echo-libevent-bufferevent: libevent 2 the way most people use it, an
// evconnlistener handing each client to a bufferevent whose read callback
// moves the input buffer to the output buffer (evbuffer_add_buffer, no copy
// of the bytes). libevent's defaults are kept, as its users keep them.
//
//   echo-libevent-bufferevent PORT    (binds 127.0.0.1; 0 picks a free port)

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

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

void on_stop_signal(evutil_socket_t, short, void* arg) {
  event_base_loopbreak(static_cast<event_base*>(arg));
}

}  // namespace

int main(int argc, char** argv) {
  const uint16_t port = echo_bench::parse_port_or_exit(argc, argv);
  signal(SIGPIPE, SIG_IGN);  // writes to a reset peer must fail, not kill us

  Server server;
  server.base = event_base_new();
  if (!server.base) {
    std::fprintf(stderr, "event_base_new failed\n");
    return 1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  evconnlistener* listener = evconnlistener_new_bind(
      server.base, on_accept, &server, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
      reinterpret_cast<sockaddr*>(&address), sizeof address);
  if (!listener) {
    std::fprintf(stderr, "listen on 127.0.0.1:%u: %s\n", port, std::strerror(errno));
    event_base_free(server.base);
    return 1;
  }
  evconnlistener_set_error_cb(listener, on_accept_error);
  socklen_t length = sizeof address;
  getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&address), &length);

  event* sigint = evsignal_new(server.base, SIGINT, on_stop_signal, server.base);
  event* sigterm = evsignal_new(server.base, SIGTERM, on_stop_signal, server.base);
  event_add(sigint, nullptr);
  event_add(sigterm, nullptr);

  echo_bench::announce_listening(ntohs(address.sin_port));
  event_base_dispatch(server.base);

  for (bufferevent* connection : server.connections) bufferevent_free(connection);
  evconnlistener_free(listener);
  event_free(sigint);
  event_free(sigterm);
  event_base_free(server.base);
  return 0;
}
