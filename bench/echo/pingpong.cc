// pingpong: the echo benchmark client (the classic muduo "pingpong" load).
//
// Opens C connections to 127.0.0.1:PORT; each sends one S-byte block and then
// sends back whatever the server echoes, so every connection keeps exactly S
// bytes in flight. After a warm-up it counts the bytes received for T seconds
// and prints the throughput. Plain epoll, no library, so the same client loads
// every server the same way. By default one thread; --threads N splits the
// connections over N threads, each with its own epoll and its own share of the
// connections (connection i goes to thread i mod N), because one client
// thread does about as much work per message as one server thread and so
// cannot keep a server with several threads busy.
//
//   pingpong --port PORT [--connections C] [--size S] [--seconds T] [--warmup W]
//            [--threads N] [--server-pid PID]
//
// Also reports how busy the client and (given --server-pid) the server were
// while measuring: a client near 100% of its core means the result is a floor
// for the server, not its limit.
//
// Exits 0 only when every connection connected and survived the whole run.
// CPU use covers all threads: getrusage(RUSAGE_SELF) for the client and
// /proc/PID/stat (the whole thread group) for the server.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint16_t port = 0;
  int connections = 1;
  size_t size = 16 * 1024;
  double seconds = 5.0;
  double warmup_seconds = 1.0;
  double connect_timeout_seconds = 30.0;
  int threads = 1;
  pid_t server_pid = 0;
};

struct Connection {
  int fd = -1;
  bool connected = false;
  bool writing = false;  // EPOLLOUT armed because `pending` holds bytes
  // Echoed bytes the kernel would not take yet; never more than S, since
  // that is all a connection ever has in flight.
  std::vector<char> pending;
  size_t pending_offset = 0;
};

// _Exit, not exit: a failing client thread must not run static destructors
// under the feet of the others.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "pingpong: %s\n", what);
  std::fflush(stdout);
  std::_Exit(1);
}

[[noreturn]] void die_errno(const char* what, int error) {
  std::fprintf(stderr, "pingpong: %s: %s\n", what, std::strerror(error));
  std::fflush(stdout);
  std::_Exit(1);
}

void usage_and_exit(int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: pingpong --port PORT [--connections C] [--size S] [--seconds T]\n"
               "                [--warmup W] [--connect-timeout SECONDS] [--threads N]\n"
               "                [--server-pid PID]\n"
               "  S takes a K/KiB or M/MiB suffix (16K = 16384 bytes)\n"
               "  N client threads share the connections (at most C are used)\n");
  std::exit(status);
}

template <typename Number>
Number parse_number(std::string_view name, std::string_view text) {
  Number value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) {
    std::fprintf(stderr, "pingpong: bad value for %.*s: '%.*s'\n", static_cast<int>(name.size()),
                 name.data(), static_cast<int>(text.size()), text.data());
    usage_and_exit(2);
  }
  return value;
}

size_t parse_size(std::string_view text) {
  size_t multiplier = 1;
  for (auto [suffix, factor] : {std::pair<std::string_view, size_t>{"KiB", 1024},
                                {"K", 1024},
                                {"k", 1024},
                                {"MiB", 1024 * 1024},
                                {"M", 1024 * 1024}}) {
    if (text.size() > suffix.size() && text.ends_with(suffix)) {
      text.remove_suffix(suffix.size());
      multiplier = factor;
      break;
    }
  }
  return parse_number<size_t>("--size", text) * multiplier;
}

