// reactor-echod: a TCP echo server on one reactor thread.
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "protocols/echo/echo_server.h"
#include "reactor/event_loop.h"
#include "reactor/graceful_shutdown.h"
#include "reactor/log.h"

int main(int argc, char** argv) {
  CLI::App app{"reactor-echod: echo every byte back to its sender (TCP, IPv4/IPv6)."};
  int port = 0;
  std::string bind_address = "0.0.0.0";
  std::string log_level = "info";
  size_t max_connections = 0;
  double idle_timeout = 0;
  double grace = 5;
  app.set_version_flag("--version", std::string("reactor-echod ") + REACTOR_VERSION);
  app.add_option("PORT", port, "TCP port to listen on (0 picks a free one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("--bind", bind_address, "Numeric address to listen on (0.0.0.0, ::, 127.0.0.1...)")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "Log level: " + std::string(reactor::log_level_names()))
      ->capture_default_str();
  app.add_option("--max-connections", max_connections,
                 "Stop accepting while this many clients are connected (0: no limit)")
      ->capture_default_str();
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

  try {
    reactor::EventLoop loop;
    reactor::echo::EchoServer::Options options;
    options.tcp.max_connections = max_connections;
    options.tcp.idle_timeout = std::chrono::milliseconds(static_cast<long>(idle_timeout * 1000));
    reactor::echo::EchoServer server(&loop, *address, options);

    reactor::stop_gracefully_on_signals(
        loop, std::chrono::milliseconds(static_cast<long>(grace * 1000)),
        [&server](std::function<void()> finished) {
          // Logged once the listener is closed: whoever reads this line may
          // count on new clients being refused.
          server.drain(std::move(finished));
          spdlog::info("shutting down: {} connection(s) open", server.connection_count());
        });

    server.start();
    spdlog::info("listening on {}", server.listen_address().to_string());
    loop.run();
    spdlog::info("stopped");
  } catch (const std::system_error& error) {
    spdlog::error("{}", error.what());
    std::fprintf(stderr, "reactor-echod: %s\n", error.what());
    return 1;
  }
  return 0;
}
