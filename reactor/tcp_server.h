// TcpServer: an Acceptor plus the set of connections it accepted.
//
// Connection limit: with max_connections set, the server stops accepting
// when that many connections are open (new clients wait in the kernel
// backlog, as with nginx's worker_connections) and resumes as soon as one
// closes. If an overload callback is set instead, the excess client is
// accepted and handed to it for a short best-effort reply (an HTTP 503,
// say) before it is closed.
//
// Threading: loop thread only. Callbacks run on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "reactor/acceptor.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"

namespace reactor {

class TcpServer {
 public:
  struct Options {
    bool reuse_port = false;
    // 0 means no limit (the descriptor limit still applies).
    size_t max_connections = 0;
    // Applied to each new connection; zero disables.
    std::chrono::milliseconds idle_timeout{0};
    // Queued output above which the high-water-mark callback fires.
    size_t high_water_mark = 4 * 1024 * 1024;
    bool tcp_no_delay = true;
    // For protocols where the client speaks first (HTTP): the kernel hands
    // a connection over only once its first bytes have arrived
    // (TCP_DEFER_ACCEPT, waiting at most this long), and the server reads
    // them at once instead of after another turn of the loop. Zero
    // disables; leave it off for protocols where the server speaks first.
    std::chrono::seconds defer_accept{0};
  };
  // Gets the accepted socket of a client beyond max_connections; the server
  // closes it when the callback returns.
  using OverloadCallback = std::function<void(int fd, const SocketAddress& peer)>;

  // Binds and listens at once (throws std::system_error on failure) so the
  // caller learns of a busy port before anything else starts.
  TcpServer(EventLoop* loop, const SocketAddress& address, Options options);
  TcpServer(EventLoop* loop, const SocketAddress& address) : TcpServer(loop, address, Options()) {}
  ~TcpServer();

  void set_connection_callback(Connection::ConnectionCallback cb) {
    connection_callback_ = std::move(cb);
  }
  void set_message_callback(Connection::MessageCallback cb) { message_callback_ = std::move(cb); }
  void set_write_complete_callback(Connection::ConnectionCallback cb) {
    write_complete_callback_ = std::move(cb);
  }
  void set_high_water_mark_callback(Connection::HighWaterMarkCallback cb) {
    high_water_mark_callback_ = std::move(cb);
  }
  void set_overload_callback(OverloadCallback cb) { overload_callback_ = std::move(cb); }

  // Starts accepting.
  void start();
  // Stops accepting for good (graceful shutdown); open connections go on.
  void stop_accepting();

  const SocketAddress& listen_address() const { return acceptor_.address(); }
  size_t connection_count() const { return connections_.size(); }
  // Visits every open connection (e.g. to close idle ones on shutdown).
  void for_each_connection(const std::function<void(const ConnectionPtr&)>& visit) const;

 private:
  void handle_new_connection(UniqueFd socket, const SocketAddress& peer);
  void remove_connection(const ConnectionPtr& connection);

  EventLoop* loop_;
  Options options_;
  Acceptor acceptor_;
  bool listen_on_wildcard_;
  bool started_ = false;
  bool stopped_ = false;
  uint64_t next_connection_id_ = 1;
  std::unordered_map<uint64_t, ConnectionPtr> connections_;

  Connection::ConnectionCallback connection_callback_;
  Connection::MessageCallback message_callback_;
  Connection::ConnectionCallback write_complete_callback_;
  Connection::HighWaterMarkCallback high_water_mark_callback_;
  OverloadCallback overload_callback_;
};

}  // namespace reactor
