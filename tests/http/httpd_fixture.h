// Helpers for the integration tests: run the real reactor-httpd (from the
// REACTOR_HTTPD environment variable meson sets) on a port of its choosing,
// and speak raw HTTP/1.1 to it over test_support::ClientSocket.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/net.h"
#include "tests/support/process.h"

namespace http_test {

// A running reactor-httpd. Its ChildProcess ends it with the test and
// checks how it ended (exit status 0 after SIGTERM, no sanitizer report),
// so no process outlives its test and a crash or a leak at exit fails it.
class Httpd {
 public:
  // `args` come after "PORT DIR" (port 0: the server picks one).
  explicit Httpd(const std::string& root, std::vector<std::string> args = {});

  int port() const { return port_; }
  std::string url(const std::string& path) const;
  test_support::ChildProcess& process() { return *process_; }
  // SIGTERM and wait; returns the exit status (-1 on timeout).
  int stop(std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(15)));

 private:
  std::unique_ptr<test_support::ChildProcess> process_;
  int port_ = 0;
};

struct HttpResponse {
  bool complete = false;  // a whole response was read
  int status = 0;
  std::string status_line;
  std::map<std::string, std::string> fields;  // lower-case names
  std::string body;

  std::string field(const std::string& name) const;
  bool has(const std::string& name) const { return fields.count(name) != 0; }
};

// Reads one response from `socket` (framed by Content-Length; no body for
// HEAD, 304, 1xx). `leftover` carries bytes read past the response (the
// start of the next pipelined one) between calls.
HttpResponse read_response(
    test_support::ClientSocket& socket, std::string& leftover, bool head_request = false,
    std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(10)));

// Connects, sends `request` verbatim, reads one response.
HttpResponse exchange(int port, const std::string& request, bool head_request = false);

// "GET path HTTP/1.1\r\nHost: ...\r\n<extra>\r\n"
std::string get_request(const std::string& path, const std::string& extra_fields = "",
                        const std::string& method = "GET");

// Runs curl with the given arguments (plus -s and a 10 s limit) and
// returns its stdout; `status` receives curl's exit status.
std::string curl(const std::vector<std::string>& args, int* status = nullptr);

}  // namespace http_test
