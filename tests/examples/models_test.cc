// The server models of examples/models/, run as real processes against
// real sockets on 127.0.0.1. Every model gets the same tests (echo, many
// clients, a half-close, abrupt disconnects, idle CPU, a large echo, clean
// exit on SIGTERM/SIGINT with no process left behind); then each model's
// own classic mistake gets a test of its own where one can be observed.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/time_scale.h"

using namespace std::chrono_literals;
using test_support::ChildProcess;
using test_support::ClientSocket;
using test_support::program_from_env;
using test_support::scaled;

namespace {

std::string model_path(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return program_from_env(("REACTOR_MODEL_" + name).c_str());
}

struct Server {
  explicit Server(const std::string& model, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{model_path(model), "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<ChildProcess>(argv);
    port = process->wait_for_port(scaled(10s));
  }
  std::unique_ptr<ChildProcess> process;
  int port = 0;
};

// Fields of /proc/PID/stat after the command name (which may hold spaces).
std::vector<std::string> stat_fields(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(file, line);
  std::vector<std::string> fields;
  auto end = line.rfind(')');
  if (end == std::string::npos) return fields;
  std::istringstream rest(line.substr(end + 2));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;  // [0] state, [1] ppid, ..., [11] utime, [12] stime
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    pid_t pid = std::stoi(name);
    auto fields = stat_fields(pid);
    if (fields.size() > 1 && std::stoi(fields[1]) == parent) children.push_back(pid);
  }
  return children;
}

int zombies_among(const std::vector<pid_t>& pids) {
  int zombies = 0;
  for (pid_t pid : pids) {
    auto fields = stat_fields(pid);
    if (!fields.empty() && fields[0] == "Z") ++zombies;
  }
  return zombies;
}

bool alive(pid_t pid) {
  return std::filesystem::exists("/proc/" + std::to_string(pid));
}

// CPU seconds used by the server and its live children (threads included).
double cpu_seconds(pid_t server) {
  std::vector<pid_t> pids = children_of(server);
  pids.push_back(server);
  double ticks = 0;
  for (pid_t pid : pids) {
    auto fields = stat_fields(pid);
    if (fields.size() > 12) ticks += std::stod(fields[11]) + std::stod(fields[12]);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU the server burns in `window` of wall time while nothing is asked of it.
double cpu_while_idle(pid_t server, std::chrono::milliseconds window = 1000ms) {
  double before = cpu_seconds(server);
  std::this_thread::sleep_for(window);
  return cpu_seconds(server) - before;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

void check_round_trip(int port, const std::string& text) {
  ClientSocket client(port);
  REQUIRE(client.send_all(text));
  CHECK(client.receive_exactly(text.size(), scaled(5s)) == text);
}

// Stops the server with `signo` and checks a clean exit: status 0, and
// every child process it had is gone with it.
void stop_cleanly(Server& server, int signo = SIGTERM) {
  const std::vector<pid_t> children = children_of(server.process->pid());
  server.process->send_signal(signo);
  CHECK(server.process->wait_exit(scaled(5s)) == 0);
  for (pid_t child : children) {
    CAPTURE(child);
    CHECK(eventually([&] { return !alive(child); }, scaled(2s)));
  }
}

// --- the tests every model gets -------------------------------------------

void check_echo_many_clients_and_exit(const std::string& model) {
  CAPTURE(model);
  // The pool serves as many clients at once as it has workers.
  Server server(
      model, model == "process_pool" ? std::vector<std::string>{"64"} : std::vector<std::string>{});
  check_round_trip(server.port, "hello, " + model + "\n");

  constexpr int kClients = 50;
  std::vector<ClientSocket> clients;
  if (model == "iterative") {
    // One at a time by design: each must leave before the next is served.
    for (int i = 0; i < kClients; ++i) check_round_trip(server.port, "serial " + std::to_string(i));
    clients.emplace_back(server.port);
    REQUIRE(clients.back().send_all("last"));
    CHECK(clients.back().receive_exactly(4, scaled(5s)) == "last");
  } else {
    for (int i = 0; i < kClients; ++i) clients.emplace_back(server.port);
    for (int i = 0; i < kClients; ++i) REQUIRE(clients[i].send_all("client " + std::to_string(i)));
    for (int i = 0; i < kClients; ++i) {
      const std::string expected = "client " + std::to_string(i);
      CAPTURE(i);
      CHECK(clients[i].receive_exactly(expected.size(), scaled(5s)) == expected);
    }
  }
  const pid_t pid = server.process->pid();
  if (model == "fork_per_client") {
    CHECK(eventually([&] { return children_of(pid).size() == kClients; }, scaled(3s)));
  }
  if (model == "process_pool") CHECK(children_of(pid).size() == 64);

  // SIGINT while clients are connected: exit 0, and they are all let go.
  stop_cleanly(server, SIGINT);
  for (auto& client : clients) CHECK(client.closed_by_peer(scaled(2s)));
}

void check_half_close(const std::string& model) {
  CAPTURE(model);
  Server server(model);
  ClientSocket client(server.port);
  const std::string text = "everything before the FIN\n";
  REQUIRE(client.send_all(text));
  client.shutdown_write();
  // The whole echo, then EOF: the server noticed read() == 0 and closed,
  // and no other process holds a copy of its socket.
  CHECK(client.receive_exactly(text.size(), scaled(5s)) == text);
  CHECK(client.closed_by_peer(scaled(3s)));
  check_round_trip(server.port, "still serving");
  stop_cleanly(server);
}

void check_abrupt_disconnects_and_idle_cpu(const std::string& model) {
  CAPTURE(model);
  Server server(model);
  const pid_t pid = server.process->pid();
  {
    // Idle clients must cost nothing (a loop that watches for writability
    // with nothing to write, or spins on something, shows up here).
    std::vector<ClientSocket> idle;
    for (int i = 0; i < 5; ++i) idle.emplace_back(server.port);
    if (model != "iterative") {
      for (auto& client : idle) REQUIRE(client.send_all("x"));
      for (auto& client : idle) CHECK(client.receive_exactly(1, scaled(5s)) == "x");
    }
    CHECK(cpu_while_idle(pid) < 0.25);
  }
  // Clients that vanish with a RST: after a round trip, right after
  // connecting, and with echo still owed to them.
  {
    ClientSocket client(server.port);
    REQUIRE(client.send_all("ping"));
    CHECK(client.receive_exactly(4, scaled(5s)) == "ping");
    client.reset();
  }
  ClientSocket(server.port).reset();
  {
    ClientSocket client(server.port);
    client.set_receive_buffer(4096);
    // As much as the kernel takes without blocking: the server owes it echo.
    const std::string bulk(256 * 1024, 'r');
    CHECK(::send(client.fd(), bulk.data(), bulk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0);
    pollfd echo_arrived{client.fd(), POLLIN, 0};  // the RST then finds echo owed
    CHECK(::poll(&echo_arrived, 1, static_cast<int>(scaled(5s).count())) == 1);
    client.reset();
  }
  // The server must neither spin on what they left behind (POLLHUP/EPOLLERR,
  // read() == 0) nor stop serving.
  check_round_trip(server.port, "after the resets");
  CHECK(cpu_while_idle(pid) < 0.25);
  check_round_trip(server.port, "still fine");
  stop_cleanly(server);
}

void check_large_echo(const std::string& model) {
  CAPTURE(model);
  Server server(model);
  ClientSocket client(server.port);
  std::string data(4 * 1024 * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7919) % 26);
  // Written and read at once: the echo of a short write must not be lost,
  // and the last bytes must come back without a new event to prompt them.
  bool sent = false;
  std::thread writer([&] { sent = client.send_all(data); });
  std::string echoed = client.receive_exactly(data.size(), scaled(30s));
  writer.join();
  CHECK(sent);
  CHECK(echoed.size() == data.size());
  CHECK(echoed == data);
  stop_cleanly(server);
}

void check_stop_while_busy(const std::string& model) {
  CAPTURE(model);
  Server server(model);
  ClientSocket client(server.port);
  // One client keeps the server busy for as long as it lives: something to
  // read or write is always ready, so the server's wait never sleeps.
  std::atomic<bool> done{false};
  std::atomic<size_t> echoed{0};
  std::thread writer([&] {
    const std::string chunk(64 * 1024, 'b');
    while (!done && client.send_all(chunk)) {
    }
  });
  std::thread reader([&] {
    while (!done) {
      std::string got = client.receive_some(100ms);
      if (got.empty() && !done) {
        pollfd entry{client.fd(), POLLIN, 0};
        if (::poll(&entry, 1, 0) == 1) break;  // EOF or reset, not a timeout
      }
      echoed += got.size();
    }
  });
  CHECK(eventually([&] { return echoed > 4 * 1024 * 1024; }, scaled(10s)));
  server.process->send_signal(SIGTERM);
  const int status = server.process->wait_exit(scaled(3s));
  done = true;
  if (status != 0) server.process->send_signal(SIGKILL);
  server.process->wait_exit(scaled(5s));
  client.shutdown_write();
  writer.join();
  reader.join();
  CHECK(status == 0);
}

}  // namespace

#define MODEL_TESTS(model)                                                                   \
  TEST_CASE(#model ": echoes, serves 50 clients, exits 0 on SIGINT with none left behind") { \
    check_echo_many_clients_and_exit(#model);                                                \
  }                                                                                          \
  TEST_CASE(#model ": a half-closing client gets its whole echo, then EOF") {                \
    check_half_close(#model);                                                                \
  }                                                                                          \
  TEST_CASE(#model ": idle and reset clients cost no CPU and stop no one") {                 \
    check_abrupt_disconnects_and_idle_cpu(#model);                                           \
  }                                                                                          \
  TEST_CASE(#model ": 4 MiB written while reading comes back byte-exact") {                  \
    check_large_echo(#model);                                                                \
  }                                                                                          \
  TEST_CASE(#model ": SIGTERM stops it while a client keeps it busy") {                      \
    check_stop_while_busy(#model);                                                           \
  }

MODEL_TESTS(iterative)
MODEL_TESTS(fork_per_client)
MODEL_TESTS(thread_per_client)
MODEL_TESTS(process_pool)
MODEL_TESTS(select)
MODEL_TESTS(poll)
MODEL_TESTS(epoll_lt)
MODEL_TESTS(epoll_et)
MODEL_TESTS(reactor)

// --- each model's own limit or classic mistake --------------------------------

TEST_CASE("iterative: a second client waits until the first has gone") {
  Server server("iterative");
  ClientSocket first(server.port);
  REQUIRE(first.send_all("1"));
  CHECK(first.receive_exactly(1, scaled(5s)) == "1");
  ClientSocket second(server.port);  // connect() succeeds: the backlog holds it
  REQUIRE(second.send_all("2"));
  CHECK(second.receive_some(300ms).empty());
  first.shutdown_write();
  CHECK(first.closed_by_peer(scaled(5s)));
  CHECK(second.receive_exactly(1, scaled(5s)) == "2");
  stop_cleanly(server);
}

TEST_CASE("fork_per_client: clients that leave together leave no zombie") {
  Server server("fork_per_client");
  const pid_t pid = server.process->pid();
  {
    std::vector<ClientSocket> clients;
    for (int i = 0; i < 30; ++i) clients.emplace_back(server.port);
    for (auto& client : clients) REQUIRE(client.send_all("z"));
    for (auto& client : clients) CHECK(client.receive_exactly(1, scaled(5s)) == "z");
    CHECK(children_of(pid).size() == 30);
  }  // all 30 close at once: their SIGCHLDs merge
  CHECK(eventually([&] { return children_of(pid).empty(); }, scaled(3s)));
  INFO("zombies left: " << zombies_among(children_of(pid)));
  CHECK(zombies_among(children_of(pid)) == 0);
  // A later SIGCHLD must not be needed to collect them: still none after
  // one more client comes and goes.
  check_round_trip(server.port, "one more");
  CHECK(eventually([&] { return children_of(pid).empty(); }, scaled(3s)));
  stop_cleanly(server);
}

TEST_CASE("process_pool: two workers serve ten clients in turn; a dead worker is replaced") {
  Server server("process_pool", {"2"});
  const pid_t pid = server.process->pid();
  CHECK(children_of(pid).size() == 2);
  // Ten clients at once, each leaving after its echo: the eight beyond the
  // workers wait in the backlog and are served as workers free up.
  std::vector<std::thread> clients;
  std::vector<int> answered(10, 0);
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&, i] {
      ClientSocket client(server.port);
      const std::string text = "turn " + std::to_string(i);
      if (!client.send_all(text)) return;
      answered[i] = client.receive_exactly(text.size(), scaled(10s)) == text;
    });
  }
  for (auto& thread : clients) thread.join();
  CHECK(std::count(answered.begin(), answered.end(), 1) == 10);

  // A worker holds stdin, stdout, stderr and its channel, nothing else: no
  // sibling's channel, no listening socket (not even a replacement worker).
  auto descriptors = [](pid_t worker) {
    auto entries = std::filesystem::directory_iterator("/proc/" + std::to_string(worker) + "/fd");
    return std::distance(begin(entries), end(entries));
  };
  const std::vector<pid_t> workers = children_of(pid);
  REQUIRE(workers.size() == 2);
  for (pid_t worker : workers) CHECK(descriptors(worker) == 4);
  ::kill(workers[0], SIGKILL);
  CHECK(eventually([&] { return !alive(workers[0]); }, scaled(3s)));
  CHECK(eventually([&] { return children_of(pid).size() == 2; }, scaled(3s)));
  for (pid_t worker : children_of(pid)) CHECK(descriptors(worker) == 4);
  // Both workers serve at once again (two clients held open together).
  ClientSocket a(server.port), b(server.port);
  REQUIRE(a.send_all("a"));
  REQUIRE(b.send_all("b"));
  CHECK(a.receive_exactly(1, scaled(5s)) == "a");
  CHECK(b.receive_exactly(1, scaled(5s)) == "b");
  stop_cleanly(server);
}

TEST_CASE("select: a client whose descriptor would be >= FD_SETSIZE is refused, not FD_SET") {
  // Start the server with descriptors 3..~1015 taken (inherited), so its
  // clients' descriptors cross 1024 after a few connections.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 4096);
  setrlimit(RLIMIT_NOFILE, &limit);
  REQUIRE(limit.rlim_cur >= 1100);
  int devnull = ::open("/dev/null", O_RDONLY);  // inheritable on purpose
  REQUIRE(devnull >= 0);
  std::vector<int> fillers;
  for (int fd = devnull; fd < 1015 && fd >= 0;) fillers.push_back(fd = ::dup(devnull));
  Server server("select");
  for (int fd : fillers) ::close(fd);
  ::close(devnull);

  int served = 0, refused = 0;
  std::vector<ClientSocket> clients;
  for (int i = 0; i < 24; ++i) {
    clients.emplace_back(server.port);
    REQUIRE(clients.back().send_all("s"));
    std::string answer = clients.back().receive_some(scaled(2s));
    if (answer == "s")
      ++served;
    else if (answer.empty())
      ++refused;
  }
  INFO("served " << served << ", refused " << refused);
  CHECK(served >= 1);
  CHECK(refused >= 8);
  CHECK(served + refused == 24);
  CHECK(server.process->output().find("FD_SETSIZE") != std::string::npos);
  CHECK(server.process->running());
  // Descriptors below 1024 come free again when served clients leave.
  clients.clear();
  CHECK(eventually(
      [&] {
        ClientSocket client(server.port);
        return client.send_all("again") && client.receive_exactly(5, 500ms) == "again";
      },
      scaled(5s)));
  stop_cleanly(server);
}

TEST_CASE("udp_echo: datagrams come back whole, one for one, and SIGTERM exits 0") {
  Server server("udp_echo");
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval timeout{static_cast<time_t>(scaled(5s).count() / 1000), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(server.port));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  const std::vector<std::string> datagrams{"one", std::string(1200, 'b'), "", "three!",
                                           std::string(60000, 'c')};
  for (const auto& datagram : datagrams) {
    REQUIRE(::send(fd, datagram.data(), datagram.size(), 0) ==
            static_cast<ssize_t>(datagram.size()));
  }
  char buffer[65536];
  for (const auto& datagram : datagrams) {
    ssize_t received = ::recv(fd, buffer, sizeof buffer, 0);
    REQUIRE(received >= 0);
    CHECK(std::string(buffer, static_cast<size_t>(received)) == datagram);
  }
  ::close(fd);
  stop_cleanly(server);
}
