// TcpServer: an Acceptor plus the set of connections it accepted.
//
// Connection limit: with max_connections set, the server stops accepting
// when that many connections are open (new clients wait in the kernel
// backlog, as with nginx's worker_connections) and resumes as soon as one
// closes. If an overload reply is set instead, the excess client is
// accepted, sent that reply (an HTTP 503, say) and closed with a lingering
// close, so it reads the reply instead of a reset. Such refused clients
// are not counted against the limit; at most kMaxRefusedLingering of them
// are kept lingering at once, beyond that they are closed at once. Several
// servers (one per loop of a LoopGroup) may share one ConnectionLimit, so
// the limit counts the whole process.
//
// Several loops: see TcpServerGroup, which runs one TcpServer per loop --
// each with its own SO_REUSEPORT listener, or one of them accepting and
// handing sockets to the others (set_hand_off / adopt_connection).
//
// Threading: loop thread only, except where a method says otherwise.
// Callbacks run on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "reactor/acceptor.h"
#include "reactor/connection.h"
#include "reactor/connection_limit.h"
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
    // Shared by the servers of a group so max_connections counts them
    // all; when set, it replaces max_connections above. Null: the server
    // keeps a limit of its own.
    std::shared_ptr<ConnectionLimit> connection_limit;
    // An IPv6 listener takes IPv6 clients only; false makes "::" dual-stack.
    bool ipv6_only = true;
  };
  // Receives each accepted socket instead of this server (the hand-off
  // design: one acceptor, connections served on other loops). A slot of the
  // connection limit is already taken for it; whoever ends up serving it
  // gives that slot back when the connection closes.
  using HandOff = std::function<void(UniqueFd socket, const SocketAddress& peer)>;
  // The bytes to send a client beyond max_connections before closing it.
  using OverloadReply = std::function<std::string(const SocketAddress& peer)>;
  static constexpr size_t kMaxRefusedLingering = 256;

  // Binds and listens at once (throws std::system_error on failure) so the
  // caller learns of a busy port before anything else starts.
  TcpServer(EventLoop* loop, const SocketAddress& address, Options options);
  TcpServer(EventLoop* loop, const SocketAddress& address) : TcpServer(loop, address, Options()) {}
  // Serves a socket that is already bound and listening (systemd socket
  // activation); reuse_port and ipv6_only do not apply. Throws
  // std::system_error if it is not a listening socket.
  TcpServer(EventLoop* loop, UniqueFd listening_socket, Options options);
  // A server with no listening socket of its own: it serves the sockets
  // handed to adopt_connection() (the other loops of the hand-off design).
  TcpServer(EventLoop* loop, Options options);
  // Closes every connection without running any more callbacks
  // (Connection::abandon): they may use what dies with the server.
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
  void set_overload_reply(OverloadReply reply) { overload_reply_ = std::move(reply); }
  void set_hand_off(HandOff hand_off) { hand_off_ = std::move(hand_off); }

  // Serves `socket`, accepted by another server of the group, which already
  // took its slot of the shared connection limit.
  void adopt_connection(UniqueFd socket, const SocketAddress& peer);

  // Starts accepting.
  void start();
  // Stops accepting for good (graceful shutdown) and closes the listening
  // socket, so new clients are refused at once instead of waiting in the
  // backlog for a server that will never accept them. Open connections go
  // on. listen_address() stays valid.
  void stop_accepting();
  // Graceful shutdown in one place: stop_accepting(), then `begin` for
  // every open connection (typically: finish the current answer, then
  // close_after_flush()), then `done` once the last connection has closed
  // -- soon (from the loop, never from inside this call) if none is open.
  // Bounding the wait is the caller's business (a grace timer).
  void drain(std::function<void(const ConnectionPtr&)> begin, std::function<void()> done);

  // The bound address (with the real port when 0 was asked); an empty
  // address for a server without a listening socket.
  const SocketAddress& listen_address() const;
  // Another descriptor of the listening socket, for a TcpServer on another
  // loop to accept from too (Acceptor::duplicate); empty without one.
  UniqueFd duplicate_listening_socket() const;
  // Open connections on this server (refused overload clients not
  // included); connection_limit().open_count() counts the whole group.
  size_t connection_count() const { return connections_.size(); }
  const ConnectionLimit& connection_limit() const { return *limit_; }
  // Clients sent the overload reply so far. Any thread.
  uint64_t refused_count() const { return refused_count_.load(std::memory_order_relaxed); }
  // Visits every open connection (e.g. to close idle ones on shutdown).
  void for_each_connection(const std::function<void(const ConnectionPtr&)>& visit) const;

 private:
  void set_up_acceptor();
  void handle_new_connection(UniqueFd socket, const SocketAddress& peer);
  void add_connection(UniqueFd socket, const SocketAddress& peer);
  void resume_if_room();
  void refuse(UniqueFd socket, const SocketAddress& peer);
  void remove_connection(const ConnectionPtr& connection);
  void finish_drain_if_done();
  SocketAddress local_address_of(int socket) const;

  EventLoop* loop_;
  Options options_;
  std::optional<Acceptor> acceptor_;
  bool listen_on_wildcard_;
  std::shared_ptr<ConnectionLimit> limit_;
  uint64_t limit_waiter_ = 0;
  // A client accepted just as the limit filled (another loop took the last
  // slot): it waits here, as it would have in the backlog, until a slot
  // frees, instead of being dropped.
  std::optional<std::pair<UniqueFd, SocketAddress>> waiting_client_;
  bool started_ = false;
  bool draining_ = false;
  uint64_t next_connection_id_ = 1;
  std::unordered_map<uint64_t, ConnectionPtr> connections_;
  // Refused clients still lingering after the overload reply.
  std::unordered_map<uint64_t, ConnectionPtr> refused_;
  std::atomic<uint64_t> refused_count_{0};

  Connection::ConnectionCallback connection_callback_;
  Connection::MessageCallback message_callback_;
  Connection::ConnectionCallback write_complete_callback_;
  Connection::HighWaterMarkCallback high_water_mark_callback_;
  OverloadReply overload_reply_;
  HandOff hand_off_;
  std::function<void()> drain_done_;
  // Expires with the server, for tasks it queued to the loop.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace reactor
