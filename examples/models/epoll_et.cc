// Model 8, epoll edge-triggered (EPOLLET): epoll reports a descriptor once
// per change of state instead of on every call while it stays ready. Each
// client's epoll_event.data.ptr points at its own state.
//
// Limit: one thread, so one core. What edge-triggering saves is the
// repeated reports; the price is that every handler must finish the job.
//
// Classic mistakes avoided:
// - One read() or accept() per event: what is left is never reported
//   again (no new edge), so a client's last bytes or a burst of connects
//   wait forever. Reads, writes and accepts go on until EAGAIN.
// - Blocking sockets with EPOLLET: the drain loop would block on the last,
//   empty read(). Every socket is non-blocking.
// - A stop flag set by a signal handler and a wait in ppoll()/pselect()/
//   epoll_pwait() that unblocks the signal only while waiting: those calls
//   return at once while any descriptor is ready, without taking the signal,
//   so a busy server never stops. A signalfd among the watched descriptors
//   is reported like any other.
// - Spinning on read() == 0: the client is closed.
// - Unbounded queueing for a client that does not read: while output is
//   queued we stop reading from it (its bytes stay in the kernel, and TCP
//   slows it down); EPOLLOUT resumes us, and a read then picks up the rest.
//
//   epoll_et PORT      (binds 127.0.0.1; 0 picks a free port)
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

// Sends the queued output until done or EAGAIN; false if the client is gone.
bool flush(Client* client) {
  while (!client->pending.empty()) {
    ssize_t sent = send(client->fd, client->pending.data(), client->pending.size(), MSG_NOSIGNAL);
    if (sent < 0) return errno == EAGAIN || errno == EINTR;
    client->pending.erase(0, static_cast<size_t>(sent));
  }
  return true;
}

// Reads and echoes until EAGAIN, or until the kernel stops taking the echo.
// False when the client is finished.
bool handle(Client* client) {
  if (!flush(client)) return false;
  char buffer[16384];
  while (client->pending.empty()) {
    ssize_t received = read(client->fd, buffer, sizeof buffer);
    if (received < 0) return errno == EAGAIN || errno == EINTR;
    if (received == 0) return false;
    client->pending.assign(buffer, static_cast<size_t>(received));
    if (!flush(client)) return false;
  }
  return true;  // output queued: EPOLLOUT's edge brings us back
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
  epoll_event event{EPOLLIN | EPOLLET, {.ptr = &listener}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener.fd, &event);
  std::unordered_set<Client*> clients;
  epoll_event events[256];
  Client signals{signal_fd, {}};
  epoll_event signal_event{EPOLLIN, {.ptr = &signals}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, signal_fd, &signal_event);
  for (bool stopping = false; !stopping;) {
    int ready = epoll_wait(epoll_fd, events, 256, -1);
    for (int i = 0; i < ready; ++i) {
      auto* client = static_cast<Client*>(events[i].data.ptr);
      if (client == &signals) {
        stopping = true;  // SIGINT or SIGTERM: finish this batch, then leave
        continue;
      }
      if (client == &listener) {
        for (;;) {
          int fd = accept4(listener.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0 && (errno == EINTR || errno == ECONNABORTED)) continue;
          if (fd < 0) break;  // EAGAIN: the backlog is empty
          client = new Client{fd, {}};
          clients.insert(client);
          // Registered once, for both directions: with EPOLLET a writable
          // socket is reported only when it becomes writable again, so
          // leaving EPOLLOUT in costs nothing while there is nothing to send.
          epoll_event client_event{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, {.ptr = client}};
          epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &client_event);
        }
      } else if (!handle(client)) {
        close(client->fd);  // each fd appears once per batch: safe to free
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
