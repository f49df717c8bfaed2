// ServerOptions: everything that configures an HttpServer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/http/access_log.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/forwarded_for.h"
#include "protocols/http/response_head.h"
#include "reactor/connection_limit.h"
#include "reactor/socket_address.h"

namespace reactor::http {

struct ServerOptions {
  // Where to listen when neither `addresses` nor `listening_fds` is given.
  SocketAddress address = SocketAddress::loopback_v4(8080);
  // Every address to listen on, each with a listener of its own (IPv4,
  // IPv6, Unix-domain paths), all serving the same site. Port 0 is chosen
  // once: the first IP listener's port is used for every later port-0 one,
  // so "127.0.0.1 and ::1 on a free port" is one port.
  std::vector<SocketAddress> addresses;
  // Sockets already bound and listening (systemd socket activation), served
  // besides `addresses`. The server owns them from its constructor on.
  std::vector<int> listening_fds;
  // An IPv6 wildcard ("::") listener takes IPv4 clients too (IPV6_V6ONLY
  // off); by default it is IPv6-only and 0.0.0.0 is bound separately.
  bool dual_stack = false;
  // The directory served; nothing outside it is ever served or listed.
  std::string document_root = ".";
  // One entry directly in the root that is never served or listed, by its
  // name or through a symlink (empty: none). By default the state that
  // reactor-fileserver keeps in the tree it serves -- its unfinished,
  // unacknowledged uploads -- so the two servers can share a directory
  // without HTTP publishing half-written files.
  std::string reserved_name = ".rftp-uploads";
  // Directories without index.html: an HTML listing, or 403 when false.
  bool directory_listing = true;
  // Serve FILE.br / FILE.gz to clients that accept them (see
  // StaticFileHandler). Off by default: it costs two more lookups per file
  // request, for nothing unless a build step made the siblings.
  bool precompressed = false;
  // "Name: value" fields added to every 2xx, 3xx and 4xx response
  // (checked by add_extra_field(); the server refuses to start otherwise).
  std::vector<std::string> added_fields;
  // Access-Control-Allow-Origin: * on those responses, and OPTIONS
  // answered (CORS preflight) instead of 405.
  bool cors = false;
  // Cache-Control of files and listings; nullopt for the default policy
  // (StaticFileHandler::Options), "" for none.
  std::optional<std::string> cache_control;
  // SPA fallback: a file in the root (relative path) served with 200 for
  // GET/HEAD of a path that does not exist and whose last segment has no
  // '.' (see StaticFileHandler). Empty: none. Checked at start-up.
  std::string fallback;
  // Basic authentication for every GET/HEAD: a file of "user:HASH" lines
  // (BasicAuth). Empty: none. Read at start-up.
  std::string auth_file;
  // Paths with a component starting with '.' (.git/, .env) are 404 and
  // left out of listings, except /.well-known/ (ACME, security.txt).
  bool serve_dotfiles = false;
  // A mime.types file read on top of the built-in table and
  // /etc/mime.types (its choices win). Empty: none.
  std::string mime_types_file;
  // Content-Type of files with no known extension. Empty: MimeTypes'.
  std::string default_type;
  // Keep-alive connections with no traffic for this long are closed; so is
  // a connection whose client stopped reading the response. Zero: never.
  std::chrono::milliseconds idle_timeout{60'000};
  // The first request head must arrive completely within this time of the
  // connect (a client that sends nothing is closed), a later one within
  // this time of its first byte (slowloris defence), else 408 and close.
  // Zero: no limit.
  std::chrono::milliseconds header_timeout{10'000};
  // Beyond this many open connections, new clients get a 503. Zero: no limit.
  size_t max_connections = 0;
  // Combined Log Format destination: "" for none, "-" for stdout, or a file.
  std::string access_log;
  // Reverse proxies whose X-Forwarded-For is believed: for connections
  // from them the access log records the client the field names (the
  // right-most address that is not itself trusted; see forwarded_for.h).
  // From any other peer the field is ignored.
  std::vector<AddressRange> trusted_proxies;

  // Several loops, one HttpServer on each (reactor-httpd --threads): they
  // listen on one port with SO_REUSEPORT, count one connection limit
  // (which then replaces max_connections) and append to one access log
  // file (which then replaces access_log). Both shared objects are
  // thread-safe; everything else a server has is its loop's own.
  bool reuse_port = false;
  std::shared_ptr<ConnectionLimit> connection_limit;
  std::shared_ptr<AccessLogFile> shared_access_log;
  FileCache::Options file_cache;
  // A client that pipelines requests without reading the answers: once
  // this much output is queued for it, its requests are not read further
  // until the output has drained. Bounds memory per connection.
  size_t pipeline_output_limit = 256 * 1024;
  // A request body up to this size is read and thrown away so the
  // connection can carry the next request; a larger one (or a chunked
  // one) is answered and the connection closed instead.
  uint64_t max_discarded_body = 1024 * 1024;

  // --- Routes (HttpServer::route) ---
  // The largest request body a route is given (Content-Length or chunked,
  // decoded). Larger: 413, and the connection is closed after it unless
  // the announced body is small enough to skip (max_discarded_body).
  uint64_t max_body_size = 1024 * 1024;
  // Named in the Server field and on error pages; empty: no Server field
  // and unsigned error pages. Must not contain control characters.
  std::string server_name = "reactor-httpd";
};

}  // namespace reactor::http
