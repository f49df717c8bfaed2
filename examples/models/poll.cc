// Model 6, poll(): select() without the FD_SETSIZE wall. One thread, an
// array of pollfd (one per client), non-blocking sockets.
//
// Limit: the whole array goes into the kernel and is scanned on every
// call, and again here for revents, even when one client is active. With
// every client busy that did not show at C=1,000. At C=10,000 the benchmark
// client saw connections reset, in both runs; not pinned down (this loop
// accepts one client per scan, so taking 10,000 in is slow).
//
// Classic mistakes avoided:
// - `if (revents == POLLIN)`: a client that resets reports POLLIN|POLLERR|
//   POLLHUP, which never equals POLLIN; its descriptor is never read, never
//   closed, and poll() returns at once forever (100% CPU). Any of POLLIN,
//   POLLHUP or POLLERR sends us to read(), which tells which it was.
// - A stop flag set by a signal handler and a wait in ppoll()/pselect()/
//   epoll_pwait() that unblocks the signal only while waiting: those calls
//   return at once while any descriptor is ready, without taking the signal,
//   so a busy server never stops. A signalfd among the watched descriptors
//   is reported like any other.
// - Spinning on read() == 0: we close.
// - POLLOUT asked for with nothing to write (always ready: a busy loop):
//   only clients with queued output ask for it, and they stop reading meanwhile.
//
//   poll PORT      (binds 127.0.0.1; 0 picks a free port)
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
#include <string>
#include <vector>

#include "listen_on.h"

namespace {

// One turn for a ready client; false when it is finished.
bool handle(pollfd& entry, std::string& pending) {
  if (!pending.empty()) {
    ssize_t sent = send(entry.fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR;
    pending.erase(0, static_cast<size_t>(sent));
  } else {
    char buffer[16384];
    ssize_t received = read(entry.fd, buffer, sizeof buffer);
    if (received < 0) return errno == EAGAIN || errno == EINTR;
    if (received == 0) return false;
    ssize_t sent = send(entry.fd, buffer, static_cast<size_t>(received), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN) return false;
    pending.assign(buffer + (sent > 0 ? sent : 0), buffer + received);
  }
  entry.events = pending.empty() ? POLLIN : POLLOUT;
  return true;
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
  const int signal_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);

  // entries[0] is the listening socket, entries[1] the signalfd; from 2 on,
  // entries[i] and pending[i] belong to one client.
  std::vector<pollfd> entries{{listen_on(std::atoi(argv[1]), true), POLLIN, 0},
                              {signal_fd, POLLIN, 0}};
  std::vector<std::string> pending{"", ""};
  for (;;) {
    if (poll(entries.data(), entries.size(), -1) < 0) continue;
    if (entries[1].revents) break;
    for (size_t i = 2; i < entries.size();) {
      if ((entries[i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)) &&
          !handle(entries[i], pending[i])) {
        close(entries[i].fd);  // swap with the last entry: O(1) removal
        entries[i] = entries.back();
        entries.pop_back();
        pending[i] = std::move(pending.back());
        pending.pop_back();
      } else {
        ++i;
      }
    }
    if (entries[0].revents & POLLIN) {
      int client = accept4(entries[0].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client >= 0) {
        entries.push_back({client, POLLIN, 0});
        pending.emplace_back();
      }
    }
  }
  for (const pollfd& entry : entries) close(entry.fd);
  return 0;
}
