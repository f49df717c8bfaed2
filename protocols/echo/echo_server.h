// EchoServer: sends every byte it receives back to its sender.
//
// The smallest useful protocol module, and the model for the others: it
// owns a TcpServer, installs callbacks, and never touches epoll. Its one
// subtlety is backpressure: a peer that sends but never reads would make
// us queue its echo without bound, so past the high-water mark we stop
// reading from that peer until its queue has drained.
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_server.h"

namespace reactor::echo {

class EchoServer {
 public:
  struct Options {
    TcpServer::Options tcp;
    // Queued echo per connection above which reading from it pauses.
    size_t high_water_mark = 1024 * 1024;
  };

  // Binds at once; throws std::system_error if the address is unusable.
  EchoServer(EventLoop* loop, const SocketAddress& address, Options options);
  EchoServer(EventLoop* loop, const SocketAddress& address)
      : EchoServer(loop, address, Options()) {}

  void start() { server_.start(); }
  // Graceful shutdown: close the listening socket, let every connection
  // flush what it owes, close them, then call `done` from the loop.
  void drain(std::function<void()> done);
  // Closes the listening socket, nothing else (drain() does it too).
  void stop_accepting() { server_.stop_accepting(); }

  const SocketAddress& listen_address() const { return server_.listen_address(); }
  size_t connection_count() const { return server_.connection_count(); }

 private:
  static void handle_message(const ConnectionPtr& connection, Buffer& input);

  TcpServer server_;
};

}  // namespace reactor::echo
