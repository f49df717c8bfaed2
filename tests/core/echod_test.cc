// Integration tests against the real reactor-echod process: many clients,
// a large transfer through a slow reader (backpressure), half-close, peer
// reset, signals, and running out of descriptors.
#include <dirent.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "tests/core/core_test_support.h"
#include "tests/support/cli_help.h"
#include "tests/support/process.h"
#include "tests/support/time_scale.h"

using namespace std::chrono_literals;
using core_test::SteadyClock;
using reactor::UniqueFd;
using test_support::ChildProcess;

namespace {

std::unique_ptr<ChildProcess> start_echod(std::vector<std::string> prefix = {},
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = std::move(prefix);
  argv.push_back(test_support::program_from_env("REACTOR_ECHOD"));
  for (const char* arg : {"0", "--bind", "127.0.0.1"}) argv.push_back(arg);
  for (auto& arg : extra) argv.push_back(std::move(arg));
  return std::make_unique<ChildProcess>(argv);
}

// AddressSanitizer keeps freed memory in a quarantine (256 MiB by default)
// to catch use-after-free, which makes RSS say nothing about how much the
// server really holds. A small quarantine keeps the memory check meaningful
// in the sanitizer build; elsewhere this is start_echod().
std::unique_ptr<ChildProcess> start_echod_with_small_asan_quarantine() {
  // One loop: what is measured is the queue bound of a connection, and a
  // second loop thread's malloc arena would count as growth.
  const std::vector<std::string> one_loop = {"--threads", "1"};
#if defined(__SANITIZE_ADDRESS__)
  const char* inherited = std::getenv("ASAN_OPTIONS");
  std::string saved = inherited != nullptr ? inherited : "";
  std::string options = saved.empty() ? "" : saved + ":";
  ::setenv("ASAN_OPTIONS", (options + "quarantine_size_mb=4").c_str(), 1);
  auto echod = start_echod({}, one_loop);
  if (inherited != nullptr) {
    ::setenv("ASAN_OPTIONS", saved.c_str(), 1);
  } else {
    ::unsetenv("ASAN_OPTIONS");
  }
  return echod;
#else
  return start_echod({}, one_loop);
#endif
}

reactor::SocketAddress echod_address(ChildProcess& echod) {
  return core_test::loopback(static_cast<uint16_t>(echod.wait_for_port()));
}

// User + system CPU time of a process, from /proc/PID/stat.
double cpu_seconds(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name (field 2) may contain spaces; fields resume after ')'.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int index = 3; fields >> field; ++index) {
    if (index == 14) utime = std::stol(field);
    if (index == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

size_t open_descriptor_count(pid_t pid) {
  size_t count = 0;
  DIR* directory = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (directory == nullptr) return 0;
  while (dirent* entry = ::readdir(directory)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(directory);
  return count;
}

// Sends `data` while reading the echo (so neither side can block the
// other), optionally half-closes once everything is sent, and returns what
// came back; eof tells whether the server then closed.
core_test::ReadResult echo_exchange(int fd, const std::string& data, bool half_close,
                                    std::chrono::milliseconds timeout = 30s) {
  auto deadline = SteadyClock::now() + timeout;
  core_test::ReadResult result;
  size_t sent = 0;
  bool shut = false;
  std::string chunk(256 * 1024, '\0');
  while (SteadyClock::now() < deadline) {
    if (sent == data.size() && half_close && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    bool want_eof = half_close;
    if (result.data.size() >= data.size() && !want_eof) break;
    pollfd entry{fd, static_cast<short>(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
    if (::poll(&entry, 1, 100) <= 0) continue;
    if (sent < data.size() && (entry.revents & POLLOUT)) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (entry.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n > 0) {
        result.data.append(chunk.data(), static_cast<size_t>(n));
      } else if (n == 0) {
        result.eof = true;
        return result;
      } else if (errno != EAGAIN && errno != EINTR) {
        result.error = errno;
        return result;
      }
    }
  }
  result.timed_out = SteadyClock::now() >= deadline;
  return result;
}

struct EchoClient {
  UniqueFd fd;
  std::string payload;
  size_t sent = 0;
  std::string received;
  bool failed = false;
};

}  // namespace

TEST_CASE("reactor-echod serves 1,000 concurrent clients byte-exact") {
  constexpr size_t kClients = 1000;
  // The test holds 1,000 sockets and so does the server (which inherits
  // the limit): 1,024 would be too tight for both.
  REQUIRE(core_test::raise_descriptor_limit(4096) >= 2 * kClients + 100);
  auto echod = start_echod();
  reactor::SocketAddress server = echod_address(*echod);
  const size_t server_baseline = open_descriptor_count(echod->pid());

  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  REQUIRE(epoll);
  std::vector<EchoClient> clients(kClients);
  for (size_t i = 0; i < kClients; ++i) {
    EchoClient& client = clients[i];
    // Different sizes and contents per client: a mix-up between clients
    // cannot go unnoticed.
    client.payload = core_test::pattern(512 + (i * 37) % 3000, i * 7919);
    client.fd = core_test::connect_client(server, 0, /*non_blocking=*/true);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT;  // level-triggered: simplest for a test client
    event.data.u64 = i;
    REQUIRE(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, client.fd.get(), &event) == 0);
  }

  size_t complete = 0;
  size_t failed = 0;
  auto deadline = SteadyClock::now() + 60s;
  std::vector<epoll_event> events(256);
  std::string chunk(64 * 1024, '\0');
  while (complete + failed < kClients && SteadyClock::now() < deadline) {
    int count = ::epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < count; ++e) {
      EchoClient& client = clients[events[static_cast<size_t>(e)].data.u64];
      uint32_t ready = events[static_cast<size_t>(e)].events;
      if (client.failed) continue;
      if ((ready & EPOLLOUT) && client.sent < client.payload.size()) {
        ssize_t n = ::send(client.fd.get(), client.payload.data() + client.sent,
                           client.payload.size() - client.sent, MSG_NOSIGNAL);
        if (n > 0) client.sent += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN) client.failed = true;
        if (client.sent == client.payload.size()) {
          epoll_event event{};
          event.events = EPOLLIN;
          event.data.u64 = events[static_cast<size_t>(e)].data.u64;
          ::epoll_ctl(epoll.get(), EPOLL_CTL_MOD, client.fd.get(), &event);
        }
      }
      if (ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = ::recv(client.fd.get(), chunk.data(), chunk.size(), 0);
        if (n > 0) {
          client.received.append(chunk.data(), static_cast<size_t>(n));
          if (client.received.size() >= client.payload.size()) {
            // Done, but stays connected: all 1,000 are open at once.
            ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, client.fd.get(), nullptr);
            ++complete;
          }
        } else if (n == 0 || errno != EAGAIN) {
          client.failed = true;
        }
      }
      if (client.failed) {
        ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, client.fd.get(), nullptr);
        ++failed;
      }
    }
  }
  CHECK(failed == 0);
  CHECK(complete == kClients);
  size_t exact = 0;
  for (const auto& client : clients) exact += client.received == client.payload ? 1 : 0;
  CHECK(exact == kClients);
  // The server really held them all at the same time.
  CHECK(open_descriptor_count(echod->pid()) >= server_baseline + kClients);

