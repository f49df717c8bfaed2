// HttpServer: an HTTP/1.1 server on one EventLoop: static files, and the
// routes an embedder registers (router.h).
//
// Wires a TcpServer to HttpSessions (one per connection, kept in the
// connection's context) that share one ServerContext. Never touches epoll:
// everything goes through the core's TcpServer/Connection/EventLoop.
//
// Usage:
//   EventLoop loop;
//   HttpServer server(&loop, options);   // binds; throws on failure
//   server.route("GET", "/api/status", [](const RouteRequest&, ResponseWriter response) {
//     response.header("Content-Type", "application/json").send("{\"ok\": true}\n");
//   });
//   server.start();
//   loop.on_signal(SIGTERM, [&] { server.drain([&] { loop.stop(); }); });
//   loop.run();
//
// Threading: loop thread only; construct, call and destroy on the thread
// that runs the loop.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "protocols/http/router.h"
#include "protocols/http/server_context.h"
#include "protocols/http/server_options.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_server.h"

namespace reactor::http {

class HttpServer {
 public:
  // Opens the document root and the access log and binds the addresses
  // (one listener each; see ServerOptions::addresses). Throws
  // std::system_error if any of them fails.
  HttpServer(EventLoop* loop, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();

  // Routes, tried before the static handler. `method` is "GET", "POST"...
  // ("" for any method; a GET route answers HEAD too, without the body);
  // route() matches the decoded path exactly, route_prefix() every path
  // that starts with `prefix` ("/api/"). An exact route beats a prefix, a
  // longer prefix a shorter one. A path that has routes, none for the
  // request's method, is answered 405 with Allow. Register on the loop
  // thread; throws std::invalid_argument for a path without a leading '/'
  // or a method that is not a token.
  void route(std::string method, std::string path, RouteHandler handler);
  void route_prefix(std::string method, std::string prefix, RouteHandler handler);
  // Whether a request no route takes goes to the static file handler
  // (the default) or is answered 404.
  void set_static_fallback(bool enabled) { context_->static_fallback = enabled; }

  // Graceful shutdown: close the listening sockets (new clients are refused
  // at once); connections finish the response they are sending (requests
  // not yet answered are dropped, as a client of a closing keep-alive
  // connection expects) and close. `done` runs on the loop once none is
  // left -- soon, if none is open. Bound the wait with a timer of your own:
  // a client that never reads keeps its connection until the idle timeout.
  void drain(std::function<void()> done);
  // Closes every listening socket at once, nothing else (drain() does it
  // too). ServerGroup calls it on every loop before any drain begins, so no
  // client of one loop is closed while another loop still accepts.
  void stop_accepting();

  // The first listener's address (the real port when 0 was asked for).
  const SocketAddress& listen_address() const { return listeners_.front()->listen_address(); }
  // Every listener's address, in the order of the options (addresses, then
  // adopted descriptors).
  std::vector<SocketAddress> listen_addresses() const;
  // New descriptors of the listeners another loop cannot open for itself
  // with SO_REUSEPORT -- Unix paths and adopted descriptors -- for that
  // loop's HttpServer to adopt (ServerOptions::listening_fds), so every
  // loop serves them too. Loop thread, before start().
  std::vector<UniqueFd> duplicate_single_listeners() const;
  size_t connection_count() const;
  // Clients beyond max_connections that were answered 503.
  uint64_t refused_count() const;
  // Writes out buffered access log lines (also done every second).
  void flush_access_log();
  // Log rotation: writes out what is buffered, then opens the access log's
  // path again (see AccessLog::reopen). Returns false, the old file still
  // in use, if it cannot be opened; true otherwise (also with no log).
  bool reopen_access_log();
  const ServerContext& context() const { return *context_; }

 private:
  static TcpServer::Options tcp_options(const ServerOptions& options);
  void open_listeners(const ServerOptions& options);
  void wire(TcpServer& listener);
  void handle_connection(const ConnectionPtr& connection);
  void housekeeping();

  // Declared before listeners_: their destructors abandon the connections,
  // whose sessions still point at the context.
  EventLoop* loop_;
  std::unique_ptr<ServerContext> context_;
  TimerId housekeeping_timer_ = 0;
  // One TcpServer per address rather than one TcpServer with several
  // acceptors: the core stays as it is, and each listener keeps its own
  // connection set, so max_connections applies per listener.
  std::vector<std::unique_ptr<TcpServer>> listeners_;
  std::vector<const TcpServer*> single_listeners_;  // no SO_REUSEPORT: see above
  size_t draining_listeners_ = 0;
};

}  // namespace reactor::http
