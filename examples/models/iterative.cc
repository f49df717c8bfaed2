// Model 1, iterative: accept one client, echo until it leaves, accept the next.
//
// Limit: one client at a time. A second client's connect() succeeds (the
// kernel completes the handshake into the listen backlog) but nobody reads
// from it until the first one has gone; one idle client stalls all others.
//
// Classic mistakes avoided:
// - Spinning on read() == 0: 0 means the client closed; we close too.
// - A short write taken as complete: write_all() loops until all is sent.
// - A stop flag tested just before a blocking accept()/read(): a signal in
//   between is lost and the server never stops. Every wait is a poll() on
//   the socket and a signalfd together, so the signal is just another event
//   (and is noticed even while a client keeps the server busy).
// - SIGPIPE killing the server when a client leaves mid-echo: MSG_NOSIGNAL.
//
//   iterative PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "listen_on.h"

namespace {

int signal_fd = -1;  // readable once SIGINT or SIGTERM is pending

// Waits until `fd` is ready for `events`; false once a stop was requested.
bool wait_for(int fd, short events) {
  pollfd entries[2] = {{fd, events, 0}, {signal_fd, POLLIN, 0}};
  for (;;) {
    if (poll(entries, 2, -1) < 0 && errno != EINTR) return false;
    if (entries[1].revents) return false;
    if (entries[0].revents) return true;
  }
}

bool write_all(int fd, const char* data, size_t length) {
  while (length > 0) {
    if (!wait_for(fd, POLLOUT)) return false;
    ssize_t sent = send(fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno != EAGAIN && errno != EINTR) return false;  // EPIPE, ECONNRESET
    if (sent > 0) data += sent, length -= static_cast<size_t>(sent);
  }
  return true;
}

void serve(int client) {
  char buffer[16384];
  while (wait_for(client, POLLIN)) {
    ssize_t received = read(client, buffer, sizeof buffer);
    if (received == 0) return;  // the client closed (or half-closed): done
    if (received < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return;  // ECONNRESET: the client vanished
    }
    if (!write_all(client, buffer, static_cast<size_t>(received))) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  // The stop signals arrive as a readable descriptor among the others.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);

  int listen_fd = listen_on(std::atoi(argv[1]), false);
  while (wait_for(listen_fd, POLLIN)) {
    int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;  // ECONNABORTED and friends: the next one
    serve(client);
    close(client);
  }
  close(listen_fd);
  return 0;
}