Options parse_options(int argc, char** argv) {
  Options options;
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") usage_and_exit(0);
    std::string_view value;
    if (auto equals = arg.find('='); equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else {
      if (i + 1 >= argc) usage_and_exit(2);
      value = argv[++i];
    }
    if (arg == "--port") {
      options.port = parse_number<uint16_t>(arg, value);
      have_port = true;
    } else if (arg == "--connections" || arg == "-c") {
      options.connections = parse_number<int>(arg, value);
    } else if (arg == "--size" || arg == "-s") {
      options.size = parse_size(value);
    } else if (arg == "--seconds" || arg == "-t") {
      options.seconds = parse_number<double>(arg, value);
    } else if (arg == "--warmup") {
      options.warmup_seconds = parse_number<double>(arg, value);
    } else if (arg == "--server-pid") {
      options.server_pid = parse_number<pid_t>(arg, value);
    } else if (arg == "--threads") {
      options.threads = parse_number<int>(arg, value);
    } else if (arg == "--connect-timeout") {
      options.connect_timeout_seconds = parse_number<double>(arg, value);
    } else {
      std::fprintf(stderr, "pingpong: unknown option %.*s\n", static_cast<int>(arg.size()),
                   arg.data());
      usage_and_exit(2);
    }
  }
  if (!have_port || options.port == 0) die("--port is required (1-65535)");
  if (options.connections < 1) die("--connections must be at least 1");
  if (options.size < 1) die("--size must be at least 1 byte");
  if (!(options.seconds > 0)) die("--seconds must be positive");
  if (!(options.warmup_seconds >= 0)) die("--warmup must not be negative");
  if (options.threads < 1) die("--threads must be at least 1");
  // A thread without a connection would only add noise.
  options.threads = std::min(options.threads, options.connections);
  return options;
}

// C=1000 needs more descriptors than the usual soft limit of 1024.
void raise_descriptor_limit(int connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  rlim_t wanted = static_cast<rlim_t>(connections) + 64;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    std::fprintf(stderr, "pingpong: descriptor limit %ju is too low for %d connections\n",
                 static_cast<uintmax_t>(limit.rlim_cur), connections);
    std::exit(1);
  }
}

