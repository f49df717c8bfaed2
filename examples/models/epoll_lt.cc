// Model 7, epoll level-triggered: the interest set lives in the kernel
// (epoll_ctl once per change, not per call), and epoll_wait returns only
// the ready descriptors. Each client's epoll_event.data.ptr points at its
// own state, so a ready event leads to it without a lookup.
//
// Limit: one thread, so one core; and level-triggering reports a ready
// descriptor on every epoll_wait until it is no longer ready.
//
// Classic mistakes avoided:
// - EPOLLOUT left registered with nothing to write: a writable socket is
//   ready on every call, a busy loop. It is armed only while output is
//   queued (and reading pauses meanwhile, so a non-reader cannot make us
//   queue without bound).
// - A stop flag set by a signal handler and a wait in ppoll()/pselect()/
//   epoll_pwait() that unblocks the signal only while waiting: those calls
//   return at once while any descriptor is ready, without taking the signal,
//   so a busy server never stops. A signalfd among the watched descriptors
//   is reported like any other.
// - Spinning on read() == 0 or on EPOLLHUP/EPOLLERR: any event leads to
//   read(), and 0 or an error closes the client, which also removes it
//   from the epoll set (close() of the only descriptor does).
//
//   epoll_lt PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "listen_on.h"

namespace {

struct Client {
  int fd;
  std::string pending;  // echo the kernel has not taken yet
};

void watch(int epoll_fd, int operation, Client* client, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = client;
  epoll_ctl(epoll_fd, operation, client->fd, &event);
}

// One turn for a ready client; false when it is finished.
bool handle(int epoll_fd, Client* client) {
  if (!client->pending.empty()) {
    ssize_t sent = send(client->fd, client->pending.data(), client->pending.size(), MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR;
    client->pending.erase(0, static_cast<size_t>(sent));
  } else {
    char buffer[16384];
    ssize_t received = read(client->fd, buffer, sizeof buffer);
    if (received < 0) return errno == EAGAIN || errno == EINTR;
    if (received == 0) return false;
    ssize_t sent = send(client->fd, buffer, static_cast<size_t>(received), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN) return false;
    if (sent == received) return true;  // the common case: no state change
    client->pending.assign(buffer + (sent > 0 ? sent : 0), buffer + received);
  }
  watch(epoll_fd, EPOLL_CTL_MOD, client, client->pending.empty() ? EPOLLIN : EPOLLOUT);
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

  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  Client listener{listen_on(std::atoi(argv[1]), true), {}};
  watch(epoll_fd, EPOLL_CTL_ADD, &listener, EPOLLIN);
  std::unordered_set<Client*> clients;
  epoll_event events[256];
  Client signals{signal_fd, {}};
  watch(epoll_fd, EPOLL_CTL_ADD, &signals, EPOLLIN);
  for (bool stopping = false; !stopping;) {
    int ready = epoll_wait(epoll_fd, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      auto* client = static_cast<Client*>(events[i].data.ptr);
      if (client == &signals) {
        stopping = true;  // SIGINT or SIGTERM: finish this batch, then leave
        continue;
      }
      if (client == &listener) {
        // Level-triggered: one accept per event; a longer backlog wakes us again.
        int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) continue;
        client = new Client{fd, {}};
        clients.insert(client);
        watch(epoll_fd, EPOLL_CTL_ADD, client, EPOLLIN);
      } else if (!handle(epoll_fd, client)) {
        // Safe to free now: each fd appears at most once per epoll_wait batch,
        // and no handler here touches another client.
        close(client->fd);
        clients.erase(client);
        delete client;
      }
    }
  }
  for (Client* client : clients) close(client->fd), delete client;
  close(listener.fd);
  close(epoll_fd);
  return 0;
}
