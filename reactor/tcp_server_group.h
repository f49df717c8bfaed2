// TcpServerGroup: one TcpServer per loop of a LoopGroup, behind one port,
// in either of the two designs people use (see docs/ARCHITECTURE.md,
// "Several loops"):
//
//   kReusePort -- every loop has its own listening socket on the same port
//     (SO_REUSEPORT) and the kernel picks one per new client by a hash of
//     its addresses. No cross-thread hand-off at all; the choice nginx
//     makes with `listen ... reuseport`. Per-client, not per-load: a loop
//     busy with heavy clients still gets its share of new ones.
//   kHandOff -- loop 0 alone listens and hands each accepted socket to the
//     loops round-robin through EventLoop::post (muduo's design). One
//     post() and eventfd wake-up per connection, an even spread however the
//     kernel would hash, and a listener that a drain closes in one place.
//
// Either way a connection is served by one loop for its whole life and its
// callbacks run on that loop's thread. The connection limit is shared by
// every loop (one ConnectionLimit), so max_connections counts the process.
//
// Threading: construct, set the callbacks, start(), drain() and destroy on
// the base loop's thread while the group's loops run. connection_count(),
// refused_count() and listen_address(): any thread. Callbacks run on the
// thread of the connection's loop, so whatever they share across loops
// must be thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "reactor/connection_limit.h"
#include "reactor/loop_group.h"
#include "reactor/server_group.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_server.h"

namespace reactor {

class TcpServerGroup {
 public:
  enum class Balancing { kReusePort, kHandOff };
  struct Options {
    // max_connections counts all loops; reuse_port is set as the design
    // needs, whatever is given here.
    TcpServer::Options tcp;
    Balancing balancing = Balancing::kReusePort;
  };

  // Binds every listening socket the design needs (throws
  // std::system_error, e.g. address in use).
  TcpServerGroup(LoopGroup& loops, const SocketAddress& address, Options options);

  // Set before start(); each loop's server gets a copy.
  void set_connection_callback(Connection::ConnectionCallback cb) {
    connection_callback_ = std::move(cb);
  }
  void set_message_callback(Connection::MessageCallback cb) { message_callback_ = std::move(cb); }
  void set_write_complete_callback(Connection::ConnectionCallback cb) {
    write_complete_callback_ = std::move(cb);
  }
  void set_overload_reply(TcpServer::OverloadReply reply) { overload_reply_ = std::move(reply); }

  void start();
  // TcpServer::drain on every loop at once; `begin` runs on each
  // connection's own loop, `done` on the base loop when all have finished.
  void drain(std::function<void(const ConnectionPtr&)> begin, std::function<void()> done);

  const SocketAddress& listen_address() const { return servers_[0].listen_address(); }
  size_t connection_count() const { return limit_->open_count(); }
  uint64_t refused_count() const;
  Balancing balancing() const { return balancing_; }
  ServerGroup<TcpServer>& servers() { return servers_; }

 private:
  static std::unique_ptr<TcpServer> make_server(EventLoop* loop, size_t index,
                                                const SocketAddress& address, Options options);
  void hand_off(UniqueFd socket, const SocketAddress& peer);

  Balancing balancing_;
  std::shared_ptr<ConnectionLimit> limit_;
  Connection::ConnectionCallback connection_callback_;
  Connection::MessageCallback message_callback_;
  Connection::ConnectionCallback write_complete_callback_;
  TcpServer::OverloadReply overload_reply_;
  // Loop 0's thread only (the acceptor's): the next loop to hand to.
  size_t next_loop_ = 0;
  ServerGroup<TcpServer> servers_;
};

}  // namespace reactor