// CPU seconds (user + system) a process has used so far; negative if unknown.
double process_cpu_seconds(pid_t pid) {
  if (pid == 0) {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* file = std::fopen(path.c_str(), "r");
  if (!file) return -1;
  char line[1024];
  size_t length = std::fread(line, 1, sizeof line - 1, file);
  std::fclose(file);
  line[length] = '\0';
  // The command name in parentheses may hold spaces; fields count from after it.
  const char* fields = std::strrchr(line, ')');
  unsigned long user_ticks = 0;
  unsigned long system_ticks = 0;
  if (!fields || std::sscanf(fields + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                             &user_ticks, &system_ticks) != 2)
    return -1;
  return static_cast<double>(user_ticks + system_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// One client thread: its own epoll and its own share of the connections.
class Client {
 public:
  Client(const Options& options, size_t connection_count, const std::atomic<bool>& stop)
      : options_(options), stop_(stop), connections_(connection_count) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) die_errno("epoll_create1", errno);
    events_.resize(1024);
  }

  ~Client() {
    for (Connection& connection : connections_)
      if (connection.fd >= 0) close(connection.fd);
    close(epoll_fd_);
  }

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void connect_all() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(options_.port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    for (size_t i = 0; i < connections_.size(); ++i) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) die_errno("socket", errno);
      connections_[i].fd = fd;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 &&
          errno != EINPROGRESS)
        die_errno("connect", errno);
      control(EPOLL_CTL_ADD, i, EPOLLOUT);
    }

    size_t connected = 0;
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(options_.connect_timeout_seconds));
    while (connected < connections_.size()) {
      auto now = Clock::now();
      if (now >= deadline) {
        std::fprintf(stderr, "pingpong: only %zu of %zu connections established in %.1f s\n",
                     connected, connections_.size(), options_.connect_timeout_seconds);
        std::exit(1);
      }
      int ready = wait_events(milliseconds_until(now, deadline));
      for (int e = 0; e < ready; ++e) {
        Connection& connection = connections_[events_[e].data.u32];
        if (connection.connected) continue;
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) die_errno("connect", error);
        connection.connected = true;
        ++connected;
        control(EPOLL_CTL_MOD, events_[e].data.u32, EPOLLIN);
      }
    }
  }

  // Echoes until `stop` is set; the main thread reads the counters.
  void run() {
    // The block's content is irrelevant to an echo server; a pattern makes a
    // corrupted echo easy to spot in a packet capture.
    std::vector<char> block(options_.size);
    for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<char>('a' + i % 26);
    for (size_t i = 0; i < connections_.size(); ++i) send(i, block.data(), block.size());

    while (!stop_.load(std::memory_order_relaxed)) {
      // The timeout only bounds how late the thread notices `stop`.
      int ready = wait_events(50);
      for (int e = 0; e < ready; ++e) {
        const uint32_t index = events_[e].data.u32;
        const uint32_t what = events_[e].events;
        // A reset shows up as EPOLLERR; read() turns it into the errno to report.
        if (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(index);
        if ((what & EPOLLOUT) && connections_[index].writing) on_writable(index);
      }
    }
  }

  uint64_t bytes_received() const { return bytes_received_.load(std::memory_order_relaxed); }
  uint64_t messages_received() const { return messages_received_.load(std::memory_order_relaxed); }

 private:
  static int milliseconds_until(Clock::time_point now, Clock::time_point deadline) {
    if (deadline <= now) return 0;
    // Rounded up so the loop never spins on a zero timeout before a deadline.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::min<int64_t>(ms, 1000));
  }

  int wait_events(int timeout_ms) {
    int ready = epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) return 0;
      die_errno("epoll_wait", errno);
    }
    return ready;
  }

  void control(int operation, size_t index, uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.u32 = static_cast<uint32_t>(index);
    if (epoll_ctl(epoll_fd_, operation, connections_[index].fd, &event) != 0)
      die_errno("epoll_ctl", errno);
  }

  [[noreturn]] void fail(size_t index, const char* what, int error) {
    std::fprintf(stderr, "pingpong: connection %zu: %s%s%s\n", index, what, error ? ": " : "",
                 error ? std::strerror(error) : "");
    std::fflush(stdout);
    std::_Exit(1);
  }

  // Sends directly while nothing is queued (the common case: the kernel takes
  // the whole echo); queues the rest and waits for EPOLLOUT otherwise.
  void send(size_t index, const char* data, size_t length) {
    Connection& connection = connections_[index];
    if (!connection.writing) {
      while (length > 0) {
        ssize_t written = ::send(connection.fd, data, length, MSG_NOSIGNAL);
        if (written < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN) break;
          fail(index, "send", errno);
        }
        data += written;
        length -= static_cast<size_t>(written);
      }
      if (length == 0) return;
      connection.writing = true;
      control(EPOLL_CTL_MOD, index, EPOLLIN | EPOLLOUT);
    }
    connection.pending.insert(connection.pending.end(), data, data + length);
  }

  void on_readable(size_t index) {
    Connection& connection = connections_[index];
    // Level-triggered: one read per wake-up; whatever is left wakes us again.
    ssize_t received;
    do {
      received = ::read(connection.fd, read_buffer_, sizeof read_buffer_);
    } while (received < 0 && errno == EINTR);
    if (received > 0) {
      // Only this thread writes the counters, so a plain load and store do;
      // atomics only so that the main thread may read them meanwhile.
      bytes_received_.store(bytes_received() + static_cast<uint64_t>(received),
                            std::memory_order_relaxed);
      messages_received_.store(messages_received() + 1, std::memory_order_relaxed);
      send(index, read_buffer_, static_cast<size_t>(received));
    } else if (received == 0) {
      fail(index, "server closed the connection", 0);
    } else if (errno != EAGAIN) {
      fail(index, "read", errno);
    }
  }

  void on_writable(size_t index) {
    Connection& connection = connections_[index];
    while (connection.pending_offset < connection.pending.size()) {
      ssize_t written = ::send(connection.fd, connection.pending.data() + connection.pending_offset,
                               connection.pending.size() - connection.pending_offset, MSG_NOSIGNAL);
      if (written < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        fail(index, "send", errno);
      }
      connection.pending_offset += static_cast<size_t>(written);
    }
    connection.pending.clear();
    connection.pending_offset = 0;
    connection.writing = false;
    control(EPOLL_CTL_MOD, index, EPOLLIN);
  }

  const Options& options_;
  const std::atomic<bool>& stop_;
  int epoll_fd_ = -1;
  std::vector<Connection> connections_;
  std::vector<epoll_event> events_;
  // Own cache lines: the main thread reads them while this thread writes.
  alignas(64) std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> messages_received_{0};
  alignas(64) char read_buffer_[64 * 1024];
};