  clients.clear();
  // ...and lets every one of them go.
  auto settle = SteadyClock::now() + 10s;
  while (open_descriptor_count(echod->pid()) > server_baseline && SteadyClock::now() < settle) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(open_descriptor_count(echod->pid()) == server_baseline);
  CHECK(echod->running());
}

TEST_CASE("64 MiB echoed through a slow reader arrives byte-exact with bounded server memory") {
  constexpr size_t kTotal = 64 * 1024 * 1024;
  // The reader takes at most this many bytes per second; the writer is not
  // limited, so without backpressure the server would queue tens of MiB.
  constexpr double kReadBytesPerSecond = 24.0 * 1024 * 1024;
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer's shadow memory adds to every page the server touches;
  // without backpressure the queue alone (tens of MiB, shadowed) would
  // still exceed this.
  constexpr long kAllowedGrowthKib = 3 * 32 * 1024;
#else
  constexpr long kAllowedGrowthKib = 32 * 1024;
#endif

  auto echod = start_echod_with_small_asan_quarantine();
  reactor::SocketAddress server = echod_address(*echod);
  UniqueFd client = core_test::connect_client(server, 0, /*non_blocking=*/true);
  {
    pollfd entry{client.get(), POLLOUT, 0};
    REQUIRE(::poll(&entry, 1, 5000) == 1);
  }
  const long baseline_kib = echod->memory_kib();
  REQUIRE(baseline_kib > 0);
  long peak_kib = baseline_kib;

  const std::string& block = core_test::pattern_block();
  size_t sent = 0;
  size_t received = 0;
  bool exact = true;
  bool connection_failed = false;
  std::string chunk(256 * 1024, '\0');
  auto started = SteadyClock::now();
  auto deadline = started + 90s;
  auto next_sample = started;
  while (received < kTotal && !connection_failed && SteadyClock::now() < deadline) {
    auto now = SteadyClock::now();
    double elapsed = std::chrono::duration<double>(now - started).count();
    size_t allowed = static_cast<size_t>(elapsed * kReadBytesPerSecond) + chunk.size();
    bool may_read = received < allowed;
    short interest = static_cast<short>((sent < kTotal ? POLLOUT : 0) | (may_read ? POLLIN : 0));
    pollfd entry{client.get(), interest, 0};
    ::poll(&entry, 1, 5);
    if (sent < kTotal && (entry.revents & POLLOUT)) {
      size_t offset = sent % block.size();
      size_t length = std::min({kTotal - sent, block.size() - offset, size_t{256 * 1024}});
      ssize_t n = ::send(client.get(), block.data() + offset, length, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) sent += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) connection_failed = true;
    }
    if (may_read && (entry.revents & (POLLIN | POLLHUP | POLLERR))) {
      size_t want = std::min(chunk.size(), allowed - received);
      ssize_t n = ::recv(client.get(), chunk.data(), want, MSG_DONTWAIT);
      if (n > 0) {
        exact = exact && core_test::matches_pattern(
                             std::string_view(chunk.data(), static_cast<size_t>(n)), received);
        received += static_cast<size_t>(n);
      } else if (n == 0 || errno != EAGAIN) {
        connection_failed = true;
      }
    }
    if (now >= next_sample) {
      peak_kib = std::max(peak_kib, echod->memory_kib());
      next_sample = now + 20ms;
      echod->output();  // keep the log pipe drained
    }
  }
  long high_water_kib = echod->memory_kib(/*current=*/false);
  CHECK_FALSE(connection_failed);
  CHECK(sent == kTotal);
  CHECK(received == kTotal);
  CHECK(exact);
  MESSAGE("server RSS baseline " << baseline_kib << " KiB, peak sampled " << peak_kib
                                 << " KiB, VmHWM " << high_water_kib << " KiB");
  CHECK(peak_kib - baseline_kib < kAllowedGrowthKib);
  CHECK(high_water_kib - baseline_kib < kAllowedGrowthKib);
}

