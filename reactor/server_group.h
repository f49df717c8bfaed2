// ServerGroup<Server>: one server per loop of a LoopGroup -- how a
// single-threaded server (a TcpServer, or a protocol's server built on one)
// uses every core without sharing a loop between threads.
//
// Each server is built, started, drained and destroyed on its own loop's
// thread, so it needs no lock; what the servers share (a ConnectionLimit,
// an upload registry, an access log file) is handed to the factory and
// must be thread-safe. Typically each server listens with SO_REUSEPORT on
// the same port and the kernel spreads the clients (TcpServerGroup shows
// the other design, one acceptor handing sockets to the loops).
//
//   EventLoop base;
//   LoopGroup loops(&base, LoopGroup::available_cpus());
//   loops.start();
//   ServerGroup<EchoServer> servers(loops, [&](EventLoop* loop, size_t index) {
//     return std::make_unique<EchoServer>(loop, address_for(index), options);
//   });
//   servers.start();
//   base.on_signal(SIGTERM, [&] { servers.drain(drain_one, [&] { base.stop(); }); });
//   base.run();
//
// Threading: construct, start(), drain() and destroy on the base loop's
// thread while the group's loops run. Destroy it before the LoopGroup.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "reactor/acceptor.h"
#include "reactor/event_loop.h"
#include "reactor/loop_group.h"

namespace reactor {

template <class Server>
class ServerGroup {
 public:
  using Factory = std::function<std::unique_ptr<Server>(EventLoop* loop, size_t index)>;
  // Asks `server` to finish and close its connections, then to call
  // `finished` (from its loop) once none is left.
  using DrainOne = std::function<void(Server& server, std::function<void()> finished)>;

  // Builds the servers in loop order, each on its loop's thread: server 0
  // first, so that one bound to port 0 can tell the factory which port the
  // others must share. If a factory throws, the servers already built are
  // destroyed (on their threads) and the exception is rethrown.
  ServerGroup(LoopGroup& loops, const Factory& make) : loops_(loops) {
    servers_.resize(loops.size());
    try {
      for (size_t index = 0; index < loops.size(); ++index) {
        loops.run_and_wait(index, [&] { servers_[index] = make(loops.loop(index), index); });
      }
    } catch (...) {
      destroy_servers();
      throw;
    }
  }
  ~ServerGroup() { destroy_servers(); }
  ServerGroup(const ServerGroup&) = delete;
  ServerGroup& operator=(const ServerGroup&) = delete;

  // The usual factory: every server listens on one port with SO_REUSEPORT
  // and the kernel spreads the clients. `make(loop, address)` builds a
  // server listening there. Server 0 binds `address` first (after checking
  // that no other process holds the port); the others bind the port it
  // got, so port 0 works. With one loop, no SO_REUSEPORT is needed and
  // `make` should not set it.
  template <class Make>
  static Factory sharing_port(const SocketAddress& address, size_t count, Make make) {
    return [bound = SocketAddress(address), count, make](EventLoop* loop, size_t index) mutable {
      if (index == 0 && count > 1) Acceptor::check_available(bound);
      std::unique_ptr<Server> server = make(loop, bound);
      if (index == 0) bound = server->listen_address();
      return server;
    };
  }

  size_t size() const { return servers_.size(); }
  // Server `index`: use it on loop `index`'s thread only (or through
  // run_on_each); reading what it says is thread-safe is fine anywhere.
  Server& operator[](size_t index) { return *servers_[index]; }
  const Server& operator[](size_t index) const { return *servers_[index]; }
  LoopGroup& loops() const { return loops_; }

  // Runs `action` on every server, each on its own thread, and waits.
  void run_on_each(const std::function<void(Server&)>& action) {
    for (size_t index = 0; index < servers_.size(); ++index) {
      loops_.run_and_wait(index, [&] { action(*servers_[index]); });
    }
  }

  void start() {
    run_on_each([](Server& server) { server.start(); });
  }

  // Begins draining every server, each on its own loop, and returns once
  // all have begun; `done` runs on the base loop once the last one has
  // finished. A Server with stop_accepting() has it called on every loop
  // first: otherwise a client could see its connection on one loop closed
  // and still be accepted by another loop whose drain has not begun.
  void drain(const DrainOne& drain_one, std::function<void()> done) {
    if constexpr (requires(Server & server) { server.stop_accepting(); }) {
      run_on_each([](Server& server) { server.stop_accepting(); });
    }
    auto remaining = std::make_shared<std::atomic<size_t>>(servers_.size());
    auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
    EventLoop* base = loops_.base_loop();
    run_on_each([&](Server& server) {
      drain_one(server, [remaining, shared_done, base] {
        if (remaining->fetch_sub(1) != 1) return;
        // Posted even from the base loop: never call `done` from inside
        // drain(), whose caller may not expect it yet.
        base->post([shared_done] {
          if (*shared_done) (*shared_done)();
        });
      });
    });
  }

 private:
  void destroy_servers() {
    for (size_t index = servers_.size(); index-- > 0;) {
      if (servers_[index]) loops_.run_and_wait(index, [&] { servers_[index].reset(); });
    }
  }

  LoopGroup& loops_;
  std::vector<std::unique_ptr<Server>> servers_;
};

}  // namespace reactor
