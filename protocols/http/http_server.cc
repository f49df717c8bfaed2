#include "protocols/http/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "protocols/http/error_page.h"
#include "protocols/http/http_session.h"
#include "reactor/session.h"

namespace reactor::http {

TcpServer::Options HttpServer::tcp_options(const ServerOptions& options) {
  TcpServer::Options tcp;
  tcp.max_connections = options.max_connections;
  tcp.connection_limit = options.connection_limit;
  tcp.reuse_port = options.reuse_port;
  tcp.idle_timeout = options.idle_timeout;
  tcp.tcp_no_delay = true;
  // The client speaks first: wake up for a connection only once its
  // request has arrived (nginx's "deferred"), for a period the session's
  // first header timer makes up for (see deferred_accept_period()).
  tcp.defer_accept = deferred_accept_period(options);
  // Backpressure is the session's job (pipeline_output_limit); the core's
  // high-water mark only guards against a bug there.
  tcp.high_water_mark = 64 * 1024 * 1024;
  return tcp;
}

HttpServer::HttpServer(EventLoop* loop, ServerOptions options)
    : loop_(loop),
      context_(std::make_unique<ServerContext>(loop, options)),
      tcp_server_(loop, options.address, tcp_options(options)) {
  const std::string& name = context_->options.server_name;
  if (std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    throw std::invalid_argument("server name with control characters");
  }
  context_->batch.set_release_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = session_of<HttpSession>(connection)) session->release_output();
  });
  tcp_server_.set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  tcp_server_.set_message_callback([](const ConnectionPtr& connection, Buffer& input) {
    if (HttpSession* session = session_of<HttpSession>(connection)) {
      session->handle_input(connection, input);
    }
  });
  tcp_server_.set_write_complete_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = session_of<HttpSession>(connection)) {
      session->handle_output_drained(connection);
    }
  });
  if (options.connection_limit ? options.connection_limit->limited()
                               : options.max_connections > 0) {
    // The polite "no" beyond --max-connections; the core sends it and
    // closes with a lingering close, so the client reads it.
    tcp_server_.set_overload_reply([this](const SocketAddress&) {
      std::string response;
      const ResponseContext context{1, false, false, context_->dates.http_date(),
                                    context_->options.server_name};
      append_error_response(response, Status::kServiceUnavailable, context, "Retry-After: 1\r\n");
      return response;
    });
  }
  spdlog::debug("document root {} (confinement: {})", context_->root.real_path(),
                context_->root.strategy() == protocols::ServedTree::Strategy::kOpenat2
                    ? "openat2 RESOLVE_BENEATH"
                    : "component walk");
}

HttpServer::~HttpServer() {
  if (housekeeping_timer_ != 0) loop_->cancel(housekeeping_timer_);
  flush_access_log();
}

void HttpServer::start() {
  tcp_server_.start();
  if (housekeeping_timer_ == 0) {
    housekeeping_timer_ = loop_->run_every(std::chrono::seconds(1), [this] { housekeeping(); });
  }
}

void HttpServer::handle_connection(const ConnectionPtr& connection) {
  if (connection->connected()) {
    auto session = std::make_shared<HttpSession>(*context_);
    attach_session(connection, session);
    session->start(connection);
    // A client that half-closes after its request still gets the answer:
    // the session hands its batched output over before closing.
    connection->set_peer_shutdown_callback([](const ConnectionPtr& finished) {
      if (HttpSession* session = session_of<HttpSession>(finished)) {
        session->handle_peer_finished(finished);
      }
    });
    return;
  }
  if (HttpSession* session = session_of<HttpSession>(connection))
    session->handle_closed(connection);
}

void HttpServer::route(std::string method, std::string path, RouteHandler handler) {
  context_->router.add(std::move(method), std::move(path), false, std::move(handler));
}

void HttpServer::route_prefix(std::string method, std::string prefix, RouteHandler handler) {
  context_->router.add(std::move(method), std::move(prefix), true, std::move(handler));
}

void HttpServer::drain(std::function<void()> done) {
  context_->draining = true;
  flush_access_log();
  tcp_server_.drain(
      [](const ConnectionPtr& connection) {
        if (HttpSession* session = session_of<HttpSession>(connection)) {
          session->begin_drain(connection);
        } else {
          connection->close_after_flush();
        }
      },
      std::move(done));
}

void HttpServer::flush_access_log() {
  if (context_->access_log) context_->access_log->flush();
}

void HttpServer::housekeeping() {
  flush_access_log();
  context_->file_cache.purge_expired(loop_->now());
}

}  // namespace reactor::http
