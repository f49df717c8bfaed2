// reactor-httpd: serves the files under a directory over HTTP/1.1 from one
// reactor thread.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
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
#include "reactor/socket_activation.h"

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

std::optional<uint16_t> parse_port(const std::string& text) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

// One --bind value: a numeric IPv4/IPv6 address (port from PORT) or
// unix:/PATH.
std::optional<reactor::SocketAddress> parse_bind(const std::string& text, uint16_t port) {
  constexpr std::string_view kUnixPrefix = "unix:";
  if (text.starts_with(kUnixPrefix)) {
    return reactor::SocketAddress::unix_path(std::string_view(text).substr(kUnixPrefix.size()));
  }
  return reactor::SocketAddress::parse(text, port);
}

// What to paste into a browser (or click) for a listener: a wildcard is
// reached through the loopback address of its family.
std::string url_of(const reactor::SocketAddress& address) {
  if (address.is_unix()) return "curl --unix-socket " + address.path() + " http://localhost/";
  std::string host = address.ip();
  if (address.is_wildcard()) host = address.family() == AF_INET6 ? "::1" : "127.0.0.1";
  if (address.family() == AF_INET6) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(address.port()) + "/";
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

  std::string port_text;
  std::string directory;
  std::vector<std::string> binds;
  bool dual_stack = false;
  std::vector<std::string> trusted_proxies;
  std::string server_header(reactor::http::kServerName);
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

  app.set_version_flag("--version", std::string(kProgram) + " " + REACTOR_VERSION);
  // Taken as text and checked after parsing, so that the message can say
  // what a port is ("Value abc not in range" did not).
  app.add_option("PORT", port_text, "TCP port to listen on (0 picks a free one; see the log line)")
      ->required();
  app.add_option("DIR", directory, "Directory whose files are served")->required();
  app.add_option("--bind", binds,
                 "Address to listen on, repeatable (one listener each, all on PORT):\n"
                 "0.0.0.0, ::, 127.0.0.1, ::1... or unix:/PATH for a Unix-domain socket\n"
                 "(a stale socket file there is replaced). Default: 0.0.0.0, unless\n"
                 "systemd socket activation (LISTEN_FDS) passed sockets, then only those")
      ->type_name("ADDR")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--dual-stack", dual_stack,
               "A --bind :: also takes IPv4 clients (IPV6_V6ONLY off); without it '::'\n"
               "is IPv6 only");
  app.add_option("--access-log", access_log,
                 "Write a Combined Log Format line per request to FILE (appended), or to\n"
                 "stdout with '-'. Buffered; off by default. SIGHUP or SIGUSR1 reopens\n"
                 "FILE (log rotation: rename it, then signal)")
      ->type_name("FILE|-");
  app.add_option("--trusted-proxy", trusted_proxies,
                 "Behind a reverse proxy: believe X-Forwarded-For from peers in this\n"
                 "range (repeatable; ADDR, ADDR/PREFIX, or 'unix' for Unix-socket peers).\n"
                 "The access log then records the right-most address in the field that\n"
                 "is not itself trusted; from any other peer the field is ignored")
      ->type_name("ADDR[/PREFIX]")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--server-header", server_header,
                 "Value of the Server response field and of the error pages' signature,\n"
                 "or 'off' for neither")
      ->type_name("NAME|off")
      ->capture_default_str();
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
                 "shows at once in a file sent from disk (one fstat per request), within\n"
                 "SECONDS in one held in memory (--inline-max). 0: open every time")
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
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    return fail(std::string(error.what()) + " (see --help)");
  }

  const std::optional<uint16_t> port = parse_port(port_text);
  if (!port) return fail("PORT must be a number from 0 to 65535, got '" + port_text + "'");
  if (!reactor::init_logging(log_level)) {
    return fail("unknown log level '" + log_level + "' (" +
                std::string(reactor::log_level_names()) + ")");
  }
  // Taken before anything else opens a descriptor: they are 3, 4...
  std::vector<reactor::UniqueFd> activated = reactor::take_activated_sockets();
  if (binds.empty() && activated.empty()) binds.push_back("0.0.0.0");
  std::vector<reactor::SocketAddress> addresses;
  for (const std::string& bind : binds) {
    const auto address = parse_bind(bind, *port);
    if (!address) {
      return fail("--bind needs a numeric IPv4/IPv6 address or unix:/PATH, got '" + bind + "'");
    }
    addresses.push_back(*address);
  }
  std::vector<reactor::http::AddressRange> trusted_ranges;
  for (const std::string& text : trusted_proxies) {
    const auto range = reactor::http::AddressRange::parse(text);
    if (!range) {
      return fail("--trusted-proxy needs ADDR, ADDR/PREFIX or 'unix', got '" + text + "'");
    }
    trusted_ranges.push_back(*range);
  }
  if (std::any_of(server_header.begin(), server_header.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return fail("--server-header must be printable text");
  }
  if (std::string problem = check_document_root(directory); !problem.empty()) return fail(problem);

  raise_descriptor_limit();

  reactor::http::ServerOptions options;
  options.addresses = addresses;
  for (reactor::UniqueFd& socket : activated) options.listening_fds.push_back(socket.release());
  options.dual_stack = dual_stack;
  options.trusted_proxies = std::move(trusted_ranges);
  options.server_name = server_header == "off" ? "" : server_header;
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

  size_t thread_count = *reactor::LoopGroup::parse_count(threads);
  // One HttpServer per loop; what they share must be thread-safe: the
  // connection limit and the access log file. The file cache, the batch
  // of answers and the lent input buffer are each loop's own.
  auto connection_limit = std::make_shared<reactor::ConnectionLimit>(max_connections);
  options.connection_limit = connection_limit;

  // Every loop listens on the IP addresses (SO_REUSEPORT, the port server
  // 0 got). Unix sockets and sockets from systemd are one socket each,
  // opened by the first loop; the others accept from a dup() of it.
  std::vector<reactor::SocketAddress> ip_addresses;
  for (const reactor::SocketAddress& address : addresses) {
    if (!address.is_unix()) ip_addresses.push_back(address);
  }
  options.reuse_port = thread_count > 1;
  std::vector<std::vector<reactor::UniqueFd>> single_listeners(thread_count);
  auto make_server = [&options, &ip_addresses, &thread_count, &single_listeners](
                         reactor::EventLoop* server_loop, size_t index) {
    reactor::http::ServerOptions own = options;
    if (index > 0) {
      own.addresses = ip_addresses;
      own.listening_fds.clear();
      for (reactor::UniqueFd& fd : single_listeners[index]) {
        own.listening_fds.push_back(fd.release());
      }
    } else if (thread_count > 1) {
      for (const reactor::SocketAddress& address : ip_addresses) {
        reactor::Acceptor::check_available(address);
      }
    }
    auto server = std::make_unique<reactor::http::HttpServer>(server_loop, own);
    if (index == 0) {
      for (size_t other = 1; other < thread_count; ++other) {
        single_listeners[other] = server->duplicate_single_listeners();
      }
      // The ports server 0 got, in the order of the addresses asked for.
      ip_addresses.clear();
      const std::vector<reactor::SocketAddress> bound = server->listen_addresses();
      for (size_t i = 0; i < own.addresses.size(); ++i) {
        if (!bound[i].is_unix()) ip_addresses.push_back(bound[i]);
      }
    }
    return server;
  };

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

    // Log rotation (logrotate's postrotate, or nginx's USR1): every loop
    // writes out the lines it buffered before the signal -- they belong to
    // the renamed file -- then the shared file is opened again by its path.
    // Both signals, so neither kills the server.
    for (int signo : {SIGHUP, SIGUSR1}) {
      loop.on_signal(signo, [&servers, &options] {
        if (!options.shared_access_log) {
          spdlog::info("access log reopened (none configured)");
          return;
        }
        servers->run_on_each([](reactor::http::HttpServer& server) { server.flush_access_log(); });
        if (options.shared_access_log->reopen() == 0) spdlog::info("access log reopened");
      });
    }
    loops.start();
    servers = std::make_unique<HttpServers>(loops, make_server);
    servers->start();
    // One line per listener, with something to click.
    for (const reactor::SocketAddress& address : (*servers)[0].listen_addresses()) {
      spdlog::info("listening on {}, {}", address.to_string(), url_of(address));
    }
    spdlog::info("serving {} ({} thread{})", (*servers)[0].context().root.real_path(), thread_count,
                 thread_count == 1 ? "" : "s");
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
