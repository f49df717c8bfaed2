// latency: round-trip latency of an echo server at a fixed request rate.
//
//   latency --port PORT [--connections C] [--rate R] [--size S]
//           [--seconds T] [--warmup W]
//
// Open loop: request k is due at start + k/R on connection k mod C, whether
// or not earlier answers have come back, and its latency is counted from
// the time it was due, not from when it was sent. A server that falls
// behind therefore shows its queueing delay instead of slowing the client
// down to its own pace (the "coordinated omission" of closed-loop clients).
// Echo keeps order per connection, so request k on a connection is
// answered once k+1 requests' worth of bytes have come back on it.
//
// Prints one line: percentiles in microseconds, the number of requests
// measured, and how many were still unanswered one second after the end
// (those count as infinitely late: a p99 above the answered ones is "inf").
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint16_t port = 0;
  int connections = 10;
  double rate = 1000;  // requests per second, all connections together
  size_t size = 64;
  double seconds = 3;
  double warmup = 0.5;
};

struct Connection {
  int fd = -1;
  std::deque<Clock::time_point> due;  // requests sent and not yet answered
  size_t received = 0;                // bytes of the oldest unanswered request so far
  std::string unsent;                 // what the kernel did not take yet
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "latency: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--port")
      options.port = static_cast<uint16_t>(std::atoi(value));
    else if (name == "--connections")
      options.connections = std::atoi(value);
    else if (name == "--rate")
      options.rate = std::atof(value);
    else if (name == "--size")
      options.size = static_cast<size_t>(std::atol(value));
    else if (name == "--seconds")
      options.seconds = std::atof(value);
    else if (name == "--warmup")
      options.warmup = std::atof(value);
    else {
      std::fprintf(stderr, "latency: unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (argc % 2 == 0 || options.port == 0 || options.connections < 1 || !(options.rate > 0) ||
      options.size < 1 || !(options.seconds > 0)) {
    std::fprintf(stderr,
                 "usage: latency --port PORT [--connections C] [--rate R] [--size S] "
                 "[--seconds T] [--warmup W]\n");
    std::exit(2);
  }
  return options;
}

void arm(int timer_fd, Clock::time_point when) {
  auto since_epoch = when.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  itimerspec spec{};
  spec.it_value.tv_sec = seconds.count();
  spec.it_value.tv_nsec = std::chrono::nanoseconds(since_epoch - seconds).count();
  if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  // steady_clock is CLOCK_MONOTONIC on Linux, so the absolute times agree.
  timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &spec, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  epoll_event timer_event{EPOLLIN, {.u64 = UINT64_MAX}};
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, timer_fd, &timer_event);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(options.port);
  std::vector<Connection> connections(static_cast<size_t>(options.connections));
  for (size_t i = 0; i < connections.size(); ++i) {
    // Blocking connect: the handshake completes in the kernel's backlog
    // even before the server accepts, so this does not wait on the server.
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0)
      die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
    connections[i].fd = fd;
    epoll_event event{EPOLLIN, {.u64 = i}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  }

  const std::string request(options.size, 'q');
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options.rate));
  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.warmup));
  const auto send_until = measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.seconds));
  const auto give_up_at = send_until + std::chrono::seconds(1);
  uint64_t next_request = 0;
  uint64_t measured_requests = 0;
  std::vector<double> latencies_us;
  char buffer[65536];

  auto send_on = [&](Connection& connection, uint32_t index) {
    if (connection.unsent.empty()) {
      ssize_t sent = send(connection.fd, request.data(), request.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN) die("send");
      if (sent == static_cast<ssize_t>(request.size())) return;
      connection.unsent.assign(request, sent > 0 ? static_cast<size_t>(sent) : 0);
      epoll_event event{EPOLLIN | EPOLLOUT, {.u64 = index}};
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, connection.fd, &event);
    } else {
      connection.unsent += request;
    }
  };

  arm(timer_fd, start);
  epoll_event events[256];
  for (;;) {
    const auto now = Clock::now();
    if (now >= give_up_at) break;
    if (now >= send_until) {
      bool all_answered = true;
      for (const auto& connection : connections) all_answered &= connection.due.empty();
      if (all_answered) break;
    }
    int ready = epoll_wait(epoll_fd, events, 256, 100);
    if (ready < 0 && errno != EINTR) die("epoll_wait");
    for (int e = 0; e < ready; ++e) {
      if (events[e].data.u64 == UINT64_MAX) {
        uint64_t expirations;
        (void)!read(timer_fd, &expirations, sizeof expirations);
        const auto now_sending = Clock::now();
        for (;;) {
          const auto due = start + interval * static_cast<int64_t>(next_request);
          if (due > now_sending || due >= send_until) break;
          const uint32_t index = static_cast<uint32_t>(next_request % connections.size());
          connections[index].due.push_back(due);
          if (due >= measure_from) ++measured_requests;
          send_on(connections[index], index);
          ++next_request;
        }
        const auto next_due = start + interval * static_cast<int64_t>(next_request);
        if (next_due < send_until) arm(timer_fd, next_due);
        continue;
      }
      const uint32_t index = static_cast<uint32_t>(events[e].data.u64);
      Connection& connection = connections[index];
      if (events[e].events & EPOLLOUT) {
        ssize_t sent =
            send(connection.fd, connection.unsent.data(), connection.unsent.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) die("send");
        if (sent > 0) connection.unsent.erase(0, static_cast<size_t>(sent));
        if (connection.unsent.empty()) {
          epoll_event event{EPOLLIN, {.u64 = index}};
          epoll_ctl(epoll_fd, EPOLL_CTL_MOD, connection.fd, &event);
        }
      }
      if (!(events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t received = read(connection.fd, buffer, sizeof buffer);
      if (received == 0) {
        std::fprintf(stderr, "latency: the server closed connection %u\n", index);
        return 1;
      }
      if (received < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        die("read");
      }
      const auto arrived = Clock::now();
      connection.received += static_cast<size_t>(received);
      while (connection.received >= options.size && !connection.due.empty()) {
        connection.received -= options.size;
        const auto due = connection.due.front();
        connection.due.pop_front();
        if (due >= measure_from) {
          latencies_us.push_back(std::chrono::duration<double, std::micro>(arrived - due).count());
        }
      }
    }
  }

  const uint64_t unanswered = measured_requests - latencies_us.size();
  std::sort(latencies_us.begin(), latencies_us.end());
  auto percentile = [&](double p) -> std::string {
    if (measured_requests == 0) return "nan";
    // Unanswered requests sort after every answered one.
    auto rank =
        static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(measured_requests)));
    if (rank == 0) rank = 1;
    if (rank > latencies_us.size()) return "inf";
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", latencies_us[rank - 1]);
    return text;
  };
  std::printf(
      "latency: p50 %s us, p99 %s us, p99.9 %s us, max %s us; %llu requests at %.0f/s "
      "on %d connections, %llu unanswered\n",
      percentile(50).c_str(), percentile(99).c_str(), percentile(99.9).c_str(),
      percentile(100).c_str(), static_cast<unsigned long long>(measured_requests), options.rate,
      options.connections, static_cast<unsigned long long>(unanswered));
  for (auto& connection : connections) close(connection.fd);
  return 0;
}