TEST_CASE("half-close: the client gets everything it sent, then EOF") {
  auto echod = start_echod();
  reactor::SocketAddress server = echod_address(*echod);
  UniqueFd client = core_test::connect_client(server);
  const std::string data = core_test::pattern(3 * 1024 * 1024 + 5, 21);
  core_test::ReadResult result = echo_exchange(client.get(), data, /*half_close=*/true);
  CHECK_FALSE(result.timed_out);
  CHECK(result.error == 0);
  CHECK(result.eof);
  CHECK(result.data.size() == data.size());
  CHECK(core_test::difference(result.data, data) == "");
}

TEST_CASE("a client that resets mid-write does not disturb the server") {
  auto echod = start_echod();
  reactor::SocketAddress server = echod_address(*echod);
  const size_t baseline_descriptors = open_descriptor_count(echod->pid());

  // Tiny receive buffer, never reads: the server's echo backs up.
  UniqueFd rude = core_test::connect_client(server, 4096, /*non_blocking=*/true);
  const std::string piece = core_test::pattern(64 * 1024);
  size_t pushed = 0;
  auto push_deadline = SteadyClock::now() + 10s;
  // Until the server stops reading (backpressure) and our sends stall.
  int stalls = 0;
  while (pushed < 64u * 1024 * 1024 && stalls < 20 && SteadyClock::now() < push_deadline) {
    ssize_t n = ::send(rude.get(), piece.data(), piece.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pushed += static_cast<size_t>(n);
      stalls = 0;
    } else {
      REQUIRE(errno == EAGAIN);
      ++stalls;
      pollfd entry{rude.get(), POLLOUT, 0};
      ::poll(&entry, 1, 20);
    }
  }
  CHECK(pushed > 1024 * 1024);  // the server had echo queued when we left
  core_test::reset_connection(rude);

  UniqueFd polite = core_test::connect_client(server);
  const std::string data = core_test::pattern(1024 * 1024, 5);
  core_test::ReadResult result = echo_exchange(polite.get(), data, /*half_close=*/false);
  CHECK(core_test::difference(result.data, data) == "");
  polite.reset();
  CHECK(echod->running());

  // Both connections are gone on the server side too.
  auto settle = SteadyClock::now() + 5s;
  while (open_descriptor_count(echod->pid()) > baseline_descriptors &&
         SteadyClock::now() < settle) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(open_descriptor_count(echod->pid()) == baseline_descriptors);
}

