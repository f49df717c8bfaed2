// reactor-httpd: serves the files under a directory over HTTP/1.1 from one
// reactor thread.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "apps/common/threads_option.h"
#include "protocols/http/basic_auth.h"
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

// The password comes from stdin, never from the command line, where any
// user of the machine could read it (ps, /proc/PID/cmdline).
int hash_password(const std::string& user) {
  std::string password;
  std::getline(std::cin, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail("--hash-password: no password on stdin");
  const std::string line = reactor::http::BasicAuth::make_line(user, password);
  if (line.empty()) return fail("--hash-password: a user name without ':' or control characters");
  std::printf("%s\n", line.c_str());
  return 0;
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
  bool precompressed = false;
  std::vector<std::string> added_fields;
  bool cors = false;
  std::string cache_control;
  std::string fallback;
  std::string auth_file;
  std::string hash_user;
  std::string dotfiles = "deny";
  std::string mime_types_file;
  std::string default_type;
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
  app.add_flag("--precompressed", precompressed,
               "Answer with FILE.br or FILE.gz (made beforehand, e.g. by a build step) when\n"
               "the client's Accept-Encoding takes it, the sibling is a regular file inside\n"
               "DIR and not older than FILE: Content-Encoding, Vary, its own ETag, ranges\n"
               "over the compressed bytes. br wins over gzip at equal q; identity;q=0 with\n"
               "nothing else acceptable is 406. Never compresses on the fly. Off by default:\n"
               "it costs two more lookups per file request, wasted on trees without siblings");
  app.add_option("--header", added_fields,
                 "Add the field to every 2xx, 3xx and 4xx response (repeatable). Fields the\n"
                 "server writes itself (Content-*, ETag, Date, Connection, Server...) are\n"
                 "refused, and so is anything that is not a valid field")
      ->type_name("'NAME: VALUE'")
      ->allow_extra_args(false);
  app.add_flag("--cors", cors,
               "Access-Control-Allow-Origin: * on those responses; OPTIONS answered 204\n"
               "(a CORS preflight with Allow-Methods GET, HEAD, OPTIONS, the requested\n"
               "Allow-Headers and Max-Age 7200) instead of 405");
  app.add_option("--cache-control", cache_control,
                 "Cache-Control of files and listings, or 'off' for none. Default: no-cache\n"
                 "(revalidate on each use: a 304 thanks to the ETag) for HTML and listings,\n"
                 "max-age=300 for other files: a deploy shows at once in pages and within\n"
                 "5 minutes in assets, where browsers would otherwise guess, often days")
      ->type_name("VALUE|off");
  app.add_option("--fallback", fallback,
                 "Single-page apps: answer 200 with FILE (a path inside DIR, e.g. index.html)\n"
                 "to GET/HEAD of a path that does not exist and whose last segment has no\n"
                 "'.': /app/users/42 gets FILE, /app.js and /logo.png stay 404. Never for\n"
                 "a URL with '..', a dotfile, a link out of DIR or a special file")
      ->type_name("FILE");
  app.add_option("--auth-file", auth_file,
                 "Require HTTP Basic authentication: FILE holds 'user:HASH' lines made by\n"
                 "--hash-password. Basic auth sends the password readable by anyone on the\n"
                 "path: without TLS it belongs on a trusted network or behind a TLS proxy")
      ->type_name("FILE");
  app.add_option("--hash-password", hash_user,
                 "Read a password from stdin, print the --auth-file line for USER\n"
                 "(PBKDF2-SHA256, random salt) and exit; PORT and DIR are not needed")
      ->type_name("USER");
  app.add_option("--dotfiles", dotfiles,
                 "deny: a path with a component starting with '.' (.git/, .env) is 404 and\n"
                 "left out of listings, except /.well-known/ (ACME, security.txt). allow:\n"
                 "served and listed like any other")
      ->check(CLI::IsMember({"allow", "deny"}))
      ->capture_default_str();
  app.add_option("--mime-types", mime_types_file,
                 "Read extension -> type mappings ('type ext ext...' lines, as in\n"
                 "/etc/mime.types) from FILE on top of the built-in and system ones")
      ->type_name("FILE");
  app.add_option("--default-type", default_type,
                 "Content-Type of files with no known extension (default\n"
                 "application/octet-stream)")
      ->type_name("TYPE");
  app.add_option("--idle-timeout", idle_timeout,
                 "Close a connection after SECONDS without any traffic: idle keep-alive\n"
                 "connections, and clients that stopped reading a response (0: never)")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();
  app.add_option("--header-timeout", header_timeout,
                 "A request head must arrive within SECONDS of the connect (a client that\n"
                 "says nothing is closed) or, on a kept-alive connection, of its first\n"
                 "incomplete read, else 408 and close: defeats slowloris clients (0: no limit)")
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
                 "Trust a path to name the same file for SECONDS: a file replaced by rename\n"
                 "is served whole from its old descriptor until then. A change in place\n"
                 "shows at once (one fstat per request). 0: open every time")
      ->check(CLI::NonNegativeNumber)
      ->type_name("SECONDS")
      ->capture_default_str();

  app.add_option("--inline-max", inline_max,
                 "Files up to BYTES are kept in memory with their metadata and leave in one\n"
                 "write with the response head; larger ones go with sendfile() (0: always)")
      ->type_name("BYTES")
      ->capture_default_str();

  // Before parsing: PORT and DIR are required for serving, not for this.
  if (argc == 3 && std::string_view(argv[1]) == "--hash-password") return hash_password(argv[2]);

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
  options.precompressed = precompressed;
  options.added_fields = added_fields;
  options.cors = cors;
  options.fallback = fallback;
  options.auth_file = auth_file;
  options.serve_dotfiles = dotfiles == "allow";
  options.mime_types_file = mime_types_file;
  if (!default_type.empty()) {
    const bool printable = std::all_of(default_type.begin(), default_type.end(), [](char c) {
      return c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    });
    if (!printable || default_type.find('/') == std::string::npos) {
      return fail("--default-type: expected a media type such as text/plain");
    }
  }
  options.default_type = default_type;
  if (app.count("--cache-control") > 0) {
    const bool printable = std::all_of(cache_control.begin(), cache_control.end(), [](char c) {
      return c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    });
    if (!printable) return fail("--cache-control: the value holds a control character");
    options.cache_control = cache_control == "off" ? "" : cache_control;
  }
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
