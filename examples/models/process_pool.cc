// Model 4, a pre-forked process pool: N workers are forked at start. The
// parent accepts and passes each client socket to an idle worker over a
// Unix socket (sendmsg with SCM_RIGHTS); the worker echoes, closes, and
// reports back that it is idle. A signal stops the pool through a pipe.
//
// Limit: N clients at a time. While every worker is busy the parent stops
// accepting, so further clients wait in the listen backlog. The workers'
// memory is paid up front (about 5 MiB of PSS for 128 in the benchmark).
//
// Classic mistakes avoided:
// - The exit pipe created after the signal handler is installed: a signal
//   in between writes to a descriptor that is not the pipe. Pipe first.
// - The parent keeping its copy of a passed socket: the client would never
//   see EOF. The parent closes it once sendmsg() has returned.
// - Workers keeping what fork() handed them: their siblings' channels and
//   (a replacement worker) the listening socket, which then outlives the
//   parent. Each worker closes every descriptor but its own channel.
// - A worker blocked on its client while the pool shuts down: it waits on
//   the client and its channel together; EOF on the channel (the parent
//   stopped, or died) ends it.
//
//   process_pool PORT [WORKERS]   (binds 127.0.0.1; 0 picks a free port; 8 workers)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "listen_on.h"

namespace {

int exit_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  int saved = errno;
  (void)!write(exit_pipe[1], "x", 1);
  errno = saved;
}

struct Worker {
  pid_t pid = -1;
  int channel = -1;  // the parent's end of the worker's socketpair
  bool idle = true;
};

// One byte of payload with room for one descriptor as SCM_RIGHTS ancillary
// data: sendmsg() needs at least one byte to carry the descriptor.
struct FdMessage {
  char byte = 'c';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{.msg_name = nullptr,
                .msg_namelen = 0,
                .msg_iov = &data,
                .msg_iovlen = 1,
                .msg_control = control,
                .msg_controllen = sizeof control,
                .msg_flags = 0};
};

bool send_fd(int channel, int fd) {
  FdMessage message;
  cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  return sendmsg(channel, &message.header, MSG_NOSIGNAL) == 1;
}

// Returns the received descriptor, or -1 when the parent closed the channel.
int receive_fd(int channel) {
  FdMessage message;
  if (recvmsg(channel, &message.header, MSG_CMSG_CLOEXEC) <= 0) return -1;
  cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return fd;
}

// Echoes one client; false when the channel says the pool is stopping.
bool echo_client(int client, int channel) {
  char buffer[16384];
  ssize_t pending = 0, sent = 0;
  for (;;) {
    pollfd entries[2] = {{client, static_cast<short>(pending > sent ? POLLOUT : POLLIN), 0},
                         {channel, POLLIN, 0}};
    if (poll(entries, 2, -1) < 0) continue;  // EINTR
    if (entries[1].revents) return false;
    if (!entries[0].revents) continue;
    if (pending > sent) {
      ssize_t n = send(client, buffer + sent, static_cast<size_t>(pending - sent),
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
      if (n > 0) sent += n;
    } else {
      pending = read(client, buffer, sizeof buffer);
      if (pending == 0 || (pending < 0 && errno != EINTR)) return true;
      sent = 0;
    }
  }
}

[[noreturn]] void run_worker(int channel) {
  // The parent's handler would write to a pipe this process no longer has.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  dup2(channel, 3);  // keep only the channel, as descriptor 3
  close_range(4, ~0U, 0);
  channel = 3;
  for (;;) {
    int client = receive_fd(channel);
    if (client < 0) _exit(0);
    bool keep_going = echo_client(client, channel);
    close(client);
    if (!keep_going || write(channel, "i", 1) != 1) _exit(0);
  }
}

Worker start_worker() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) std::exit(1);
  pid_t pid = fork();
  if (pid == 0) {
    close(pair[0]);
    run_worker(pair[1]);
  }
  close(pair[1]);
  return Worker{pid, pair[0], true};
}

}  // namespace

int main(int argc, char** argv) {
  int worker_count = argc == 3 ? std::atoi(argv[2]) : 8;
  if (argc < 2 || argc > 3 || worker_count < 1) {
    std::fprintf(stderr, "usage: %s PORT [WORKERS]   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  if (pipe2(exit_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return 1;  // before the handler
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  // Workers first: they never see the listening socket, and "listening on"
  // is printed only once the whole pool is ready.
  std::vector<Worker> workers;
  for (int i = 0; i < worker_count; ++i) workers.push_back(start_worker());
  int listen_fd = listen_on(std::atoi(argv[1]), true);

  std::vector<pollfd> entries(2 + workers.size());
  for (;;) {
    bool any_idle = false;
    for (const Worker& worker : workers) any_idle |= worker.idle;
    entries[0] = {exit_pipe[0], POLLIN, 0};
    entries[1] = {any_idle ? listen_fd : -1, POLLIN, 0};  // busy: leave clients in the backlog
    for (size_t i = 0; i < workers.size(); ++i) entries[2 + i] = {workers[i].channel, POLLIN, 0};
    if (poll(entries.data(), entries.size(), -1) < 0) continue;
    if (entries[0].revents) break;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (!entries[2 + i].revents) continue;
      char report;
      if (read(workers[i].channel, &report, 1) == 1) {
        workers[i].idle = true;
      } else {  // the worker died: reap it and fork a replacement
        close(workers[i].channel);
        waitpid(workers[i].pid, nullptr, 0);
        workers[i] = start_worker();
      }
    }
    if (!(entries[1].revents & POLLIN)) continue;
    int client = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    for (Worker& worker : workers) {
      if (worker.idle && send_fd(worker.channel, client)) {
        worker.idle = false;
        break;
      }
    }
    close(client);  // the worker holds its own copy now (or the client is refused)
  }
  close(listen_fd);
  for (Worker& worker : workers) close(worker.channel);  // EOF: each worker exits
  for (Worker& worker : workers) waitpid(worker.pid, nullptr, 0);
  return 0;
}
