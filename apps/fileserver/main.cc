// reactor-fileserver: serves a directory over RFTP (docs/PROTOCOL.md) on
// one event loop per thread (--threads), with a small worker pool per loop
// for fsync and SHA-256.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <map>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "apps/common/threads_option.h"
#include "protocols/file/auth.h"
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

// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104: only this host can connect.
bool is_loopback(const reactor::SocketAddress& address) {
  if (address.family() == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
  if (IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127;
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
  std::string token_file;
  uint64_t max_file_size = 0;
  uint64_t min_free_space = 0;
  double upload_expiry = 24 * 3600;
  app.add_option("PORT", port, "TCP port to listen on (0 picks a free one)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("DIR", directory, "Directory to serve")->required()->check(CLI::ExistingDirectory);
  // The last --bind wins, so wrappers can add one in front of the user's.
  app.add_option("--bind", bind_address, "Numeric address to listen on (0.0.0.0, ::, 127.0.0.1...)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->capture_default_str();
  app.add_flag("--read-only", read_only, "Refuse every upload (PUT gets ERROR 3)");
  app.add_option("--token-file", token_file,
                 "Require clients to prove they hold the token in FILE (protocol version 2, "
                 "HMAC-SHA256 challenge; at least 16 bytes). Needed to serve a non-loopback "
                 "address with uploads on, unless --read-only");
  app.add_option("--max-file-size", max_file_size,
                 "Refuse (ERROR 6) a PUT of a larger file, e.g. 10G (0: no limit)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--min-free-space", min_free_space,
                 "Refuse (ERROR 6) a PUT that would leave less free space than this on DIR's "
                 "file system, e.g. 1G; checked before anything is written (0: no check)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--upload-expiry", upload_expiry,
                 "Remove unfinished uploads with no write for this long, e.g. 24h, 30m, 90s "
                 "(seconds without a unit; 0: keep them forever)")
      ->transform(CLI::AsNumberWithUnit(
          std::map<std::string, double>{{"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}},
          CLI::AsNumberWithUnit::CASE_SENSITIVE))
      ->check(CLI::NonNegativeNumber)
      ->default_str("24h");
  app.set_version_flag("--version", std::string(kProgram) + " " REACTOR_VERSION);
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
  std::string token;
  if (!token_file.empty()) {
    auto read = reactor::file::read_token_file(token_file);
    if (!read) {
      std::fprintf(stderr, "%s: %s\n", kProgram, read.error().message.c_str());
      return 2;
    }
    token = std::move(read.value());
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
  // Anyone who can reach the port could replace files and fill the disk:
  // beyond this host, uploads need a token.
  if (!is_loopback(*address) && !read_only && token.empty()) {
    std::fprintf(stderr,
                 "%s: refusing to serve %s with uploads on and no token: add --token-file FILE "
                 "(clients then need the token), or --read-only, or --bind 127.0.0.1\n",
                 kProgram, bind_address.c_str());
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
    options.token = token;
    options.max_file_size = max_file_size;
    options.min_free_space = min_free_space;
    options.upload_expiry = std::chrono::seconds(static_cast<long long>(upload_expiry));
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
    spdlog::info("serving {}{}{}", directory, read_only ? " (read-only)" : "",
                 token.empty() ? "" : " (token required)");
    spdlog::info("listening on {} ({} thread{})", (*servers)[0].listen_address().to_string(),
                 thread_count, thread_count == 1 ? "" : "s");
    loop.run();
    // Each server is destroyed on its own loop, while the loops still run.
    servers.reset();
    spdlog::info("stopped");
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram, error.what());
    // The same status as reactor-httpd, so scripts can tell "pick another
    // port" from other failures.
    return error.code() == std::errc::address_in_use ? 2 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s: %s\n", kProgram, error.what());
    return 1;
  }
  return 0;
}