TEST_CASE("SIGINT and SIGTERM shut reactor-echod down with exit code 0") {
  for (int signal_number : {SIGINT, SIGTERM}) {
    for (bool with_client : {false, true}) {
      CAPTURE(signal_number);
      CAPTURE(with_client);
      auto echod = start_echod();
      reactor::SocketAddress server = echod_address(*echod);
      UniqueFd client;
      if (with_client) {
        client = core_test::connect_client(server);
        core_test::ReadResult echoed = echo_exchange(client.get(), "before the signal", false);
        REQUIRE(echoed.data == "before the signal");
      }
      echod->send_signal(signal_number);
      if (with_client) {
        // The server says goodbye with a FIN; we answer with ours.
        core_test::ReadResult result = core_test::read_until_eof(client.get(), 10s);
        CHECK(result.eof);
        client.reset();
      }
      int status = echod->wait_exit(15s);
      CHECK_MESSAGE(status == 0, "output:\n" << echod->output());
    }
  }
}

TEST_CASE("out of descriptors (EMFILE): no spinning, and service resumes") {
  REQUIRE_MESSAGE(::access("/usr/bin/prlimit", X_OK) == 0, "needs prlimit (util-linux)");
  constexpr int kDescriptorLimit = 32;
  // One loop: the spare-descriptor trick is one acceptor's. With several
  // loops they share the process's descriptors, and another loop may take
  // the one a loop just freed to shed a client; that client then waits in
  // the backlog for the acceptor's retry instead of being shed at once.
  auto echod = start_echod({"/usr/bin/prlimit", "--nofile=32:32", "--"}, {"--threads", "1"});
  reactor::SocketAddress server = echod_address(*echod);
  const size_t baseline_descriptors = open_descriptor_count(echod->pid());

  // More clients than the server has descriptors for.
  constexpr int kClients = 2 * kDescriptorLimit;
  std::vector<UniqueFd> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(core_test::connect_client(server));
  std::vector<UniqueFd> served;
  int refused = 0;
  for (int i = 0; i < kClients; ++i) {
    std::string hello = "hello " + std::to_string(i);
    bool sent = core_test::write_all(clients[static_cast<size_t>(i)].get(), hello);
    core_test::ReadResult result =
        core_test::read_bytes(clients[static_cast<size_t>(i)].get(), hello.size(), 2s);
    if (sent && result.data == hello) {
      served.push_back(std::move(clients[static_cast<size_t>(i)]));
    } else {
      // Shed: closed by the server at once instead of left hanging.
      CHECK((result.eof || result.error == ECONNRESET || !sent));
      ++refused;
    }
    echod->output();
  }
  MESSAGE(served.size() << " clients served, " << refused << " shed");
  CHECK(served.size() >= 10);
  CHECK(refused >= 1);
  CHECK(served.size() + static_cast<size_t>(refused) == kClients);

  // Saturated, with new clients knocking: the server must sleep, not spin.
  // Scaled together, the window and the CPU bound keep their ratio (30 %):
  // a sanitizer build spends more CPU per wake-up, a spinning server all of it.
  const auto window = test_support::scaled(1s);
  double cpu_before = cpu_seconds(echod->pid());
  auto window_end = SteadyClock::now() + window;
  std::vector<UniqueFd> knocking;
  while (SteadyClock::now() < window_end) {
    knocking.push_back(core_test::connect_client(server));
    std::this_thread::sleep_for(50ms);
    echod->output();
  }
  double cpu_used = cpu_seconds(echod->pid()) - cpu_before;
  MESSAGE("server CPU time over " << window.count() << " ms while saturated: " << cpu_used << " s");
  CHECK(cpu_used < 0.3 * test_support::time_scale());
  // The knocking clients were told "no" (closed), not left hanging.
  for (auto& fd : knocking) {
    core_test::ReadResult result = core_test::read_until_eof(fd.get(), 2s);
    CHECK((result.eof || result.error == ECONNRESET));
  }
  knocking.clear();
  CHECK(echod->running());

  // Capacity comes back: served clients leave, new ones are served. A
  // client arriving in the very batch that frees the descriptors may still
  // be shed, so wait until the server has closed its side.
  served.clear();
  clients.clear();
  auto settle = SteadyClock::now() + 5s;
  while (open_descriptor_count(echod->pid()) > baseline_descriptors &&
         SteadyClock::now() < settle) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(open_descriptor_count(echod->pid()) == baseline_descriptors);
  std::vector<UniqueFd> returning;
  bool all_served = true;
  for (int i = 0; i < 10; ++i) {
    returning.push_back(core_test::connect_client(server));
    std::string hello = "back " + std::to_string(i);
    core_test::ReadResult result = echo_exchange(returning.back().get(), hello, false, 5s);
    if (result.data != hello) all_served = false;
  }
  CHECK(all_served);
}

