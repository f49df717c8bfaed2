// The frame every reactor-fileclient command runs in: one event loop, one
// FileClient connection, and a single place that ends the run with an exit
// code and a one-line message.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "apps/fileclient/exit_codes.h"
#include "protocols/file/file_client.h"
#include "protocols/file/messages.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"

namespace reactor::file::client {

class CommandContext;

// One command (ls, get, put...). start() runs once the server has answered
// HELLO (and again after each CommandContext::reconnect()); the command
// then drives the client and calls context.finish().
class Command {
 public:
  virtual ~Command() = default;
  virtual void start(CommandContext& context) = 0;
  // The connection failed. The default ends the run with exit code 3.
  virtual void on_failure(CommandContext& context, const FileClient::Failure& failure);
  // SIGINT/SIGTERM, for commands that want them (wants_signals()). Others
  // keep the default action: the process dies, partial files stay.
  virtual bool wants_signals() const { return false; }
  virtual void on_signal(CommandContext& /*context*/) {}
};

class CommandContext {
 public:
  CommandContext(EventLoop* loop, FileClient* client) : loop_(loop), client_(client) {}

  EventLoop& loop() { return *loop_; }
  FileClient& client() { return *client_; }
  // Connects again after a failure (put --watch); the command's start()
  // runs again once the server has answered HELLO.
  void reconnect() { client_->connect(connect_timeout_); }
  void set_connect_timeout(std::chrono::milliseconds timeout) { connect_timeout_ = timeout; }

  // Ends the run: closes the connection and stops the loop. A non-empty
  // `message` goes to stderr as "reactor-fileclient: MESSAGE". Only the
  // first call counts.
  void finish(ExitCode code, const std::string& message = "");
  // finish() with the right code and text for an ERROR answer.
  void finish_with_server_error(const ErrorReply& error);
  bool finished() const { return finished_; }
  ExitCode exit_code() const { return exit_code_; }

 private:
  EventLoop* loop_;
  FileClient* client_;
  std::chrono::milliseconds connect_timeout_{0};
  bool finished_ = false;
  ExitCode exit_code_ = ExitCode::kOk;
};

// "a.txt: not found (error 2)".
std::string describe_server_error(const ErrorReply& error);

// Prints "reactor-fileclient: MESSAGE" on stderr, MESSAGE escaped
// (escape_text()).
void print_error(const std::string& message);
// The same, for information rather than failure (a resume, a skip).
inline void print_note(const std::string& message) {
  print_error(message);
}

struct ConnectOptions {
  SocketAddress server;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // Answers a server's CHALLENGE (--token-file / RFTP_TOKEN); empty: none.
  std::string token;
  // No progress for this long while waiting ends the run (exit 3); 0 = never.
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(30)};
};

// Connects, greets, runs `command` to its end and returns the exit code.
int run_command(const ConnectOptions& options, Command& command);

}  // namespace reactor::file::client