void report(const Options& options, uint64_t bytes, uint64_t messages, double seconds,
            double client_cpu_seconds, double server_cpu_seconds) {
  const double mib_per_second = static_cast<double>(bytes) / seconds / (1024.0 * 1024.0);
  std::printf(
      "pingpong: 127.0.0.1:%u, %d connections x %zu bytes, %d client thread%s, %.3f s measured "
      "after %.1f s warm-up\n",
      options.port, options.connections, options.size, options.threads,
      options.threads == 1 ? "" : "s", seconds, options.warmup_seconds);
  std::printf("received %" PRIu64 " bytes in %" PRIu64 " messages (%.0f bytes/message)\n", bytes,
              messages,
              messages ? static_cast<double>(bytes) / static_cast<double>(messages) : 0.0);
  std::printf("cpu: client %.0f%%", 100 * client_cpu_seconds / seconds);
  if (server_cpu_seconds >= 0) std::printf(", server %.0f%%", 100 * server_cpu_seconds / seconds);
  std::printf(" of one core\n");
  std::printf("throughput: %.2f MiB/s\n", mib_per_second);
  std::fflush(stdout);
  if (bytes == 0) die("no bytes came back during the measurement");
}

struct Totals {
  uint64_t bytes = 0;
  uint64_t messages = 0;
};

Totals totals(const std::vector<std::unique_ptr<Client>>& clients) {
  Totals sum;
  for (const auto& client : clients) {
    sum.bytes += client->bytes_received();
    sum.messages += client->messages_received();
  }
  return sum;
}

Clock::duration to_duration(double seconds) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  raise_descriptor_limit(options.connections);

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Client>> clients;
  const auto thread_count = static_cast<size_t>(options.threads);
  const auto connection_count = static_cast<size_t>(options.connections);
  for (size_t t = 0; t < thread_count; ++t) {
    const size_t share = connection_count / thread_count + (t < connection_count % thread_count);
    clients.push_back(std::make_unique<Client>(options, share, stop));
  }
  // Every connection is up before the clock starts, so setting up C=1000 is
  // never measured.
  for (auto& client : clients) client->connect_all();

  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& client : clients) threads.emplace_back([&client] { client->run(); });

  std::this_thread::sleep_until(start + to_duration(options.warmup_seconds));
  const auto measured_from = Clock::now();
  const Totals at_start = totals(clients);
  const double client_cpu_at_start = process_cpu_seconds(0);
  const double server_cpu_at_start =
      options.server_pid ? process_cpu_seconds(options.server_pid) : -1;

  std::this_thread::sleep_until(measured_from + to_duration(options.seconds));
  const auto measured_to = Clock::now();
  const Totals at_end = totals(clients);
  const double client_cpu = process_cpu_seconds(0) - client_cpu_at_start;
  double server_cpu = -1;
  if (server_cpu_at_start >= 0) {
    const double server_cpu_now = process_cpu_seconds(options.server_pid);
    if (server_cpu_now >= 0) server_cpu = server_cpu_now - server_cpu_at_start;
  }

  stop.store(true, std::memory_order_relaxed);
  for (std::thread& thread : threads) thread.join();
  report(options, at_end.bytes - at_start.bytes, at_end.messages - at_start.messages,
         std::chrono::duration<double>(measured_to - measured_from).count(), client_cpu,
         server_cpu);
  return 0;
}