namespace {

// Runs reactor-echod with exactly `args` and waits for it to exit.
std::pair<int, std::string> run_echod_to_exit(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {test_support::program_from_env("REACTOR_ECHOD")};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess echod(argv);
  const int status = echod.wait_exit(test_support::scaled(10s));
  return {status, echod.output()};
}

// A client that sends without reading until the server's echo can no
// longer leave: output stays queued in reactor-echod.
UniqueFd stuck_client(const reactor::SocketAddress& server) {
  UniqueFd client = core_test::connect_client(server, 4096, /*non_blocking=*/true);
  pollfd writable{client.get(), POLLOUT, 0};
  REQUIRE(::poll(&writable, 1, static_cast<int>(test_support::scaled(5s).count())) == 1);
  const std::string chunk(64 * 1024, 'x');
  size_t sent = 0;
  // Until the send buffer stays full for a while: both directions clogged.
  for (int quiet_rounds = 0; quiet_rounds < 5 && sent < (256u << 20);) {
    const ssize_t n = ::send(client.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      quiet_rounds = 0;
    } else {
      ++quiet_rounds;
      std::this_thread::sleep_for(20ms);
    }
  }
  REQUIRE(sent > 0);
  return client;
}

}  // namespace

TEST_CASE("reactor-echod --help explains every option; bad arguments exit 2 with one line") {
  const auto [help_status, help] = run_echod_to_exit({"--help"});
  CHECK(help_status == 0);
  const auto listed = test_support::options_in_help(help);
  std::vector<std::string> names;
  for (const auto& [name, explanation] : listed) {
    names.push_back(name);
    CAPTURE(name);
    CHECK(explanation.size() >= 10);
  }
  CHECK(names == std::vector<std::string>{"--bind", "--grace", "--help", "--idle-timeout",
                                          "--log-level", "--max-connections", "--threads",
                                          "--version", "PORT"});
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"99999"},
      {"eighty"},
      {"0", "--idle-timeout", "-1"},
      {"0", "--grace", "soon"},
      {"0", "--bind", "localhost"},
      {"0", "--log-level", "loud"},
      {"0", "--no-such-option"},
  };
  for (const auto& args : bad) {
    const auto [status, output] = run_echod_to_exit(args);
    CAPTURE(output);
    CHECK(status == 2);
    CHECK(output.starts_with("reactor-echod: "));
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
  }
}

