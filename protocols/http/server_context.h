// ServerContext: the state an HttpServer shares among its connections --
// the served tree (document root), file cache, handler, access log, clock, the batch of
// responses waiting for the end of the epoll batch, and scratch space that
// is reused because a loop thread handles one request at a time.
//
// Threading: loop thread only.
#pragma once

#include <array>
#include <memory>
#include <stdexcept>
#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/access_log.h"
#include "protocols/http/basic_auth.h"
#include "protocols/http/extra_fields.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/forwarded_for.h"
#include "protocols/http/header_text.h"
#include "protocols/http/http_date.h"
#include "protocols/http/mime_types.h"
#include "protocols/http/output_batch.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/router.h"
#include "protocols/http/server_options.h"
#include "protocols/http/static_file_handler.h"
#include "protocols/http/url_path.h"

namespace reactor::http {

struct ServerContext {
  // Throws std::system_error if the root or the access log cannot be opened.
  ServerContext(EventLoop* loop, ServerOptions server_options)
      : options(std::move(server_options)),
        root(options.document_root, options.reserved_name),
        mime_types(make_mime_types(options)),
        file_cache(root, mime_types, options.file_cache),
        auth(load_auth(options.auth_file)),
        handler(root, file_cache,
                StaticFileHandler::Options{
                    options.directory_listing, options.precompressed, options.cors,
                    options.cache_control,
                    checked_fallback(root, options.fallback, !options.serve_dotfiles), auth.get(),
                    !options.serve_dotfiles}),
        added_fields(make_added_fields(options)),
        access_log(options.shared_access_log
                       ? std::make_unique<AccessLog>(options.shared_access_log)
                   : options.access_log.empty() ? nullptr
                                                : std::make_unique<AccessLog>(options.access_log)),
        trusted_proxies(options.trusted_proxies),
        batch(loop) {}

  const ServerOptions options;
  const protocols::ServedTree root;
  const MimeTypes mime_types;
  FileCache file_cache;
  std::unique_ptr<BasicAuth> auth;  // null without --auth-file
  StaticFileHandler handler;
  // What every 2xx-4xx head carries besides the usual (ResponseContext).
  const std::string added_fields;
  std::unique_ptr<AccessLog> access_log;  // null when logging is off
  const TrustedProxies trusted_proxies;
  DateCache dates;
  // Responses wait here for the end of the epoll batch.
  OutputBatch batch;
  // Scratch for the fields of the request being handled.
  std::array<HeaderField, RequestParser::kMaxFields> fields{};
  // Set when the server is shutting down: no response promises persistence.
  bool draining = false;
  // The embedder's routes (HttpServer::route), tried before the static
  // handler; without the fallback, what no route takes is a 404.
  Router router;
  bool static_fallback = true;

 private:
  static MimeTypes make_mime_types(const ServerOptions& options) {
    MimeTypes types = MimeTypes::with_system_types();
    if (!options.mime_types_file.empty() && !types.load_file(options.mime_types_file)) {
      throw std::invalid_argument("--mime-types: cannot read '" + options.mime_types_file + "'");
    }
    if (!options.default_type.empty()) types.set_default_type(options.default_type);
    return types;
  }

  static std::unique_ptr<BasicAuth> load_auth(const std::string& path) {
    if (path.empty()) return nullptr;
    protocols::Result<BasicAuth, std::string> loaded = BasicAuth::load(path);
    if (!loaded) throw std::invalid_argument("--auth-file: " + loaded.error());
    return std::make_unique<BasicAuth>(std::move(loaded.value()));
  }

  // The fallback as a path relative to the root, once it is known to name
  // a regular file inside it (and, with dotfiles denied, none of whose
  // components is a dotfile: the fallback would serve it for every route);
  // throws std::invalid_argument otherwise.
  static std::string checked_fallback(const protocols::ServedTree& root,
                                      const std::string& fallback, bool deny_dotfiles) {
    if (fallback.empty()) return fallback;
    DecodedPath path;
    const std::string slashed = fallback.starts_with('/') ? fallback : "/" + fallback;
    protocols::Result<protocols::TreeObject> opened =
        protocols::make_error_code(protocols::TreeErrc::kOutsideRoot);
    if (decode_request_path(slashed, path) && !path.climbed && !path.relative.empty()) {
      opened = root.open_for_reading(path.relative);
    }
    if (!opened || !S_ISREG(opened.value().info.st_mode)) {
      throw std::invalid_argument("--fallback '" + fallback +
                                  "': not a readable regular file inside DIR");
    }
    if (deny_dotfiles && names_dotfile(path.relative)) {
      throw std::invalid_argument("--fallback '" + fallback +
                                  "': a dotfile, which --dotfiles deny hides from clients");
    }
    return path.relative;
  }

  // Throws std::invalid_argument naming the field that cannot be added.
  static std::string make_added_fields(const ServerOptions& options) {
    std::string fields;
    for (const std::string& line : options.added_fields) {
      if (auto added = add_extra_field(line, fields); !added) {
        throw std::invalid_argument("--header '" + line + "': " + added.error());
      }
      // Two Access-Control-Allow-Origin fields make browsers refuse both.
      if (options.cors &&
          equals_lower(line.substr(0, line.find(':')), "access-control-allow-origin")) {
        throw std::invalid_argument("--header '" + line +
                                    "': --cors sends Access-Control-Allow-Origin: * already; "
                                    "drop --cors to send your own origin");
      }
    }
    if (options.cors) fields += "Access-Control-Allow-Origin: *\r\n";
    return fields;
  }
};

}  // namespace reactor::http
