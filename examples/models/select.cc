// Model 5, select(): one thread, non-blocking sockets, and a readiness set
// rebuilt and passed to the kernel on every turn.
//
// Limit: an fd_set has FD_SETSIZE (1,024) bits, so no descriptor >= 1024
// can be watched at all. Every call also copies and scans the sets up to
// the highest descriptor; with every client busy (the pingpong benchmark)
// that cost did not show at C=1,000, it matters when few of many are active.
//
// Classic mistakes avoided:
// - FD_SET() with a descriptor >= FD_SETSIZE writes past the end of the
//   fd_set and corrupts the stack. Such a client is refused (closed) as soon
//   as it is accepted.
// - Reusing the sets after select(): it overwrites them with the result.
//   They are rebuilt before every call.
// - A stop flag set by a signal handler and a wait in ppoll()/pselect()/
//   epoll_pwait() that unblocks the signal only while waiting: those calls
//   return at once while any descriptor is ready, without taking the signal,
//   so a busy server never stops. A signalfd among the watched descriptors
//   is reported like any other.
// - Spinning on read() == 0 (the client's FIN stays readable): we close.
// - Watching for writability with nothing to write (always true: a busy
//   loop). Only clients with queued output are in the write set; they are
//   out of the read set meanwhile, so a client that does not read cannot
//   make us queue without bound.
//
//   select PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "listen_on.h"

namespace {

// Reads what is there and echoes it; false when the client is finished.
bool handle_readable(int fd, std::string& pending) {
  char buffer[16384];
  ssize_t received = read(fd, buffer, sizeof buffer);
  if (received < 0) return errno == EAGAIN || errno == EINTR;
  if (received == 0) return false;
  ssize_t sent = send(fd, buffer, static_cast<size_t>(received), MSG_NOSIGNAL);
  if (sent < 0 && errno != EAGAIN) return false;
  pending.assign(buffer + (sent > 0 ? sent : 0), buffer + received);
  return true;
}

bool handle_writable(int fd, std::string& pending) {
  ssize_t sent = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  if (sent < 0) return errno == EAGAIN || errno == EINTR;
  pending.erase(0, static_cast<size_t>(sent));
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

  int listen_fd = listen_on(std::atoi(argv[1]), true);
  if (std::max(listen_fd, signal_fd) >= FD_SETSIZE) {
    std::fprintf(stderr, "descriptors are beyond FD_SETSIZE from the start\n");
    return 1;
  }
  std::map<int, std::string> clients;  // fd -> output the kernel has not taken yet
  for (;;) {
    fd_set readable, writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    FD_SET(listen_fd, &readable);
    FD_SET(signal_fd, &readable);
    int highest = std::max(listen_fd, signal_fd);
    for (const auto& [fd, pending] : clients) {
      FD_SET(fd, pending.empty() ? &readable : &writable);
      if (fd > highest) highest = fd;
    }
    if (select(highest + 1, &readable, &writable, nullptr, nullptr) < 0) continue;
    if (FD_ISSET(signal_fd, &readable)) break;

    for (auto it = clients.begin(); it != clients.end();) {
      auto& [fd, pending] = *it;
      bool keep = true;
      if (FD_ISSET(fd, &readable))
        keep = handle_readable(fd, pending);
      else if (FD_ISSET(fd, &writable))
        keep = handle_writable(fd, pending);
      if (keep) {
        ++it;
      } else {
        close(fd);
        it = clients.erase(it);
      }
    }
    if (FD_ISSET(listen_fd, &readable)) {
      int client = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client >= FD_SETSIZE) {
        std::fprintf(stderr, "refused a client: descriptor %d >= FD_SETSIZE\n", client);
        close(client);
      } else if (client >= 0) {
        clients[client];
      }
    }
  }
  for (const auto& [fd, pending] : clients) close(fd);
  close(listen_fd);
  return 0;
}
