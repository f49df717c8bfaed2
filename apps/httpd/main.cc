// reactor-httpd: serves the files under a directory over HTTP/1.1 from one
// reactor thread.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "apps/common/threads_option.h"
#include "protocols/http/http_server.h"
#include "reactor/event_loop.h"
#include "reactor/graceful_shutdown.h"
#include "reactor/log.h"
#include "reactor/loop_group.h"
#include "reactor/server_group.h"

namespace {

constexpr const char* kProgram = "reactor-httpd";

std::chrono::milliseconds to_milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

// Returns an error message, or "" if `directory` can be served.
std::string check_document_root(const std::string& directory) {
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) {
    return "DIR '" + directory + "': " + std::strerror(errno);
  }
  if (!S_ISDIR(info.st_mode)) return "DIR '" + directory + "' is not a directory";
  if (::access(directory.c_str(), R_OK | X_OK) != 0) {
    return "DIR '" + directory + "' is not readable: " + std::strerror(errno);
  }
  return "";
}

// Each connection and each cached file holds a descriptor; the default soft
// limit of 1024 is far below what one loop can serve.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int fail(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "reactor-httpd: serve the files under DIR over HTTP/1.1 (GET and HEAD) from one\n"
      "event loop per thread: keep-alive, pipelining, ranges, conditional requests,\n"
      "directory listings, sendfile. Nothing outside DIR is ever served."};
  app.get_formatter()->column_width(34);

  int port = 0;
  std::string directory;
  std::string bind_address = "0.0.0.0";
  std::string access_log;
  std::string log_level = "info";
  bool no_listing = false;
  double idle_timeout = 60;
  double header_timeout = 10;
  double shutdown_timeout = 10;
  double cache_seconds = 1;
  size_t inline_max = reactor::http::FileCache::Options().inline_limit;
  size_t max_connections = 0;
  std::string threads = "auto";

  app.add_option("PORT", port, "TCP port to listen on (0 picks a free one; see the log line)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app.add_option("DIR", directory, "Directory whose files are served")->required();
  app.add_option("--bind", bind_address,
                 "Numeric address to listen on: 0.0.0.0, ::, 127.0.0.1, ::1...")
      ->capture_default_str();
  app.add_option("--access-log", access_log,
                 "Write a Combined Log Format line per request to FILE (appended), or to\n"
                 "stdout with '-'. Buffered; off by default")
      ->type_name("FILE|-");
  app.add_option("--log-level", log_level,
                 "Diagnostics on stderr: " + std::string(reactor::log_level_names()))
      ->capture_default_str();
  app.add_flag("--no-listing", no_listing,
               "Answer 403 for directories without index.html instead of listing them");
  app.add_option("--idle-timeout", idle_timeout,
                 "Close a connection after SECONDS without any traffic: idle keep-alive\n"
                 "connections, and clients that stopped reading a response (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--header-timeout", header_timeout,
                 "A request head must arrive within SECONDS of its first incomplete read,\n"
                 "else 408 and close: defeats slowloris clients (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--max-connections", max_connections,
                 "Answer 503 to clients beyond N open connections, counted over all\n"
                 "threads (0: no limit)")
      ->type_name("N")
      ->capture_default_str();
  apps::add_threads_option(app, threads);
  app.add_option("--shutdown-timeout", shutdown_timeout,
                 "On SIGINT/SIGTERM: stop accepting, let responses in flight finish for at\n"
                 "most SECONDS, then exit 0 (a second signal exits at once)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--cache-seconds", cache_seconds,
                 "Reuse a file's descriptor and metadata for SECONDS before looking at the\n"
                 "file system again (0: look every time)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();

  app.add_option("--inline-max", inline_max,
                 "Files up to BYTES are kept in memory with their metadata and leave in one\n"
                 "write with the response head; larger ones go with sendfile() (0: always)")
      ->type_name("BYTES")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help
    return fail(std::string(error.what()) + " (see --help)");
  }

  if (!reactor::init_logging(log_level)) {
    return fail("unknown log level '" + log_level + "' (" +
                std::string(reactor::log_level_names()) + ")");
  }
  const auto address = reactor::SocketAddress::parse(bind_address, static_cast<uint16_t>(port));
  if (!address) return fail("--bind needs a numeric IPv4/IPv6 address, got '" + bind_address + "'");
  if (std::string problem = check_document_root(directory); !problem.empty()) return fail(problem);

  raise_descriptor_limit();

  reactor::http::ServerOptions options;
  options.address = *address;
  options.document_root = directory;
  options.directory_listing = !no_listing;
  options.idle_timeout = to_milliseconds(idle_timeout);
  options.header_timeout = to_milliseconds(header_timeout);
  options.max_connections = max_connections;
  options.access_log = access_log;
  options.file_cache.ttl = to_milliseconds(cache_seconds);
  options.file_cache.inline_limit = inline_max;

  const size_t thread_count = *reactor::LoopGroup::parse_count(threads);
  // One HttpServer per loop; what they share must be thread-safe: the
  // connection limit and the access log file. The file cache, the batch
  // of answers and the lent input buffer are each loop's own.
  auto connection_limit = std::make_shared<reactor::ConnectionLimit>(max_connections);
  options.connection_limit = connection_limit;
  options.reuse_port = thread_count > 1;

  using HttpServers = reactor::ServerGroup<reactor::http::HttpServer>;
  try {
    if (!access_log.empty()) {
      options.shared_access_log = std::make_shared<reactor::http::AccessLogFile>(access_log);
    }
    reactor::EventLoop loop;
    reactor::LoopGroup loops(&loop, thread_count);
    std::unique_ptr<HttpServers> servers;

    reactor::stop_gracefully_on_signals(
        loop, to_milliseconds(shutdown_timeout),
        [&servers, &connection_limit](std::function<void()> finished) {
          servers->drain([](reactor::http::HttpServer& server,
                            std::function<void()> drained) { server.drain(std::move(drained)); },
                         std::move(finished));
          // Logged once every listener is closed: whoever reads this line
          // may count on new clients being refused.
          spdlog::info("shutting down: {} connection(s) open", connection_limit->open_count());
        });

    loops.start();
    servers = std::make_unique<HttpServers>(
        loops,
        HttpServers::sharing_port(
            options.address, thread_count,
            [&options](reactor::EventLoop* server_loop, const reactor::SocketAddress& bound) {
              reactor::http::ServerOptions own = options;
              own.address = bound;
              return std::make_unique<reactor::http::HttpServer>(server_loop, own);
            }));
    servers->start();
    spdlog::info(
        "listening on {} (serving {}, {} thread{})", (*servers)[0].listen_address().to_string(),
        (*servers)[0].context().root.real_path(), thread_count, thread_count == 1 ? "" : "s");
    loop.run();
    // Each server is destroyed on its own loop, while the loops still run.
    servers.reset();
    spdlog::info("stopped");
  } catch (const std::system_error& error) {
    return fail(error.what());
  } catch (const std::exception& error) {
    return fail(error.what());
  }
  return 0;
}
