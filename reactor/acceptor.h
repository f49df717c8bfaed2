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
#include <string>

#include "reactor/channel.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"

namespace reactor {

class Acceptor {
 public:
  using NewConnectionCallback = std::function<void(UniqueFd socket, const SocketAddress& peer)>;

  // Creates, binds and listens. Throws std::system_error if any step fails
  // (address in use, permission, bad address). An IPv6 socket is IPv6-only
  // unless `v6_only` is false (then "::" takes IPv4 clients too, as
  // ::ffff:a.b.c.d). A Unix-domain path is taken over if it holds a stale
  // socket (nobody accepts on it) and refused if anything else is there; the
  // socket file is removed again by close() and the destructor.
  Acceptor(EventLoop* loop, const SocketAddress& address, bool reuse_port, bool v6_only = true);
  // Adopts a socket that is already bound and listening (systemd socket
  // activation hands those over as descriptors 3, 4...). It is made
  // non-blocking and close-on-exec; its file, if a Unix socket, is not ours
  // to remove. Throws std::system_error if `socket` does not listen.
  Acceptor(EventLoop* loop, UniqueFd listening_socket);
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
  // Both TCP options do nothing on a Unix-domain socket.
  void set_tcp_no_delay();
  // TCP_DEFER_ACCEPT: accept only once the client has sent something (or
  // `timeout` has passed).
  void set_defer_accept(std::chrono::seconds timeout);

  // The bound address, with the real port when the request asked for 0.
  const SocketAddress& address() const { return address_; }

  // Another descriptor of this listening socket (close-on-exec), for an
  // Acceptor on another loop: the way to serve one socket from several
  // loops when SO_REUSEPORT cannot give each its own (a Unix path, a socket
  // inherited from systemd). Every such loop's epoll then reports each new
  // client and one accept() takes it; the others find EAGAIN, a wake-up
  // spent. Empty once closed. Throws std::system_error if dup fails.
  UniqueFd duplicate() const;

  // Throws std::system_error (EADDRINUSE...) if `address` could not be
  // bound by a listener without SO_REUSEPORT. Call it before the first
  // listener of a SO_REUSEPORT group: such a bind succeeds beside another
  // process's SO_REUSEPORT listener of the same user, and the two would
  // silently share the port instead of the second reporting it busy.
  static void check_available(const SocketAddress& address);

 private:
  void finish_setup();
  void handle_read();
  void handle_descriptor_exhaustion();
  void remove_unix_socket_file();

  EventLoop* loop_;
  UniqueFd socket_;
  Channel channel_;
  SocketAddress address_;
  UniqueFd spare_fd_;
  TimerId retry_timer_ = 0;
  NewConnectionCallback callback_;
  // The socket file we created (bound AF_UNIX path), removed on close.
  std::string created_socket_file_;
};

}  // namespace reactor
