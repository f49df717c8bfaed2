// The example programs, run as real processes against real clients over
// 127.0.0.1. Each serving example is started on port 0, talked to, and
// ended with SIGTERM; ChildProcess kills anything left over.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/time_scale.h"

using namespace std::chrono_literals;
using test_support::ChildProcess;
using test_support::ClientSocket;
using test_support::program_from_env;
using test_support::run_command;

namespace {

// Reads into `seen` until it contains `text`; false after `timeout` or
// when the peer closes first.
bool wait_for_text(ClientSocket& socket, std::string& seen, std::string_view text,
                   std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (seen.find(text) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    std::string chunk = socket.receive_some(left);
    if (chunk.empty()) return false;
    seen += chunk;
  }
  return true;
}

// A port on which nothing listens (bound, then released).
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A directory under $TMPDIR that removes itself.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "reactor-examples-test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One HTTP/1.1 exchange on a fresh connection, which closes after it.
std::string http_exchange(int port, const std::string& target, const std::string& method = "GET") {
  ClientSocket client(port);
  REQUIRE(client.send_all(method + " " + target +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  return client.receive_until_close(5s);
}

std::string body_of(const std::string& response) {
  size_t end_of_head = response.find("\r\n\r\n");
  return end_of_head == std::string::npos ? std::string() : response.substr(end_of_head + 4);
}

// True if /proc/net/tcp lists a socket on local port `port` in TIME_WAIT.
bool time_wait_on_port(int port) {
  std::ifstream table("/proc/net/tcp");
  std::string line;
  std::getline(table, line);  // column titles
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (local.ends_with(wanted) && state == "06") return true;
  }
  return false;
}

void stop_cleanly(ChildProcess& server) {
  server.send_signal(SIGTERM);
  CHECK_MESSAGE(server.wait_exit(5s) == 0, "output:\n" << server.output());
}

}  // namespace

TEST_CASE("echo_server example echoes 32 MiB written before any is read back, exits on SIGTERM") {
  ChildProcess server({program_from_env("REACTOR_EXAMPLE_ECHO_SERVER"), "0"});
  int port = server.wait_for_port();

  ClientSocket client(port);
  REQUIRE(client.send_all("hello\n"));
  CHECK(client.receive_exactly(6, 5s) == "hello\n");

  // 32 MiB sent before anything is read back: far more than the 1 MiB
  // high-water mark plus every socket buffer on the way, so the server has
  // to pause reading from us and resume once we drain, losing nothing.
  std::string payload(32 * 1024 * 1024, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 23);
  bool sent = false;
  std::thread sender([&] { sent = client.send_all(payload); });
  std::this_thread::sleep_for(300ms);
  std::string echoed = client.receive_exactly(payload.size(), 20s);
  sender.join();
  CHECK(sent);
  CHECK(echoed.size() == payload.size());
  CHECK(echoed == payload);

  stop_cleanly(server);
}

TEST_CASE("echo_server example rebinds its port at once while old connections sit in TIME_WAIT") {
  int port = 0;
  {
    ChildProcess first({program_from_env("REACTOR_EXAMPLE_ECHO_SERVER"), "0"});
    port = first.wait_for_port();
    ClientSocket client(port);
    REQUIRE(client.send_all("x"));
    REQUIRE(client.receive_exactly(1, 5s) == "x");
    // The server closes first (it exits), so its side of the connection is
    // the one that waits out TIME_WAIT, holding the port.
    stop_cleanly(first);
    CHECK(client.closed_by_peer(5s));
  }
  REQUIRE_MESSAGE(time_wait_on_port(port), "no TIME_WAIT socket on the port; nothing to prove");

  // Without SO_REUSEADDR (Acceptor's constructor) this bind would fail with
  // EADDRINUSE for up to a minute.
  ChildProcess second({program_from_env("REACTOR_EXAMPLE_ECHO_SERVER"), std::to_string(port)});
  CHECK(second.wait_for_port() == port);
  ClientSocket client(port);
  REQUIRE(client.send_all("again\n"));
  CHECK(client.receive_exactly(6, 5s) == "again\n");
  stop_cleanly(second);
}

TEST_CASE("client example sends a line, prints the echo and exits 0 when the server closes") {
  ChildProcess server({program_from_env("REACTOR_EXAMPLE_ECHO_SERVER"), "0"});
  int port = server.wait_for_port();

  auto result = run_command(
      {program_from_env("REACTOR_EXAMPLE_CLIENT"), std::to_string(port), "ping pong"}, 10s);
  CHECK(result.status == 0);
  CHECK(result.out == "ping pong\n");

  stop_cleanly(server);
}

TEST_CASE("client example reports a refused connection with exit status 1") {
  auto result =
      run_command({program_from_env("REACTOR_EXAMPLE_CLIENT"), std::to_string(unused_port())}, 10s);
  CHECK(result.status == 1);
  CHECK(result.out.empty());
}

TEST_CASE("timers_and_post example runs its timers and the posted result, then exits") {
  auto result = run_command({program_from_env("REACTOR_EXAMPLE_TIMERS_AND_POST")}, 10s);
  const std::string& out = result.out;
  INFO("output:\n" << out);
  CHECK(result.status == 0);
  CHECK(out.find("run_after: 50 ms have passed\n") != std::string::npos);
  size_t tick1 = out.find("run_every: tick 1\n");
  size_t tick2 = out.find("run_every: tick 2\n");
  size_t tick3 = out.find("run_every: tick 3\n");
  CHECK(tick1 != std::string::npos);
  CHECK(tick2 != std::string::npos);
  CHECK(tick3 != std::string::npos);
  CHECK(tick1 < tick2);
  CHECK(tick2 < tick3);
  CHECK(out.find("run_every: tick 4") == std::string::npos);
  CHECK(out.find("never") == std::string::npos);
  CHECK(out.find("post: the worker computed 50000005000000; this line runs on the loop thread\n") !=
        std::string::npos);
  CHECK(out.ends_with("done\n"));
}

TEST_CASE("chat_server example broadcasts whole lines to the others only") {
  ChildProcess server({program_from_env("REACTOR_EXAMPLE_CHAT_SERVER"), "0"});
  int port = server.wait_for_port();

  ClientSocket alice(port);
  std::string alice_seen;
  REQUIRE(wait_for_text(alice, alice_seen, "* welcome, you are user1\n"));
  ClientSocket bob(port);
  std::string bob_seen;
  REQUIRE(wait_for_text(bob, bob_seen, "* welcome, you are user2\n"));
  CHECK(wait_for_text(alice, alice_seen, "* user2 joined\n"));

  // A line split across two writes (and two reads on the server) arrives
  // whole; two lines in one write arrive as two messages; CRLF is trimmed.
  REQUIRE(alice.send_all("hel"));
  // Half a line is not a message. Positive control: a whole line from a
  // third user, sent after alice's half, reaches bob, and nothing of
  // alice's came before it.
  ClientSocket carol(port);
  std::string carol_seen;
  REQUIRE(wait_for_text(carol, carol_seen, "* welcome, you are user3\n"));
  REQUIRE(carol.send_all("control\n"));
  REQUIRE(wait_for_text(bob, bob_seen, "[user3] control\n"));
  CHECK(bob_seen.find("[user1]") == std::string::npos);
  REQUIRE(alice.send_all("lo\r\nsecond line\n"));
  CHECK(wait_for_text(bob, bob_seen, "[user1] hello\n[user1] second line\n"));

  // Nothing comes back to the sender.
  REQUIRE(bob.send_all("hi alice\n"));
  CHECK(wait_for_text(alice, alice_seen, "[user2] hi alice\n"));
  CHECK(alice_seen.find("[user1]") == std::string::npos);

  // A disconnect is announced to the others.
  bob.shutdown_write();
  CHECK(wait_for_text(alice, alice_seen, "* user2 left\n"));

  stop_cleanly(server);
}

TEST_CASE("chat_server example drops a client that does not read instead of queueing for it") {
  ChildProcess server({program_from_env("REACTOR_EXAMPLE_CHAT_SERVER"), "0"});
  int port = server.wait_for_port();

  ClientSocket talker(port);
  std::string talker_seen;
  REQUIRE(wait_for_text(talker, talker_seen, "* welcome, you are user1\n"));
  ClientSocket sleeper(port);
  CHECK(wait_for_text(talker, talker_seen, "* user2 joined\n"));

  // 16 MiB of lines for a reader that never reads: far beyond what the
  // socket buffers hold, so the server would have to queue them; instead it
  // drops the sleeper once 64 KiB are queued for it.
  std::string line(1023, 'x');
  line += '\n';
  std::string burst;
  for (int i = 0; i < 1024; ++i) burst += line;
  bool sent = true;
  for (int i = 0; i < 16 && sent; ++i) sent = talker.send_all(burst);
  CHECK(sent);

  CHECK(wait_for_text(talker, talker_seen, "* user2 left\n", 10s));
  CHECK(server.wait_for_output("dropping user2", 5s));
  CHECK(sleeper.closed_by_peer(5s));
  // The talker itself is still welcome.
  ClientSocket late(port);
  std::string late_seen;
  CHECK(wait_for_text(late, late_seen, "* welcome, you are user3\n"));
  CHECK(wait_for_text(talker, talker_seen, "* user3 joined\n"));

  stop_cleanly(server);
}

TEST_CASE("http_embed example answers its routes next to the static files, on one connection") {
  TemporaryDirectory site;
  std::ofstream(site.path() / "hello.txt") << "hello from a file\n";
  std::filesystem::create_directory(site.path() / "docs");
  std::ofstream(site.path() / "docs" / "index.html") << "<h1>docs</h1>\n";

  ChildProcess server({program_from_env("REACTOR_EXAMPLE_HTTP_EMBED"), "0", site.path().string()});
  int port = server.wait_for_port();

  std::string file = http_exchange(port, "/hello.txt");
  CHECK(file.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(file.find("Content-Type: text/plain") != std::string::npos);
  CHECK(body_of(file) == "hello from a file\n");
  CHECK(body_of(http_exchange(port, "/docs/")) == "<h1>docs</h1>\n");

  // Error pages name the embedding program, not reactor-httpd.
  std::string missing = http_exchange(port, "/missing.txt");
  CHECK(missing.starts_with("HTTP/1.1 404 "));
  CHECK(missing.find("Server: http_embed\r\n") != std::string::npos);
  CHECK(missing.find("<p>http_embed</p>") != std::string::npos);
  CHECK(missing.find("reactor-httpd") == std::string::npos);
  // Climbing out is clamped to the root, where there is no etc/passwd.
  for (const char* climbing :
       {"/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/docs/../../etc/passwd"}) {
    CAPTURE(climbing);
    const std::string reply = http_exchange(port, climbing);
    CHECK(reply.starts_with("HTTP/1.1 404 "));
    CHECK(reply.find("root:") == std::string::npos);
  }
  CHECK(http_exchange(port, "/hello.txt", "DELETE").starts_with("HTTP/1.1 405 "));
  std::string wrong_method = http_exchange(port, "/api/echo", "PUT");
  CHECK(wrong_method.starts_with("HTTP/1.1 405 "));
  CHECK(wrong_method.find("Allow: POST\r\n") != std::string::npos);

  std::string status = http_exchange(port, "/api/status");
  CHECK(status.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(status.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(body_of(status).starts_with("{\"requests\": 1, \"connections\": 1}"));
  std::string head = http_exchange(port, "/api/status", "HEAD");
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(head.find("Content-Length: 34\r\n") != std::string::npos);
  CHECK(body_of(head).empty());

  // One connection, one write: an answer computed on a worker, a file, the
  // status route, a POST with a body. They come back in that order and
  // the connection stays open between them.
  ClientSocket client(port);
  const std::string host = "Host: 127.0.0.1\r\n";
  REQUIRE(client.send_all("GET /api/sum?n=1000000 HTTP/1.1\r\n" + host + "\r\n" +
                          "GET /hello.txt HTTP/1.1\r\n" + host + "\r\n" +
                          "GET /api/status HTTP/1.1\r\n" + host + "\r\n" +
                          "POST /api/echo HTTP/1.1\r\n" + host +
                          "Content-Type: text/plain\r\nContent-Length: 9\r\n"
                          "Connection: close\r\n\r\nthe body\n"));
  const std::string all = client.receive_until_close(test_support::scaled(10s));
  const size_t sum = all.find("\r\n\r\n500000500000\n");
  const size_t hello = all.find("\r\n\r\nhello from a file\n");
  const size_t counted = all.find("\r\n\r\n{\"requests\": 4, \"connections\": 1}\n");
  const size_t echoed = all.find("\r\n\r\nthe body\n");
  INFO(all);
  CHECK(sum != std::string::npos);
  CHECK(hello != std::string::npos);
  CHECK(counted != std::string::npos);
  CHECK(echoed != std::string::npos);
  CHECK(sum < hello);
  CHECK(hello < counted);
  CHECK(counted < echoed);
  CHECK(all.find("Connection: close") > counted);

  // curl: a chunked upload echoed, and a body over the 1 MiB limit refused.
  TemporaryDirectory upload;
  std::string payload;
  for (int i = 0; i < 10000; ++i) payload += "row " + std::to_string(i) + "\n";
  std::ofstream(upload.path() / "payload") << payload;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/echo";
  auto echo = run_command({"curl", "-s", "--max-time", "10", "-H", "Transfer-Encoding: chunked",
                           "--data-binary", "@" + (upload.path() / "payload").string(), url},
                          20s);
  CHECK(echo.status == 0);
  CHECK(echo.out == payload);
  std::ofstream(upload.path() / "big") << std::string(2 * 1024 * 1024, 'x');
  auto refused =
      run_command({"curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                   "--data-binary", "@" + (upload.path() / "big").string(), url},
                  20s);
  CHECK(refused.out == "413");

  // A head split into pieces is parsed across reads.
  ClientSocket slow(port);
  REQUIRE(slow.send_all("GET /hello.txt HT"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(slow.send_all("TP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"));
  std::this_thread::sleep_for(100ms);
  REQUIRE(slow.send_all("\r\n"));
  CHECK(body_of(slow.receive_until_close(5s)) == "hello from a file\n");

  stop_cleanly(server);
}

TEST_CASE("multi_loop_server example spreads clients over its loops and counts lines across them") {
  for (const char* balancing : {"reuseport", "hand-off"}) {
    CAPTURE(balancing);
    ChildProcess server(
        {program_from_env("REACTOR_EXAMPLE_MULTI_LOOP_SERVER"), "0", "2", balancing});
    const int port = server.wait_for_port();
    constexpr int kClients = 20;
    std::set<std::string> loops_seen;
    std::set<int> line_numbers;
    std::vector<ClientSocket> clients;
    for (int index = 0; index < kClients; ++index) {
      clients.emplace_back(port);
      REQUIRE(clients.back().send_all("hi\n"));
      const std::string answer = clients.back().receive_until("\n");
      // "loop K: line N of all\n"
      std::smatch fields;
      const std::regex shape(R"(loop (\d+): line (\d+) of all\n)");
      REQUIRE_MESSAGE(std::regex_match(answer, fields, shape), answer);
      loops_seen.insert(fields[1].str());
      line_numbers.insert(std::stoi(fields[2].str()));
    }
    // 20 clients on 2 loops: both serve some (the kernel's hash leaves one
    // idle with probability 2^-19; hand-off alternates).
    CHECK(loops_seen.size() == 2);
    // One counter shared by both loops: every line got its own number.
    CHECK(line_numbers.size() == kClients);
    CHECK(*line_numbers.rbegin() == kClients);
    clients.clear();
    stop_cleanly(server);
    CHECK(server.output().find("20 lines answered") != std::string::npos);
  }
}
