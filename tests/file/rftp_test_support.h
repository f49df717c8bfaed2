// Helpers shared by the RFTP tests: temporary directories, file contents,
// a running reactor-fileserver, and a raw-socket client that speaks RFTP
// frame by frame (for hostile and unusual input).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "protocols/file/frame_codec.h"
#include "protocols/file/messages.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace rftp_test {

namespace rf = reactor::file;

// A fresh directory under `parent`, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& parent = "/tmp");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Deterministic pseudo-random bytes (a seeded xorshift), fast enough for
// hundreds of MiB.
std::string random_bytes(size_t size, uint64_t seed);
// Writes `size` random bytes to `path` in chunks (no giant string).
void write_random_file(const std::string& path, uint64_t size, uint64_t seed);
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
bool files_equal(const std::string& a, const std::string& b);
bool exists(const std::string& path);
// -1 if missing.
long long file_size(const std::string& path);
void make_directories(const std::string& path);
// Regular files under `directory` with `suffix`, full paths.
std::vector<std::string> files_with_suffix(const std::string& directory, const std::string& suffix);

// A tmpfs of `bytes` mounted at `where` for the object's lifetime. Mounting
// needs root, which is how CI runs: elsewhere the test fails and says so,
// since a full disk cannot be made any other way without harming the host.
class Tmpfs {
 public:
  Tmpfs(const std::string& where, size_t bytes);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

 private:
  std::string where_;
  bool mounted_ = false;
};

// Polls `condition` every few ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(10)));

std::string server_program();
std::string client_program();

// reactor-fileserver on 127.0.0.1, port 0, serving `directory`. Its
// ChildProcess ends it with the test and checks how it ended (exit status 0
// after SIGTERM, no sanitizer report).
class Server {
 public:
  explicit Server(const std::string& directory, std::vector<std::string> extra_arguments = {});
  int port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  test_support::ChildProcess& process() { return *process_; }
  // SIGTERM, then the exit status (-1 on timeout).
  int stop(std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(15)));

 private:
  std::unique_ptr<test_support::ChildProcess> process_;
  int port_ = 0;
};

// Runs reactor-fileclient to completion in `working_directory`.
test_support::CommandResult run_client(
    const std::vector<std::string>& arguments, const std::string& working_directory = "",
    std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(60)));
// The argv to start reactor-fileclient in a ChildProcess (cd-less: paths
// should be absolute).
std::vector<std::string> client_argv(const std::vector<std::string>& arguments);

// Frames and replies over a plain blocking socket.
class RawClient {
 public:
  explicit RawClient(int port, bool ipv6 = false);

  test_support::ClientSocket& socket() { return socket_; }
  bool send_bytes(const std::string& bytes) { return socket_.send_all(bytes); }
  bool send(const rf::Request& request) { return socket_.send_all(rf::encode_frame(request)); }
  // HELLO and its HELLO_OK.
  void greet();
  // The next reply, or nullopt if the connection closed or nothing came in
  // time. DATA's body is collected into `data_body`.
  std::optional<rf::Reply> receive(
      std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(10)));
  // The next reply, which must be an ERROR; returns its code (0 if not one).
  uint16_t receive_error_code(
      std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(10)));
  // True if the server closes the connection within `timeout`, with nothing
  // more than what was already buffered.
  bool closed_by_server(
      std::chrono::milliseconds timeout = test_support::scaled(std::chrono::seconds(5)));
  // Round trip on a PING: the connection still works.
  bool ping(uint64_t token = 42);

  std::string data_body;

 private:
  test_support::ClientSocket socket_;
  rf::ReplyDecoder decoder_;
  std::string buffer_;
};

// An ERROR reply's code, or 0 for any other reply / none.
uint16_t error_code_of(const std::optional<rf::Reply>& reply);

// The next reply, which must be an `Expected`: none in time, another kind,
// or an ERROR (its message in the report) fails the test. `timeout` is
// stretched by REACTOR_TEST_TIME_SCALE.
template <typename Expected>
Expected expect_reply(RawClient& client,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto reply = client.receive(test_support::scaled(timeout));
  REQUIRE(reply.has_value());
  if (auto* error = std::get_if<rf::ErrorReply>(&*reply)) {
    FAIL("unexpected ERROR " << error->code << ": " << error->message);
  }
  REQUIRE(std::holds_alternative<Expected>(*reply));
  return std::get<Expected>(*reply);
}

}  // namespace rftp_test
