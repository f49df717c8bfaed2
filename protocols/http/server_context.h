// ServerContext: the state an HttpServer shares among its connections --
// the served tree (document root), file cache, handler, access log, clock, the batch of
// responses waiting for the end of the epoll batch, and scratch space that
// is reused because a loop thread handles one request at a time.
//
// Threading: loop thread only.
#pragma once

#include <array>
#include <memory>

#include "protocols/common/served_tree.h"
#include "protocols/http/access_log.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/forwarded_for.h"
#include "protocols/http/http_date.h"
#include "protocols/http/mime_types.h"
#include "protocols/http/output_batch.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/server_options.h"
#include "protocols/http/static_file_handler.h"

namespace reactor::http {

struct ServerContext {
  // Throws std::system_error if the root or the access log cannot be opened.
  ServerContext(EventLoop* loop, ServerOptions server_options)
      : options(std::move(server_options)),
        root(options.document_root, options.reserved_name),
        mime_types(MimeTypes::with_system_types()),
        file_cache(root, mime_types, options.file_cache),
        handler(root, file_cache, StaticFileHandler::Options{options.directory_listing}),
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
  StaticFileHandler handler;
  std::unique_ptr<AccessLog> access_log;  // null when logging is off
  const TrustedProxies trusted_proxies;
  DateCache dates;
  // Responses wait here for the end of the epoll batch.
  OutputBatch batch;
  // Scratch for the fields of the request being handled.
  std::array<HeaderField, RequestParser::kMaxFields> fields{};
  // Set when the server is shutting down: no response promises persistence.
  bool draining = false;
};

}  // namespace reactor::http
