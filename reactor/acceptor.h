// Acceptor: a listening socket on a loop that accepts new clients.
//
// The listening socket is level-triggered (unlike every connection): each
// wake-up takes one client off the backlog and epoll reports the socket
// again while more are waiting, so no accept() is spent learning EAGAIN.
// accept4() hands out non-blocking, close-on-exec sockets. When the process
// runs out of descriptors (EMFILE/ENFILE) the listening socket stays
// readable and the level-triggered loop would spin on it. We keep one
// spare descriptor: on
// EMFILE we close it, accept the waiting client, close that at once (the
// client sees a clean close instead of hanging in the backlog) and reopen
// the spare. If even that fails, accepting pauses for a short while.
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <functional>

#include "reactor/channel.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"

namespace reactor {

class Acceptor {
 public:
  using NewConnectionCallback = std::function<void(UniqueFd socket, const SocketAddress& peer)>;

  // Creates, binds and listens. Throws std::system_error if any step fails
  // (address in use, permission, bad address).
  Acceptor(EventLoop* loop, const SocketAddress& address, bool reuse_port);
  ~Acceptor();

  void set_new_connection_callback(NewConnectionCallback cb) { callback_ = std::move(cb); }

  // Starts/stops taking connections. While paused, clients wait in the
  // kernel's backlog; resuming makes epoll report them again. Both do
  // nothing once the socket is closed.
  void resume();
  void pause();
  // Closes the listening socket for good: clients that connect from now on
  // are refused by the kernel at once, and those still waiting in the
  // backlog are reset, instead of hanging until we exit.
  void close();
  bool accepting() const { return channel_.reading(); }

  // Sets TCP_NODELAY on the listening socket; accepted sockets inherit it.
  void set_tcp_no_delay();
  // TCP_DEFER_ACCEPT: accept only once the client has sent something (or
  // `timeout` has passed).
  void set_defer_accept(std::chrono::seconds timeout);

  // The bound address, with the real port when the request asked for 0.
  const SocketAddress& address() const { return address_; }

  // Throws std::system_error (EADDRINUSE...) if `address` could not be
  // bound by a listener without SO_REUSEPORT. Call it before the first
  // listener of a SO_REUSEPORT group: such a bind succeeds beside another
  // process's SO_REUSEPORT listener of the same user, and the two would
  // silently share the port instead of the second reporting it busy.
  static void check_available(const SocketAddress& address);

 private:
  void handle_read();
  void handle_descriptor_exhaustion();

  EventLoop* loop_;
  UniqueFd socket_;
  Channel channel_;
  SocketAddress address_;
  UniqueFd spare_fd_;
  TimerId retry_timer_ = 0;
  NewConnectionCallback callback_;
};

}  // namespace reactor
