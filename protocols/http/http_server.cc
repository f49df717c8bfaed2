#include "protocols/http/http_server.h"

#include <spdlog/spdlog.h>

#include "protocols/http/http_session.h"

namespace reactor::http {

TcpServer::Options HttpServer::tcp_options(const ServerOptions& options) {
  TcpServer::Options tcp;
  tcp.max_connections = options.max_connections;
  tcp.idle_timeout = options.idle_timeout;
  tcp.tcp_no_delay = true;
  // The client speaks first: wake up for a connection only once its
  // request has arrived (nginx's "deferred"). A client that sends nothing
  // is handed over after about the header timeout, which then runs again.
  if (options.header_timeout.count() > 0) {
    tcp.defer_accept = std::chrono::ceil<std::chrono::seconds>(options.header_timeout);
  }
  // Backpressure is the session's job (pipeline_output_limit); the core's
  // high-water mark only guards against a bug there.
  tcp.high_water_mark = 64 * 1024 * 1024;
  return tcp;
}

HttpServer::HttpServer(EventLoop* loop, ServerOptions options)
    : loop_(loop),
      context_(std::make_unique<ServerContext>(loop, options)),
      overload_responder_(loop),
      tcp_server_(loop, options.address, tcp_options(options)) {
  context_->batch.set_release_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = HttpSession::from(connection)) session->release_output();
  });
  tcp_server_.set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  tcp_server_.set_message_callback([](const ConnectionPtr& connection, Buffer& input) {
    if (HttpSession* session = HttpSession::from(connection)) {
      session->handle_input(connection, input);
    }
  });
  tcp_server_.set_write_complete_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = HttpSession::from(connection)) {
      session->handle_output_drained(connection);
    }
  });
  if (options.max_connections > 0) {
    tcp_server_.set_overload_callback(
        [this](int fd, const SocketAddress&) { overload_responder_.refuse(fd); });
  }
  spdlog::debug("document root {} (confinement: {})", context_->root.real_path(),
                context_->root.strategy() == protocols::ServedTree::Strategy::kOpenat2
                    ? "openat2 RESOLVE_BENEATH"
                    : "component walk");
}

HttpServer::~HttpServer() {
  if (housekeeping_timer_ != 0) loop_->cancel(housekeeping_timer_);
  shut_down_done_ = nullptr;
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
    ++open_connections_;
    if (context_->draining) {
      connection->close();
      return;
    }
    connection->context() = std::make_shared<HttpSession>(*context_);
    return;
  }
  // Closed.
  if (open_connections_ > 0) --open_connections_;
  if (HttpSession* session = HttpSession::from(connection)) session->handle_closed(connection);
  if (open_connections_ == 0 && shut_down_done_) {
    loop_->defer(std::exchange(shut_down_done_, nullptr));
  }
}

void HttpServer::shut_down(std::function<void()> done) {
  tcp_server_.stop_accepting();
  context_->draining = true;
  flush_access_log();
  if (open_connections_ == 0) {
    done();
    return;
  }
  shut_down_done_ = std::move(done);
  tcp_server_.for_each_connection([](const ConnectionPtr& connection) {
    if (HttpSession* session = HttpSession::from(connection)) {
      session->begin_drain(connection);
    } else {
      connection->close_after_flush();
    }
  });
}

void HttpServer::flush_access_log() {
  if (context_->access_log) context_->access_log->flush();
}

void HttpServer::housekeeping() {
  flush_access_log();
  context_->file_cache.purge_expired(loop_->now());
}

}  // namespace reactor::http
