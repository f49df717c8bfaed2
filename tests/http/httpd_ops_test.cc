// Integration tests: running reactor-httpd in production -- log rotation,
// several listeners (IPv4, IPv6, Unix sockets, systemd socket activation),
// sitting behind a reverse proxy, and the command line around them.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "httpd_fixture.h"
#include "site_builder.h"
#include "tests/support/net.h"
#include "tests/support/time_scale.h"
#include "tests/support/wait.h"

using namespace http_test;
using test_support::ClientSocket;

namespace {

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

std::string file_or_empty(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0 ? read_file(path) : std::string();
}

// One request whose access-log line can be told from every other one's.
void logged_request(int port, int number) {
  const std::string agent = "User-Agent: req-" + std::to_string(number) + "\r\n";
  REQUIRE(exchange(port, get_request("/small.txt", agent)).status == 200);
}

std::string agent_field(int number) {
  return "\"req-" + std::to_string(number) + "\"\n";
}

bool is_socket_file(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

std::string curl_unix(const std::string& socket_path, const std::string& path, int* status) {
  return curl({"--unix-socket", socket_path, "http://localhost" + path}, status);
}

std::vector<std::string> httpd_argv(const std::string& root, std::vector<std::string> args) {
  std::vector<std::string> argv = {test_support::program_from_env("REACTOR_HTTPD"), "0", root};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// GET /small.txt over IPv6 loopback; the status (0 if none).
int exchange_v6(int port) {
  ClientSocket socket(port, true);
  if (!socket.send_all(get_request("/small.txt"))) return 0;
  std::string leftover;
  return read_response(socket, leftover).status;
}

}  // namespace

TEST_CASE("log rotation: rename, SIGHUP/SIGUSR1, and every line is in exactly one file") {
  TestSite site;
  const std::string log_path = site.tree / "access.log";
  const std::string first_rotation = site.tree / "access.log.1";
  const std::string second_rotation = site.tree / "access.log.2";
  Httpd server(site.root(), {"--access-log", log_path});

  // Lines buffered in the server when the file is renamed, and lines logged
  // after the rename but before the signal, belong to the renamed file:
  // that is the file that was open when they were logged.
  for (int i = 0; i < 10; ++i) logged_request(server.port(), i);
  REQUIRE(std::rename(log_path.c_str(), first_rotation.c_str()) == 0);
  for (int i = 10; i < 20; ++i) logged_request(server.port(), i);
  server.process().send_signal(SIGHUP);
  REQUIRE(server.process().wait_for_output("access log reopened"));
  for (int i = 20; i < 30; ++i) logged_request(server.port(), i);

  // nginx's signal for the same thing.
  REQUIRE(std::rename(log_path.c_str(), second_rotation.c_str()) == 0);
  server.process().send_signal(SIGUSR1);
  REQUIRE(test_support::wait_until(
      [&] { return count_of(server.process().output(), "access log reopened") == 2; }));
  for (int i = 30; i < 40; ++i) logged_request(server.port(), i);

  CHECK(server.stop() == 0);  // neither signal ended it
  const std::string first = file_or_empty(first_rotation);
  const std::string second = file_or_empty(second_rotation);
  const std::string current = file_or_empty(log_path);
  for (int i = 0; i < 40; ++i) {
    CAPTURE(i);
    const std::string field = agent_field(i);
    CHECK(count_of(first, field) == (i < 20 ? 1 : 0));
    CHECK(count_of(second, field) == (i >= 20 && i < 30 ? 1 : 0));
    CHECK(count_of(current, field) == (i >= 30 ? 1 : 0));
  }
}

TEST_CASE("log rotation: a log that cannot be reopened keeps the old file, and the server runs") {
  TestSite site;
  site.tree.make_directory("logs");
  const std::string log_path = site.tree / "logs/access.log";
  Httpd server(site.root(), {"--access-log", log_path});
  logged_request(server.port(), 1);
  // The path is now a directory: open() for writing fails.
  REQUIRE(std::rename(log_path.c_str(), (site.tree / "logs/old.log").c_str()) == 0);
  site.tree.make_directory("logs/access.log");
  server.process().send_signal(SIGHUP);
  REQUIRE(server.process().wait_for_output("cannot reopen"));
  logged_request(server.port(), 2);
  CHECK(server.stop() == 0);
  const std::string old_log = read_file(site.tree / "logs/old.log");
  CHECK(count_of(old_log, agent_field(1)) == 1);
  CHECK(count_of(old_log, agent_field(2)) == 1);
}

TEST_CASE("log rotation: SIGHUP without an access log is harmless") {
  TestSite site;
  Httpd server(site.root());
  server.process().send_signal(SIGHUP);
  REQUIRE(server.process().wait_for_output("access log reopened"));
  CHECK(exchange(server.port(), get_request("/small.txt")).status == 200);
  CHECK(server.stop() == 0);
}

TEST_CASE("binds: IPv4, IPv6 and a Unix socket at once, one log, clickable start-up lines") {
  TestSite site;
  const std::string socket_path = site.tree / "httpd.sock";
  const std::string log_path = site.tree / "access.log";
  Httpd server(site.root(), {"--bind", "127.0.0.1", "--bind", "::1", "--bind",
                             "unix:" + socket_path, "--access-log", log_path});
  const std::string port = std::to_string(server.port());
  // Every listener is open before the first line is printed.
  auto& process = server.process();
  CHECK(process.wait_for_output("listening on 127.0.0.1:" + port + ", http://127.0.0.1:" + port +
                                "/"));
  CHECK(process.wait_for_output("listening on [::1]:" + port + ", http://[::1]:" + port + "/"));
  CHECK(process.wait_for_output("listening on unix:" + socket_path + ", curl --unix-socket " +
                                socket_path + " http://localhost/"));

  int status = -1;
  CHECK(curl({"-A", "via-v4", "http://127.0.0.1:" + port + "/small.txt"}, &status) == site.small);
  CHECK(status == 0);
  CHECK(curl({"-g", "-A", "via-v6", "http://[::1]:" + port + "/small.txt"}, &status) == site.small);
  CHECK(status == 0);
  CHECK(curl({"-A", "via-unix", "--unix-socket", socket_path, "http://localhost/small.txt"},
             &status) == site.small);
  CHECK(status == 0);
  // Keep-alive and pipelining over the Unix socket too: two answers, one connection.
  CHECK(curl({"--unix-socket", socket_path, "http://localhost/small.txt",
              "http://localhost/small.txt"},
             &status) == site.small + site.small);

  CHECK(server.stop() == 0);
  const std::string log = read_file(log_path);
  CHECK(log.find("127.0.0.1 - - [") != std::string::npos);
  CHECK(log.find("::1 - - [") != std::string::npos);
  CHECK(log.find("unix - - [") != std::string::npos);
  CHECK(log.find("\"via-unix\"") != std::string::npos);
  // The server removes the socket file it created.
  CHECK(!is_socket_file(socket_path));
}

namespace {

// The inode of the listening Unix socket bound at `path` (/proc/net/unix:
// "Num RefCount Protocol Flags Type St Inode Path", flag 00010000 =
// listening); 0 if there is none.
unsigned long listening_unix_inode(const std::string& path) {
  std::ifstream table("/proc/net/unix");
  std::string line;
  std::getline(table, line);  // the heading
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string number, references, protocol, flags, type, state, socket_path;
    unsigned long inode = 0;
    fields >> number >> references >> protocol >> flags >> type >> state >> inode >> socket_path;
    if (socket_path == path && flags == "00010000") return inode;
  }
  return 0;
}

// How many of the process's epoll instances watch a descriptor of the
// socket `inode` (each loop has one epoll instance; fdinfo lists its
// targets as "tfd: FD").
int epolls_watching(pid_t pid, unsigned long inode) {
  const std::string process = "/proc/" + std::to_string(pid);
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  auto link_of = [&](const std::string& fd) {
    std::error_code error;
    return std::filesystem::read_symlink(process + "/fd/" + fd, error).string();
  };
  int watching = 0;
  for (const auto& entry : std::filesystem::directory_iterator(process + "/fd")) {
    const std::string fd = entry.path().filename().string();
    if (link_of(fd) != "anon_inode:[eventpoll]") continue;
    std::ifstream info(process + "/fdinfo/" + fd);
    std::string line;
    bool found = false;
    while (std::getline(info, line)) {
      std::istringstream fields(line);
      std::string key, target;
      fields >> key >> target;
      if (key == "tfd:" && link_of(target) == wanted) found = true;
    }
    if (found) ++watching;
  }
  return watching;
}

}  // namespace

TEST_CASE("binds: with --threads 2 a Unix socket is served by both loops, from one socket") {
  TestSite site;
  const std::string socket_path = site.tree / "shared.sock";
  test_support::ChildProcess server(
      httpd_argv(site.root(), {"--bind", "unix:" + socket_path, "--threads", "2"}));
  REQUIRE(server.wait_for_output("serving "));
  CHECK(server.output().find("2 threads") != std::string::npos);
  const unsigned long inode = listening_unix_inode(socket_path);
  REQUIRE(inode != 0);
  // Each loop's epoll watches a descriptor of the one listening socket.
  CHECK(epolls_watching(server.pid(), inode) == 2);
  for (int request = 0; request < 20; ++request) {
    int status = -1;
    CHECK(curl_unix(socket_path, "/small.txt", &status) == site.small);
    CHECK(status == 0);
  }
  server.send_signal(SIGTERM);
  CHECK(server.wait_exit() == 0);
  CHECK(!is_socket_file(socket_path));
}

TEST_CASE("binds: a stale socket file is replaced; a live one or a regular file is not touched") {
  TestSite site;
  const std::string stale_path = site.tree / "stale.sock";
  ::close(test_support::bind_unix_socket(stale_path, true));  // a crashed server's leftover
  REQUIRE(is_socket_file(stale_path));
  {
    Httpd server(site.root(), {"--bind", "127.0.0.1", "--bind", "unix:" + stale_path});
    int status = -1;
    CHECK(curl_unix(stale_path, "/small.txt", &status) == site.small);
    CHECK(status == 0);

    // A second server must not steal the live socket from the first.
    test_support::ChildProcess second(httpd_argv(site.root(), {"--bind", "unix:" + stale_path}));
    CHECK(second.wait_exit() == 2);
    CHECK(second.output().find("Address already in use") != std::string::npos);
    CHECK(curl_unix(stale_path, "/small.txt", &status) == site.small);
  }

  const std::string regular_path = site.tree / "not-a-socket";
  site.tree.write_file("not-a-socket", "precious");
  test_support::ChildProcess refused(httpd_argv(site.root(), {"--bind", "unix:" + regular_path}));
  CHECK(refused.wait_exit() == 2);
  CHECK(read_file(regular_path) == "precious");
}

TEST_CASE("binds: '::' is IPv6-only unless --dual-stack") {
  TestSite site;
  {
    Httpd v6_only(site.root(), {"--bind", "::"});
    CHECK(v6_only.process().wait_for_output("listening on [::]:" + std::to_string(v6_only.port()) +
                                            ", http://[::1]:" + std::to_string(v6_only.port()) +
                                            "/"));
    CHECK(exchange_v6(v6_only.port()) == 200);
    CHECK(test_support::connect_error(v6_only.port()) == ECONNREFUSED);
  }
  Httpd dual(site.root(), {"--bind", "::", "--dual-stack", "--access-log", "-"});
  CHECK(exchange_v6(dual.port()) == 200);
  CHECK(exchange(dual.port(), get_request("/small.txt", "User-Agent: over-v4\r\n")).status == 200);
  CHECK(dual.stop() == 0);
  CHECK(dual.process().output().find("\"over-v4\"") != std::string::npos);
}

TEST_CASE("binds: a bad --bind is refused with a message") {
  TestSite site;
  for (const std::string bind : {"localhost", "unix:", "300.1.1.1"}) {
    CAPTURE(bind);
    test_support::ChildProcess child(httpd_argv(site.root(), {"--bind", bind}));
    CHECK(child.wait_exit() == 2);
    CHECK(child.output().find("--bind needs") != std::string::npos);
  }
}

TEST_CASE("systemd socket activation: LISTEN_FDS sockets are served, nothing else is bound") {
  TestSite site;
  const auto [listener, port] = test_support::listen_on_loopback();
  const std::string socket_path = site.tree / "activated.sock";
  const int unix_listener = test_support::bind_unix_socket(socket_path, true);

  {
    test_support::ChildProcess server(httpd_argv(site.root(), {}), {listener, unix_listener});
    // Ours are closed: only the child holds the sockets now, so a request
    // answered proves the child serves them.
    ::close(listener);
    ::close(unix_listener);
    CHECK(server.wait_for_port() == port);
    CHECK(server.wait_for_output("listening on unix:" + socket_path));
    int status = -1;
    CHECK(curl({"http://127.0.0.1:" + std::to_string(port) + "/small.txt"}, &status) == site.small);
    CHECK(status == 0);
    CHECK(curl_unix(socket_path, "/small.txt", &status) == site.small);
    CHECK(status == 0);
    // No default 0.0.0.0 listener besides: exactly the two lines.
    REQUIRE(server.wait_for_output("serving "));
    CHECK(count_of(server.output(), "listening on ") == 2);
  }
  // systemd made the socket file; the server leaves it for systemd.
  CHECK(is_socket_file(socket_path));
}

TEST_CASE("systemd socket activation: variables meant for another process are ignored") {
  TestSite site;
  const std::string socket_path = site.tree / "inherited.sock";
  const int unix_listener = test_support::bind_unix_socket(socket_path, true);
  // Descriptor 3 is a listening socket, but LISTEN_PID names the test: the
  // server must neither adopt it nor keep the variables for its children.
  test_support::ChildProcess server(httpd_argv(site.root(), {"--bind", "127.0.0.1"}),
                                    {unix_listener}, /*for_another_pid=*/true);
  ::close(unix_listener);
  const int port = server.wait_for_port();
  REQUIRE(server.wait_for_output("serving "));
  CHECK(count_of(server.output(), "listening on ") == 1);
  CHECK(server.output().find("unix:") == std::string::npos);
  CHECK(exchange(port, get_request("/small.txt")).status == 200);
}

TEST_CASE("behind a proxy: X-Forwarded-For is believed from trusted peers only") {
  TestSite site;
  const std::string trusted_log = site.tree / "trusted.log";
  const std::string untrusted_log = site.tree / "untrusted.log";
  const std::string socket_path = site.tree / "proxy.sock";
  const std::string forwarded = "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n";
  {
    Httpd server(site.root(), {"--bind", "127.0.0.1", "--bind", "unix:" + socket_path,
                               "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "127.0.0.1",
                               "--trusted-proxy", "unix", "--access-log", trusted_log});
    // Two requests on one connection, each with its own forwarded client:
    // the client is taken per request, not once per connection.
    ClientSocket socket(server.port());
    REQUIRE(socket.send_all(get_request("/small.txt", forwarded + "User-Agent: first\r\n") +
                            get_request("/small.txt",
                                        "X-Forwarded-For: 198.51.100.1, 10.9.9.9\r\n"
                                        "User-Agent: second\r\n")));
    std::string leftover;
    CHECK(read_response(socket, leftover).status == 200);
    CHECK(read_response(socket, leftover).status == 200);
    CHECK(exchange(server.port(), get_request("/small.txt", "User-Agent: none\r\n")).status == 200);
    int status = -1;
    curl({"--unix-socket", socket_path, "-A", "via-unix", "-H", "X-Forwarded-For: 192.0.2.44",
          "http://localhost/small.txt"},
         &status);
    CHECK(status == 0);
    CHECK(server.stop() == 0);
  }
  const std::string trusted = read_file(trusted_log);
  CHECK(trusted.find("203.0.113.9 - - [") != std::string::npos);
  CHECK(trusted.find("198.51.100.1 - - [") != std::string::npos);
  CHECK(trusted.find("127.0.0.1 - - [") != std::string::npos);  // no field: the peer
  CHECK(trusted.find("192.0.2.44 - - [") != std::string::npos);
  CHECK(trusted.find("6.6.6.6") == std::string::npos);
  CHECK(trusted.find("10.9.9.9") == std::string::npos);
  CHECK(trusted.find("unix - - [") == std::string::npos);

  {
    Httpd server(site.root(), {"--bind", "127.0.0.1", "--bind", "unix:" + socket_path,
                               "--trusted-proxy", "10.0.0.0/8", "--access-log", untrusted_log});
    CHECK(exchange(server.port(), get_request("/small.txt", forwarded)).status == 200);
    int status = -1;
    curl({"--unix-socket", socket_path, "-H", "X-Forwarded-For: 192.0.2.44",
          "http://localhost/small.txt"},
         &status);
    CHECK(server.stop() == 0);
  }
  const std::string untrusted = read_file(untrusted_log);
  CHECK(untrusted.find("127.0.0.1 - - [") != std::string::npos);
  CHECK(untrusted.find("unix - - [") != std::string::npos);
  CHECK(untrusted.find("203.0.113.9") == std::string::npos);
  CHECK(untrusted.find("192.0.2.44") == std::string::npos);
}

TEST_CASE("behind a proxy: --trusted-proxy rejects what is not an address range") {
  TestSite site;
  test_support::ChildProcess child(
      httpd_argv(site.root(), {"--bind", "127.0.0.1", "--trusted-proxy", "proxy.local"}));
  CHECK(child.wait_exit() == 2);
  CHECK(child.output().find("--trusted-proxy needs") != std::string::npos);
}

TEST_CASE("--server-header renames or hides the Server field, errors included") {
  TestSite site;
  {
    Httpd server(site.root());
    CHECK(exchange(server.port(), get_request("/small.txt")).field("server") == "reactor-httpd");
  }
  {
    Httpd server(site.root(), {"--server-header", "example-site/2.1"});
    CHECK(exchange(server.port(), get_request("/small.txt")).field("server") == "example-site/2.1");
    CHECK(exchange(server.port(), get_request("/missing")).field("server") == "example-site/2.1");
  }
  Httpd server(site.root(), {"--server-header", "off"});
  const HttpResponse found = exchange(server.port(), get_request("/small.txt"));
  CHECK(found.status == 200);
  CHECK(!found.has("server"));
  const HttpResponse missing = exchange(server.port(), get_request("/missing"));
  CHECK(missing.status == 404);
  CHECK(!missing.has("server"));
  // A request too malformed to parse is answered with the same head.
  const HttpResponse malformed = exchange(server.port(), "GARBAGE\r\n\r\n");
  CHECK(malformed.status == 400);
  CHECK(!malformed.has("server"));
}

TEST_CASE("cli: --version needs no PORT; a PORT that is no port says what a port is") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--version"}, std::vector<std::string>{"0", "--version"}}) {
    std::vector<std::string> argv = {test_support::program_from_env("REACTOR_HTTPD")};
    argv.insert(argv.end(), args.begin(), args.end());
    test_support::ChildProcess child(argv);
    CHECK(child.wait_exit() == 0);
    CHECK(child.output().starts_with("reactor-httpd 0."));
    CHECK(count_of(child.output(), "\n") == 1);
  }
  TestSite site;
  for (const std::string& port : std::vector<std::string>{"abc", "99999", "65536", "80x", ""}) {
    CAPTURE(port);
    test_support::ChildProcess child(
        {test_support::program_from_env("REACTOR_HTTPD"), port, site.root()});
    CHECK(child.wait_exit() == 2);
    CHECK(child.output() ==
          "reactor-httpd: PORT must be a number from 0 to 65535, got '" + port + "'\n");
  }
}

