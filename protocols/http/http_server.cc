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
  // One limit for all of this server's listeners, as for all loops' servers.
  if (!tcp.connection_limit && options.max_connections > 0) {
    tcp.connection_limit = std::make_shared<ConnectionLimit>(options.max_connections);
  }
  tcp.reuse_port = options.reuse_port;
  tcp.idle_timeout = options.idle_timeout;
  tcp.tcp_no_delay = true;
  tcp.ipv6_only = !options.dual_stack;
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
    : loop_(loop), context_(std::make_unique<ServerContext>(loop, options)) {
  const std::string& name = context_->options.server_name;
  if (std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    throw std::invalid_argument("server name with control characters");
  }
  context_->batch.set_release_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = session_of<HttpSession>(connection)) session->release_output();
  });
  open_listeners(options);
  for (auto& listener : listeners_) wire(*listener);
  spdlog::debug("document root {} (confinement: {})", context_->root.real_path(),
                context_->root.strategy() == protocols::ServedTree::Strategy::kOpenat2
                    ? "openat2 RESOLVE_BENEATH"
                    : "component walk");
}

void HttpServer::open_listeners(const ServerOptions& options) {
  // Adopted descriptors first become ours, so a failing bind below does
  // not leak them.
  std::vector<UniqueFd> adopted;
  for (int fd : options.listening_fds) adopted.emplace_back(fd);
  std::vector<SocketAddress> addresses = options.addresses;
  if (addresses.empty() && adopted.empty()) addresses.push_back(options.address);
  const TcpServer::Options tcp = tcp_options(options);
  uint16_t chosen_port = 0;
  for (SocketAddress address : addresses) {
    if (!address.is_unix() && address.port() == 0 && chosen_port != 0) {
      address = *SocketAddress::parse(address.ip(), chosen_port);
    }
    // SO_REUSEPORT (several loops on one port) is for IP listeners only:
    // a Unix socket path is one listener, served by one loop.
    TcpServer::Options listener_options = tcp;
    if (address.is_unix()) listener_options.reuse_port = false;
    listeners_.push_back(std::make_unique<TcpServer>(loop_, address, listener_options));
    if (address.is_unix()) single_listeners_.push_back(listeners_.back().get());
    if (!address.is_unix() && chosen_port == 0) {
      chosen_port = listeners_.back()->listen_address().port();
    }
  }
  for (UniqueFd& fd : adopted) {
    listeners_.push_back(std::make_unique<TcpServer>(loop_, std::move(fd), tcp));
    single_listeners_.push_back(listeners_.back().get());
  }
}

std::vector<UniqueFd> HttpServer::duplicate_single_listeners() const {
  std::vector<UniqueFd> copies;
  for (const TcpServer* listener : single_listeners_) {
    copies.push_back(listener->duplicate_listening_socket());
  }
  return copies;
}

void HttpServer::wire(TcpServer& listener) {
  listener.set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  listener.set_message_callback([](const ConnectionPtr& connection, Buffer& input) {
    if (HttpSession* session = session_of<HttpSession>(connection)) {
      session->handle_input(connection, input);
    }
  });
  listener.set_write_complete_callback([](const ConnectionPtr& connection) {
    if (HttpSession* session = session_of<HttpSession>(connection)) {
      session->handle_output_drained(connection);
    }
  });
  if (context_->options.connection_limit ? context_->options.connection_limit->limited()
                                         : context_->options.max_connections > 0) {
    // The polite "no" beyond --max-connections; the core sends it and
    // closes with a lingering close, so the client reads it.
    listener.set_overload_reply([this](const SocketAddress&) {
      std::string response;
      const ResponseContext context{1, false, false, context_->dates.http_date(),
                                    context_->options.server_name};
      append_error_response(response, Status::kServiceUnavailable, context, "Retry-After: 1\r\n");
      return response;
    });
  }
}

std::vector<SocketAddress> HttpServer::listen_addresses() const {
  std::vector<SocketAddress> addresses;
  for (const auto& listener : listeners_) addresses.push_back(listener->listen_address());
  return addresses;
}

size_t HttpServer::connection_count() const {
  size_t count = 0;
  for (const auto& listener : listeners_) count += listener->connection_count();
  return count;
}

uint64_t HttpServer::refused_count() const {
  uint64_t count = 0;
  for (const auto& listener : listeners_) count += listener->refused_count();
  return count;
}

HttpServer::~HttpServer() {
  if (housekeeping_timer_ != 0) loop_->cancel(housekeeping_timer_);
  flush_access_log();
}

void HttpServer::start() {
  for (auto& listener : listeners_) listener->start();
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

void HttpServer::stop_accepting() {
  for (auto& listener : listeners_) listener->stop_accepting();
}

void HttpServer::drain(std::function<void()> done) {
  context_->draining = true;
  flush_access_log();
  // `done` once every listener has seen its last connection close; each
  // reports from the loop, never from inside its drain() call.
  draining_listeners_ = listeners_.size();
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& listener : listeners_) {
    listener->drain(
        [](const ConnectionPtr& connection) {
          if (HttpSession* session = session_of<HttpSession>(connection)) {
            session->begin_drain(connection);
          } else {
            connection->close_after_flush();
          }
        },
        [this, shared_done] {
          if (--draining_listeners_ == 0 && *shared_done) (*shared_done)();
        });
  }
}

void HttpServer::flush_access_log() {
  if (context_->access_log) context_->access_log->flush();
}

bool HttpServer::reopen_access_log() {
  return !context_->access_log || context_->access_log->reopen() == 0;
}

void HttpServer::housekeeping() {
  flush_access_log();
  context_->file_cache.purge_expired(loop_->now());
}

}  // namespace reactor::http
