#include "httpd_fixture.h"

#include <csignal>
#include <stdexcept>

#include <doctest/doctest.h>

namespace http_test {

Httpd::Httpd(const std::string& root, std::vector<std::string> args) {
  std::vector<std::string> argv = {test_support::program_from_env("REACTOR_HTTPD"), "0", root};
  bool has_bind = false;
  for (const std::string& arg : args) has_bind = has_bind || arg == "--bind";
  if (!has_bind) argv.insert(argv.end(), {"--bind", "127.0.0.1"});
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = std::make_unique<test_support::ChildProcess>(argv);
  port_ = process_->wait_for_port();
}

std::string Httpd::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

int Httpd::stop(std::chrono::milliseconds timeout) {
  process_->send_signal(SIGTERM);
  return process_->wait_exit(timeout);
}

std::string HttpResponse::field(const std::string& name) const {
  const auto found = fields.find(name);
  return found == fields.end() ? std::string() : found->second;
}

HttpResponse read_response(test_support::ClientSocket& socket, std::string& leftover,
                           bool head_request, std::chrono::milliseconds timeout) {
  HttpResponse response;
  std::string data = std::move(leftover);
  leftover.clear();
  size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    const std::string more = socket.receive_some(timeout);
    if (more.empty()) {
      response.body = data;  // whatever came, for diagnostics
      return response;
    }
    data += more;
  }
  const std::string head = data.substr(0, head_end + 2);
  size_t line_end = head.find("\r\n");
  response.status_line = head.substr(0, line_end);
  if (response.status_line.size() >= 12)
    response.status = std::stoi(response.status_line.substr(9, 3));
  for (size_t line = line_end + 2; line < head.size(); line = line_end + 2) {
    line_end = head.find("\r\n", line);
    const std::string text = head.substr(line, line_end - line);
    const size_t colon = text.find(':');
    if (colon == std::string::npos) continue;
    std::string name = text.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t value = colon + 1;
    while (value < text.size() && text[value] == ' ') ++value;
    response.fields[name] = text.substr(value);
  }
  data.erase(0, head_end + 4);
  size_t length = 0;
  const bool bodiless = head_request || response.status == 304 || response.status / 100 == 1;
  if (!bodiless && response.has("content-length"))
    length = std::stoul(response.field("content-length"));
  while (data.size() < length) {
    const std::string more = socket.receive_some(timeout);
    if (more.empty()) {
      response.body = data;
      return response;
    }
    data += more;
  }
  response.body = data.substr(0, length);
  leftover = data.substr(length);
  response.complete = true;
  return response;
}

HttpResponse exchange(int port, const std::string& request, bool head_request) {
  test_support::ClientSocket socket(port);
  REQUIRE(socket.send_all(request));
  std::string leftover;
  return read_response(socket, leftover, head_request);
}

std::string get_request(const std::string& path, const std::string& extra_fields,
                        const std::string& method) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_fields + "\r\n";
}

std::string curl(const std::vector<std::string>& args, int* status) {
  const auto limit = test_support::scaled(std::chrono::seconds(10));
  std::vector<std::string> argv = {
      "curl",      "-s", "--max-time", std::to_string(static_cast<double>(limit.count()) / 1000),
      "--noproxy", "*"};
  argv.insert(argv.end(), args.begin(), args.end());
  const test_support::CommandResult result = test_support::run_command(argv, 2 * limit);
  if (status != nullptr) *status = result.status;
  return result.out;
}

}  // namespace http_test
