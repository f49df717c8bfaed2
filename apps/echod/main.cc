// reactor-echod: a TCP echo server, one event loop per thread (--threads).
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "apps/common/threads_option.h"
#include "protocols/echo/echo_server.h"
#include "reactor/event_loop.h"
#include "reactor/graceful_shutdown.h"
#include "reactor/log.h"
#include "reactor/server_group.h"

int main(int argc, char** argv) {
  CLI::App app{"reactor-echod: echo every byte back to its sender (TCP, IPv4/IPv6)."};
  int port = 0;
  std::string bind_address = "0.0.0.0";
  std::string log_level = "info";
  size_t max_connections = 0;
  double idle_timeout = 0;
  double grace = 5;
  std::string threads = "auto";
  app.set_version_flag("--version", std::string("reactor-echod ") + REACTOR_VERSION);
  app.add_option("PORT", port, "TCP port to listen on (0 picks a free one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("--bind", bind_address, "Numeric address to listen on (0.0.0.0, ::, 127.0.0.1...)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "Log level: " + std::string(reactor::log_level_names()))
      ->capture_default_str();
  app.add_option("--max-connections", max_connections,
                 "Stop accepting while this many clients are connected, counted over all\n"
                 "threads (0: no limit)")
      ->capture_default_str();
  apps::add_threads_option(app, threads);
  app.add_option("--idle-timeout", idle_timeout,
                 "Close a connection after this many seconds without traffic (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--grace", grace,
                 "On SIGINT/SIGTERM, seconds to let connections flush before exiting")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::fprintf(stderr, "reactor-echod: %s (see --help)\n", error.what());
    return 2;
  }
  if (!reactor::init_logging(log_level)) {
    std::fprintf(stderr, "reactor-echod: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  auto address = reactor::SocketAddress::parse(bind_address, static_cast<uint16_t>(port));
  if (!address) {
    std::fprintf(stderr, "reactor-echod: --bind needs a numeric IPv4/IPv6 address, got '%s'\n",
                 bind_address.c_str());
    return 2;
  }

  const size_t thread_count = *reactor::LoopGroup::parse_count(threads);
  using EchoServers = reactor::ServerGroup<reactor::echo::EchoServer>;
  try {
    reactor::EventLoop loop;
    reactor::LoopGroup loops(&loop, thread_count);
    std::unique_ptr<EchoServers> servers;
    reactor::echo::EchoServer::Options options;
    options.tcp.idle_timeout = std::chrono::milliseconds(static_cast<long>(idle_timeout * 1000));
    // Shared by the servers of all loops, so the limit counts the process.
    auto connection_limit = std::make_shared<reactor::ConnectionLimit>(max_connections);
    options.tcp.connection_limit = connection_limit;
    options.tcp.reuse_port = thread_count > 1;

    reactor::stop_gracefully_on_signals(
        loop, std::chrono::milliseconds(static_cast<long>(grace * 1000)),
        [&servers, &connection_limit](std::function<void()> finished) {
          servers->drain([](reactor::echo::EchoServer& server,
                            std::function<void()> drained) { server.drain(std::move(drained)); },
                         std::move(finished));
          // Logged once every listener is closed: whoever reads this line
          // may count on new clients being refused.
          spdlog::info("shutting down: {} connection(s) open", connection_limit->open_count());
        });

    loops.start();
    servers = std::make_unique<EchoServers>(
        loops,
        EchoServers::sharing_port(
            *address, thread_count,
            [&options](reactor::EventLoop* server_loop, const reactor::SocketAddress& bound) {
              return std::make_unique<reactor::echo::EchoServer>(server_loop, bound, options);
            }));
    servers->start();
    spdlog::info("listening on {} ({} thread{})", (*servers)[0].listen_address().to_string(),
                 thread_count, thread_count == 1 ? "" : "s");
    loop.run();
    // Each server is destroyed on its own loop, while the loops still run.
    servers.reset();
    spdlog::info("stopped");
  } catch (const std::system_error& error) {
    spdlog::error("{}", error.what());
    std::fprintf(stderr, "reactor-echod: %s\n", error.what());
    return 1;
  }
  return 0;
}
