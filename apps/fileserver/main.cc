// reactor-fileserver: serves a directory over RFTP (docs/PROTOCOL.md) on
// one event loop per thread (--threads), with a small worker pool per loop
// for fsync and SHA-256.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "apps/common/threads_option.h"
#include "protocols/file/file_server.h"
#include "reactor/event_loop.h"
#include "reactor/graceful_shutdown.h"
#include "reactor/log.h"
#include "reactor/server_group.h"

namespace {

constexpr const char* kProgram = "reactor-fileserver";

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "reactor-fileserver: serve DIR over RFTP -- listing, downloads with resume, pipelined\n"
      "uploads that are fsync'ed before they are acknowledged, SHA-256 checks.\n"
      "Nothing outside DIR is reachable. Unfinished uploads are kept in DIR/.rftp-uploads."};
  int port = 0;
  std::string directory;
  std::string bind_address = "0.0.0.0";
  bool read_only = false;
  double idle_timeout = 60;
  size_t max_connections = 0;
  double grace = 10;
  size_t workers = 2;
  std::string threads = "auto";
  std::string log_level = "info";
  app.add_option("PORT", port, "TCP port to listen on (0 picks a free one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("DIR", directory, "Directory to serve")->required()->check(CLI::ExistingDirectory);
  // The last --bind wins, so wrappers can add one in front of the user's.
  app.add_option("--bind", bind_address, "Numeric address to listen on (0.0.0.0, ::, 127.0.0.1...)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->capture_default_str();
  app.add_flag("--read-only", read_only, "Refuse every upload (PUT gets ERROR 3)");
  app.add_option("--idle-timeout", idle_timeout,
                 "Close a connection after this many seconds without traffic (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-connections", max_connections,
                 "Stop accepting while this many clients are connected, counted over all\n"
                 "threads (0: no limit)")
      ->capture_default_str();
  apps::add_threads_option(app, threads);
  app.add_option("--grace", grace, "On SIGINT/SIGTERM, seconds to let transfers in flight finish")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--workers", workers,
                 "Worker threads for fsync and SHA-256, per event-loop thread")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "Log level: " + std::string(reactor::log_level_names()))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);
    std::fprintf(stderr, "%s: %s (see --help)\n", kProgram, error.what());
    return 2;
  }
  if (!reactor::init_logging(log_level)) {
    std::fprintf(stderr, "%s: unknown log level '%s'\n", kProgram, log_level.c_str());
    return 2;
  }
  auto address = reactor::SocketAddress::parse(bind_address, static_cast<uint16_t>(port));
  if (!address) {
    std::fprintf(stderr, "%s: --bind needs a numeric IPv4/IPv6 address, got '%s'\n", kProgram,
                 bind_address.c_str());
    return 2;
  }

  const size_t thread_count = *reactor::LoopGroup::parse_count(threads);
  using FileServers = reactor::ServerGroup<reactor::file::FileServer>;
  try {
    reactor::EventLoop loop;
    reactor::LoopGroup loops(&loop, thread_count);
    std::unique_ptr<FileServers> servers;
    // Before any worker thread starts: they inherit the mask that keeps
    // these signals for the base loop's signalfd. No deadline here:
    // FileServer::drain enforces --grace itself.
    reactor::stop_gracefully_on_signals(
        loop, std::chrono::milliseconds(0), [&servers, grace](std::function<void()> finished) {
          if (!servers) {
            finished();
            return;
          }
          servers->drain(
              [grace](reactor::file::FileServer& server, std::function<void()> drained) {
                server.drain(seconds_to_ms(grace), std::move(drained));
              },
              std::move(finished));
        });

    reactor::file::FileServerOptions options;
    options.address = *address;
    options.directory = directory;
    options.read_only = read_only;
    options.idle_timeout = seconds_to_ms(idle_timeout);
    options.max_connections = max_connections;
    options.worker_threads = workers;
    options.server_name = "reactor-fileserver/" REACTOR_VERSION;
    // What the servers of all loops share (each thread-safe).
    options.reuse_port = thread_count > 1;
    options.connection_limit = std::make_shared<reactor::ConnectionLimit>(max_connections);
    options.upload_registry = std::make_shared<reactor::file::UploadRegistry>();

    loops.start();
    servers = std::make_unique<FileServers>(
        loops,
        FileServers::sharing_port(
            options.address, thread_count,
            [&options](reactor::EventLoop* server_loop, const reactor::SocketAddress& bound) {
              reactor::file::FileServerOptions own = options;
              own.address = bound;
              return std::make_unique<reactor::file::FileServer>(server_loop, own);
            }));
    servers->start();
    spdlog::info("serving {}{}", directory, read_only ? " (read-only)" : "");
    spdlog::info("listening on {} ({} thread{})", (*servers)[0].listen_address().to_string(),
                 thread_count, thread_count == 1 ? "" : "s");
    loop.run();
    // Each server is destroyed on its own loop, while the loops still run.
    servers.reset();
    spdlog::info("stopped");
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram, error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram, error.what());
    return 1;
  }
  return 0;
}
