#include "apps/fileclient/query_commands.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "apps/fileclient/output_format.h"

namespace reactor::file::client {
namespace {

// Runs `print` on the expected answer, reports an ERROR otherwise.
template <typename Expected, typename Print>
FileClient::ReplyHandler answer_handler(CommandContext& context, Print print) {
  return [&context, print](const Reply& reply) {
    if (const auto* error = std::get_if<ErrorReply>(&reply)) {
      context.finish_with_server_error(*error);
      return;
    }
    print(std::get<Expected>(reply));
    std::fflush(stdout);
    context.finish(ExitCode::kOk);
  };
}

}  // namespace

void ListCommand::start(CommandContext& context) {
  context.client().list(path_, answer_handler<ListOk>(context, [json = json_](const ListOk& list) {
                          for (const ListEntry& entry : list.entries) {
                            std::string line =
                                json ? format_list_json(entry) : format_list_line(entry);
                            std::printf("%s\n", line.c_str());
                          }
                        }));
}

void StatCommand::start(CommandContext& context) {
  context.client().stat(
      path_, answer_handler<StatOk>(context, [path = path_, json = json_](const StatOk& stat) {
        if (json) {
          std::printf("%s\n", format_stat_json(path, stat).c_str());
        } else {
          std::fputs(format_stat(path, stat).c_str(), stdout);
        }
      }));
}

void HashCommand::start(CommandContext& context) {
  context.client().hash(path_, answer_handler<HashOk>(context, [json = json_](const HashOk& hash) {
                          std::string line = json ? format_hash_json(hash) : format_hash_line(hash);
                          std::printf("%s\n", line.c_str());
                        }));
}

void PingCommand::start(CommandContext& context) {
  uint64_t token = std::random_device{}();
  auto sent = std::chrono::steady_clock::now();
  std::string server = context.client().server_name();
  context.client().ping(token, [&context, token, sent, server, quiet = quiet_](const Reply& reply) {
    if (const auto* error = std::get_if<ErrorReply>(&reply)) {
      context.finish_with_server_error(*error);
      return;
    }
    if (std::get<Pong>(reply).token != token) {
      context.finish(ExitCode::kConnection, "PONG carries the wrong token");
      return;
    }
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
    if (!quiet) {
      std::printf("pong from %s (%s): %.3f ms\n",
                  context.client().server_address().to_string().c_str(),
                  escape_text(server).c_str(), ms);
      std::fflush(stdout);
    }
    context.finish(ExitCode::kOk);
  });
}

}  // namespace reactor::file::client
