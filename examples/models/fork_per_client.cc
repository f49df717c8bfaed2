// Model 2, a process per client: the parent accepts and fork()s; the child
// echoes for its one client and exits.
//
// Limit: a process and a fork() per client. Measured on one core (docs/
// CONCEPTS.md): about 44 KiB of memory (PSS) per idle client, and at
// C=1,000 0.06 times the reactor's pingpong throughput.
//
// Classic mistakes avoided:
// - Zombies: reaping once per SIGCHLD, or only after the first fork. Signals
//   of the same kind merge (ten children can exit for one SIGCHLD), so every
//   wake-up reaps with waitpid(-1, ..., WNOHANG) until nothing is left.
// - The parent keeping its copy of the client socket: the client would never
//   see EOF when the child closes. The parent closes it right after fork().
// - The child inheriting the parent's blocked signal mask and handlers, so
//   SIGTERM could not stop it: the child restores both.
// - Children outliving a killed parent: PR_SET_PDEATHSIG sends them SIGTERM.
//
//   fork_per_client PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "listen_on.h"

namespace {

volatile sig_atomic_t stop_requested = 0;

void on_stop_signal(int) {
  stop_requested = 1;
}
// Only interrupts ppoll(); the main loop reaps, where it may touch `children`.
void on_child_exit(int) {}

// The child's whole life: a blocking echo loop, then exit.
[[noreturn]] void serve(int client) {
  char buffer[16384];
  for (;;) {
    ssize_t received = read(client, buffer, sizeof buffer);
    if (received < 0 && errno == EINTR) continue;
    if (received <= 0) _exit(0);  // closed (0) or reset (-1): done
    for (ssize_t sent = 0; sent < received;) {
      ssize_t n = send(client, buffer + sent, static_cast<size_t>(received - sent), MSG_NOSIGNAL);
      if (n < 0 && errno != EINTR) _exit(0);
      if (n > 0) sent += n;
    }
  }
}

void reap_children(std::unordered_set<pid_t>& children) {
  pid_t pid;
  while ((pid = waitpid(-1, nullptr, WNOHANG)) > 0) children.erase(pid);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  // Stop signals and SIGCHLD are blocked except inside ppoll(), so neither
  // can slip in between testing a flag and going to sleep.
  sigset_t handled, wait_mask;
  sigemptyset(&handled);
  for (int signo : {SIGINT, SIGTERM, SIGCHLD}) sigaddset(&handled, signo);
  sigprocmask(SIG_BLOCK, &handled, &wait_mask);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = on_child_exit;
  sigaction(SIGCHLD, &action, nullptr);

  const pid_t parent = getpid();
  int listen_fd = listen_on(std::atoi(argv[1]), true);
  std::unordered_set<pid_t> children;
  pollfd entry{listen_fd, POLLIN, 0};
  while (!stop_requested) {
    int ready = ppoll(&entry, 1, nullptr, &wait_mask);
    reap_children(children);
    if (ready <= 0) continue;  // EINTR: a signal; the loop condition decides
    int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      close(listen_fd);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(0);  // the parent died before prctl
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGCHLD, SIG_DFL);
      sigprocmask(SIG_SETMASK, &wait_mask, nullptr);
      serve(client);
    }
    if (pid < 0)
      std::perror("fork");  // out of processes: refuse this one
    else
      children.insert(pid);
    close(client);  // the child has its own copy
  }
  close(listen_fd);
  for (pid_t pid : children) kill(pid, SIGTERM);
  for (pid_t pid : children) waitpid(pid, nullptr, 0);
  return 0;
}
