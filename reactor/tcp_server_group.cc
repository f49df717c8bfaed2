#include "reactor/tcp_server_group.h"

#include <memory>

namespace reactor {

TcpServerGroup::TcpServerGroup(LoopGroup& loops, const SocketAddress& address, Options options)
    : balancing_(options.balancing),
      limit_(std::make_shared<ConnectionLimit>(options.tcp.max_connections)),
      servers_(loops, [&, bound = address](EventLoop* loop, size_t index) mutable {
        options.tcp.connection_limit = limit_;
        if (index == 0 && options.balancing == Balancing::kReusePort && loops.size() > 1) {
          Acceptor::check_available(bound);
        }
        auto server = make_server(loop, index, bound, options);
        // Port 0 asks for any port: the others join the one loop 0 got.
        if (index == 0) bound = server->listen_address();
        return server;
      }) {}

std::unique_ptr<TcpServer> TcpServerGroup::make_server(EventLoop* loop, size_t index,
                                                       const SocketAddress& address,
                                                       Options options) {
  if (options.balancing == Balancing::kHandOff) {
    options.tcp.reuse_port = false;
    if (index == 0) return std::make_unique<TcpServer>(loop, address, options.tcp);
    return std::make_unique<TcpServer>(loop, options.tcp);
  }
  options.tcp.reuse_port = true;
  return std::make_unique<TcpServer>(loop, address, options.tcp);
}

void TcpServerGroup::start() {
  servers_.run_on_each([this](TcpServer& server) {
    server.set_connection_callback(connection_callback_);
    server.set_message_callback(message_callback_);
    server.set_write_complete_callback(write_complete_callback_);
    if (overload_reply_) server.set_overload_reply(overload_reply_);
  });
  if (balancing_ == Balancing::kHandOff && servers_.size() > 1) {
    servers_[0].set_hand_off(
        [this](UniqueFd socket, const SocketAddress& peer) { hand_off(std::move(socket), peer); });
  }
  servers_.start();
}

void TcpServerGroup::hand_off(UniqueFd socket, const SocketAddress& peer) {
  const size_t target = next_loop_;
  next_loop_ = (next_loop_ + 1) % servers_.size();
  if (target == 0) {
    servers_[0].adopt_connection(std::move(socket), peer);
    return;
  }
  // A posted task must be copyable; the socket travels in a shared_ptr and
  // is closed with it if the task is destroyed unrun.
  auto travelling = std::make_shared<UniqueFd>(std::move(socket));
  TcpServer* server = &servers_[target];
  servers_.loops().loop(target)->post(
      [server, travelling, peer] { server->adopt_connection(std::move(*travelling), peer); });
}

void TcpServerGroup::drain(std::function<void(const ConnectionPtr&)> begin,
                           std::function<void()> done) {
  servers_.drain(
      [begin](TcpServer& server, std::function<void()> finished) {
        server.drain(begin, std::move(finished));
      },
      std::move(done));
}

uint64_t TcpServerGroup::refused_count() const {
  uint64_t total = 0;
  for (size_t index = 0; index < servers_.size(); ++index) total += servers_[index].refused_count();
  return total;
}

}  // namespace reactor