TEST_CASE("listing over HTTP: JSON by query or Accept, sorting by query, Vary: Accept") {
  TestSite site;
  Httpd server(site.root());
  const HttpResponse by_query = exchange(server.port(), get_request("/dir/?format=json"));
  CHECK(by_query.status == 200);
  CHECK(by_query.field("content-type") == "application/json");
  CHECK(by_query.field("vary") == "Accept");
  CHECK(by_query.body.starts_with("{\"entries\":["));
  CHECK(by_query.body.find("\"name\":\"nested.txt\"") != std::string::npos);

  const HttpResponse by_accept =
      exchange(server.port(), get_request("/dir/", "Accept: application/json\r\n"));
  CHECK(by_accept.field("content-type") == "application/json");
  CHECK(by_accept.body == by_query.body);

  const HttpResponse browser = exchange(
      server.port(), get_request("/dir/", "Accept: text/html,application/xhtml+xml,*/*\r\n"));
  CHECK(browser.field("content-type") == "text/html; charset=utf-8");
  CHECK(browser.field("vary") == "Accept");

  const HttpResponse sorted = exchange(server.port(), get_request("/dir/?sort=size&order=desc"));
  CHECK(sorted.status == 200);
  CHECK(sorted.body.find("Size &#9660;") != std::string::npos);
}
