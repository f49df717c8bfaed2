#include "apps/fileclient/command.h"

#include <csignal>
#include <cstdio>

#include "apps/fileclient/output_format.h"

namespace reactor::file::client {

void print_error(const std::string& message) {
  // Messages carry the server's text (ERROR messages, names): escaped like
  // everything else it sends, and one line whatever it holds.
  std::fprintf(stderr, "reactor-fileclient: %s\n", escape_text(message).c_str());
  std::fflush(stderr);
}

std::string describe_server_error(const ErrorReply& error) {
  std::string text = error.message.empty() ? error_code_name(error.code) : error.message;
  return text + " (error " + std::to_string(error.code) + ")";
}

void Command::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  context.finish(ExitCode::kConnection, failure.message);
}

void CommandContext::finish(ExitCode code, const std::string& message) {
  if (finished_) return;
  finished_ = true;
  exit_code_ = code;
  if (!message.empty()) print_error(message);
  client_->close();
  loop_->stop();
}

void CommandContext::finish_with_server_error(const ErrorReply& error) {
  finish(ExitCode::kServerError, describe_server_error(error));
}

int run_command(const ConnectOptions& options, Command& command) {
  EventLoop loop;
  CommandContext* active = nullptr;
  if (command.wants_signals()) {
    // Before any thread exists (a command may start a pool), so that every
    // thread inherits the mask that routes these signals to the loop.
    auto handler = [&] {
      if (active != nullptr) command.on_signal(*active);
    };
    loop.on_signal(SIGINT, handler);
    loop.on_signal(SIGTERM, handler);
  }
  FileClient client(&loop, options.server);
  client.set_token(options.token);
  CommandContext context(&loop, &client);
  context.set_connect_timeout(options.timeout);
  active = &context;
  client.set_ready_callback([&](const HelloOk&) { command.start(context); });
  client.set_failure_callback(
      [&](const FileClient::Failure& failure) { command.on_failure(context, failure); });
  client.set_stall_timeout(options.stall_timeout);
  client.connect(options.timeout);
  loop.run();
  active = nullptr;
  return static_cast<int>(context.exit_code());
}

}  // namespace reactor::file::client