TEST_CASE("reactor-echod --version prints the version and exits 0, PORT or not") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"0", "--version"}}) {
    const auto [status, output] = run_echod_to_exit(args);
    CHECK(status == 0);
    CHECK(output.starts_with("reactor-echod 0."));
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
  }
}

TEST_CASE("reactor-echod --max-connections holds the next client until one leaves") {
  auto echod = start_echod({}, {"--max-connections", "1"});
  const reactor::SocketAddress server = echod_address(*echod);
  UniqueFd first = core_test::connect_client(server);
  REQUIRE(echo_exchange(first.get(), "first", false).data == "first");
  UniqueFd second = core_test::connect_client(server);  // in the kernel's backlog
  REQUIRE(core_test::write_all(second.get(), "second"));
  // Positive control: the admitted client is served meanwhile.
  CHECK(echo_exchange(first.get(), "again", false).data == "again");
  CHECK(core_test::read_bytes(second.get(), 6, 300ms).data.empty());
  first.reset();
  CHECK(core_test::read_bytes(second.get(), 6, test_support::scaled(5s)).data == "second");
  second.reset();
  echod->send_signal(SIGTERM);
  CHECK(echod->wait_exit(test_support::scaled(10s)) == 0);
}

TEST_CASE("reactor-echod --idle-timeout closes a silent client, not a talking one") {
  auto echod = start_echod({}, {"--idle-timeout", "1"});
  const reactor::SocketAddress server = echod_address(*echod);
  UniqueFd silent = core_test::connect_client(server);
  UniqueFd talking = core_test::connect_client(server);
  const auto started = SteadyClock::now();
  // The talker speaks every 300 ms for 2 s: twice the timeout, never idle.
  for (int i = 0; i < 7; ++i) {
    REQUIRE(echo_exchange(talking.get(), "hi", false).data == "hi");
    std::this_thread::sleep_for(300ms);
  }
  core_test::ReadResult silent_end =
      core_test::read_until_eof(silent.get(), test_support::scaled(5s));
  CHECK(silent_end.eof);
  CHECK(SteadyClock::now() - started >= 900ms);
  CHECK(echo_exchange(talking.get(), "still here", false).data == "still here");
  echod->send_signal(SIGTERM);
  CHECK(echod->wait_exit(test_support::scaled(10s)) == 0);
}

TEST_CASE("reactor-echod: --grace bounds the shutdown; a second signal exits at once") {
  SUBCASE("--grace 1 cuts off a client that never reads") {
    auto echod = start_echod({}, {"--grace", "1"});
    UniqueFd client = stuck_client(echod_address(*echod));
    const auto signalled = SteadyClock::now();
    echod->send_signal(SIGTERM);
    CHECK(echod->wait_exit(test_support::scaled(6s)) == 0);
    // It did wait for the client (up to the grace), rather than drop it.
    CHECK(SteadyClock::now() - signalled >= 900ms);
  }
  SUBCASE("a second SIGINT or SIGTERM exits at once") {
    for (int signal_number : {SIGINT, SIGTERM}) {
      CAPTURE(signal_number);
      auto echod = start_echod({}, {"--grace", "60"});
      UniqueFd client = stuck_client(echod_address(*echod));
      echod->send_signal(signal_number);
      REQUIRE(echod->wait_for_output("shutting down"));
      // Control: the first signal alone waits for the stuck client.
      CHECK(echod->wait_exit(500ms) == -1);
      echod->send_signal(signal_number);
      CHECK(echod->wait_exit(test_support::scaled(3s)) == 0);
    }
  }
}
