// reactor-httpd --threads N: one loop per thread behind one port. What the
// loops share must hold across them: the connection limit, the access log
// (one file, whole lines), the graceful stop.
#include <dirent.h>
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/http/httpd_fixture.h"
#include "tests/http/site_builder.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/wait.h"

using namespace http_test;
using test_support::ClientSocket;
using test_support::scaled;
using namespace std::chrono_literals;

namespace {

// The names of the threads of process `pid` (/proc/PID/task/*/comm).
std::vector<std::string> thread_names(int pid) {
  std::vector<std::string> names;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* directory = ::opendir(tasks.c_str());
  if (directory == nullptr) return names;
  while (dirent* entry = ::readdir(directory)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(tasks + "/" + entry->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  ::closedir(directory);
  return names;
}

size_t count_of(const std::vector<std::string>& names, const std::string& prefix) {
  size_t count = 0;
  for (const auto& name : names) count += name.starts_with(prefix) ? 1 : 0;
  return count;
}

}  // namespace

TEST_CASE("--threads N runs N loops (N-1 extra threads); --threads 1 runs one") {
  TestSite site;
  Httpd three(site.root(), {"--threads", "3"});
  Httpd one(site.root(), {"--threads", "1"});
  CHECK(count_of(thread_names(three.process().pid()), "loop-") == 2);
  CHECK(count_of(thread_names(one.process().pid()), "loop-") == 0);
  CHECK(exchange(three.port(), get_request("/small.txt")).body == site.small);
  CHECK(exchange(one.port(), get_request("/small.txt")).body == site.small);
}

TEST_CASE("--threads rejects what is not auto or 1-256") {
  TestSite site;
  for (const char* bad : {"0", "-1", "257", "two", ""}) {
    CAPTURE(bad);
    test_support::ChildProcess httpd(
        {test_support::program_from_env("REACTOR_HTTPD"), "0", site.root(), "--threads", bad});
    CHECK(httpd.wait_exit() == 2);
    CHECK(httpd.output().find("--threads") != std::string::npos);
  }
}

TEST_CASE("two loops: many keep-alive clients at once, each answered in order, whole log lines") {
  TestSite site;
  const std::string log = site.tree / "access.log";
  Httpd server(site.root(), {"--threads", "2", "--access-log", log});
  constexpr int kClients = 8;
  constexpr int kRequests = 40;
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int client = 0; client < kClients; ++client) {
    clients.emplace_back([&, client] {
      ClientSocket socket(server.port());
      std::string leftover;
      for (int request = 0; request < kRequests; ++request) {
        // A distinct target per request, so every log line can be found.
        const std::string path =
            "/small.txt?c" + std::to_string(client) + "r" + std::to_string(request);
        if (!socket.send_all(get_request(path))) return;
        if (read_response(socket, leftover).body == site.small) ++answered;
      }
    });
  }
  for (auto& thread : clients) thread.join();
  CHECK(answered.load() == kClients * kRequests);
  REQUIRE(server.stop() == 0);

  // Both loops wrote to one file: every line whole, each request once.
  std::ifstream file(log);
  const std::regex line_shape(
      R"re(127\.0\.0\.1 - - \[[^\]]+\] "GET /small\.txt\?c(\d+)r(\d+) HTTP/1\.1" 200 \d+ "-" "-")re");
  std::set<std::string> seen;
  std::string line;
  size_t lines = 0;
  while (std::getline(file, line)) {
    ++lines;
    std::smatch fields;
    if (!std::regex_match(line, fields, line_shape)) {
      FAIL_CHECK("malformed log line: " << line);
      continue;
    }
    seen.insert(fields[1].str() + "/" + fields[2].str());
  }
  CHECK(lines == kClients * kRequests);
  CHECK(seen.size() == kClients * kRequests);
}

TEST_CASE("two loops: --max-connections counts both, the rest get 503") {
  TestSite site;
  Httpd server(site.root(), {"--threads", "2", "--max-connections", "3"});
  std::vector<ClientSocket> kept;
  for (int index = 0; index < 3; ++index) {
    kept.emplace_back(server.port());
    std::string leftover;
    REQUIRE(kept.back().send_all(get_request("/small.txt")));
    REQUIRE(read_response(kept.back(), leftover).status == 200);
  }
  // Whichever loop the kernel gives them to, the process is full.
  for (int extra = 0; extra < 6; ++extra) {
    CHECK(exchange(server.port(), get_request("/small.txt")).status == 503);
  }
  kept.clear();
  // Slots freed on either loop serve new clients again.
  CHECK(test_support::wait_until(
      [&] { return exchange(server.port(), get_request("/small.txt")).status == 200; }));
}

TEST_CASE("two loops: SIGTERM with idle clients on both closes them all and exits 0") {
  TestSite site;
  Httpd server(site.root(), {"--threads", "2"});
  // 40 keep-alive clients: the kernel's hash leaves a loop without one with
  // probability 2^-39.
  std::vector<ClientSocket> idle;
  for (int index = 0; index < 40; ++index) {
    idle.emplace_back(server.port());
    std::string leftover;
    REQUIRE(idle.back().send_all(get_request("/small.txt")));
    REQUIRE(read_response(idle.back(), leftover).status == 200);
  }
  server.process().send_signal(SIGTERM);
  for (auto& client : idle) CHECK(client.closed_by_peer(scaled(10s)));
  CHECK(server.process().wait_exit(scaled(10s)) == 0);
}

TEST_CASE("a second server on a port that --threads servers hold fails: address in use") {
  TestSite site;
  Httpd first(site.root(), {"--threads", "2", "--bind", "127.0.0.1"});
  // Its listeners carry SO_REUSEPORT; without the check a second process of
  // the same user would join them and silently take half the clients.
  test_support::ChildProcess second({test_support::program_from_env("REACTOR_HTTPD"),
                                     std::to_string(first.port()), site.root(), "--threads", "2",
                                     "--bind", "127.0.0.1"});
  CHECK(second.wait_exit() == 2);
  CHECK(second.output().find("in use") != std::string::npos);
  // And the first still serves every client.
  for (int request = 0; request < 10; ++request) {
    CHECK(exchange(first.port(), get_request("/small.txt")).body == site.small);
  }
}
