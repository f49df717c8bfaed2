// Model 3, a thread per client: the main thread accepts and starts a
// detached thread that echoes for its one client with blocking calls.
//
// Limit: a thread, its stack, and a context switch per message, per client.
// Measured on one core (docs/CONCEPTS.md): about 12 KiB (PSS) per idle
// client, and at C=1,000 0.11 times the reactor's pingpong throughput.
//
// Classic mistakes avoided:
// - Passing &client to the thread: the next accept() overwrites it before
//   the thread has read it, so two threads serve one socket and another is
//   never served. The descriptor is copied into the thread by value.
// - Joinable threads never joined: their stacks leak. They are detached.
// - Signals delivered to an arbitrary thread: the stop signals are blocked
//   before any thread starts (threads inherit the mask), so only the main
//   thread's ppoll() receives them.
// - Thread creation failing (EAGAIN at the thread limit) ending the server:
//   that client alone is refused.
//
//   thread_per_client PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "listen_on.h"

namespace {

volatile sig_atomic_t stop_requested = 0;

void on_stop_signal(int) {
  stop_requested = 1;
}

void serve(int client) {
  char buffer[16384];
  for (;;) {
    ssize_t received = read(client, buffer, sizeof buffer);
    if (received < 0 && errno == EINTR) continue;
    if (received <= 0) break;  // closed (0) or reset (-1)
    ssize_t sent = 0;
    while (sent < received) {
      ssize_t n = send(client, buffer + sent, static_cast<size_t>(received - sent), MSG_NOSIGNAL);
      if (n < 0 && errno != EINTR) break;
      if (n > 0) sent += n;
    }
    if (sent < received) break;
  }
  close(client);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  sigset_t stop_signals, wait_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  int listen_fd = listen_on(std::atoi(argv[1]), true);
  pollfd entry{listen_fd, POLLIN, 0};
  while (!stop_requested) {
    if (ppoll(&entry, 1, nullptr, &wait_mask) <= 0) continue;
    int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    try {
      std::thread([client] { serve(client); }).detach();
    } catch (const std::system_error& error) {
      std::fprintf(stderr, "no thread for a client: %s\n", error.what());
      close(client);
    }
  }
  // Returning ends the process and with it the threads still serving; the
  // kernel closes their sockets.
  close(listen_fd);
  return 0;
}
