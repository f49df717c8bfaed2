#include "reactor/tcp_server.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace reactor {

TcpServer::TcpServer(EventLoop* loop, const SocketAddress& address, Options options)
    : loop_(loop),
      options_(options),
      acceptor_(loop, address, options.reuse_port),
      listen_on_wildcard_(address.is_wildcard()) {
  if (options_.tcp_no_delay) acceptor_.set_tcp_no_delay();
  if (options_.defer_accept.count() > 0) acceptor_.set_defer_accept(options_.defer_accept);
  acceptor_.set_new_connection_callback([this](UniqueFd socket, const SocketAddress& peer) {
    handle_new_connection(std::move(socket), peer);
  });
}

TcpServer::~TcpServer() {
  // Connections may outlive the server (a protocol holds a pointer); they
  // must not call back into it.
  for (auto& [id, connection] : connections_) {
    connection->set_removal_callback(nullptr);
    connection->close();
  }
}

void TcpServer::start() {
  if (started_) return;
  started_ = true;
  acceptor_.resume();
}

void TcpServer::stop_accepting() {
  stopped_ = true;
  acceptor_.pause();
}

void TcpServer::for_each_connection(const std::function<void(const ConnectionPtr&)>& visit) const {
  // Copy first: the visitor may close connections, which edits the map.
  std::vector<ConnectionPtr> snapshot;
  snapshot.reserve(connections_.size());
  for (const auto& [id, connection] : connections_) snapshot.push_back(connection);
  for (const auto& connection : snapshot) visit(connection);
}

void TcpServer::handle_new_connection(UniqueFd socket, const SocketAddress& peer) {
  if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
    if (overload_callback_) {
      overload_callback_(socket.get(), peer);
      return;  // UniqueFd closes it
    }
    // Should not happen (we pause at the limit), but a race with a
    // connection opened elsewhere is harmless: refuse this one.
    return;
  }
  // A server bound to one address already knows each connection's local
  // end; only a wildcard bind needs getsockname() to learn which one.
  SocketAddress local = listen_address();
  if (listen_on_wildcard_) {
    sockaddr_in6 bound{};
    socklen_t length = sizeof bound;
    ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&bound), &length);
    local = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), length);
  }
  uint64_t id = next_connection_id_++;
  // TCP_NODELAY was set on the listening socket; Linux copies it to every
  // accepted socket, which saves a setsockopt() per connection.
  auto connection = std::make_shared<Connection>(loop_, std::move(socket), local, peer, id);
  connection->set_connection_callback(connection_callback_);
  connection->set_message_callback(message_callback_);
  connection->set_write_complete_callback(write_complete_callback_);
  connection->set_high_water_mark_callback(high_water_mark_callback_, options_.high_water_mark);
  connection->set_removal_callback(
      [this](const ConnectionPtr& closed) { remove_connection(closed); });
  connections_.emplace(id, connection);
  // Guarded: the address would otherwise be formatted even with debug off.
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("connection {} from {}", id, peer.to_string());
  }
  if (options_.max_connections != 0 && connections_.size() >= options_.max_connections &&
      !overload_callback_) {
    acceptor_.pause();
  }
  connection->established(options_.defer_accept.count() > 0);
  if (options_.idle_timeout.count() > 0 && connection->connected()) {
    connection->set_idle_timeout(options_.idle_timeout);
  }
}

void TcpServer::remove_connection(const ConnectionPtr& connection) {
  spdlog::debug("connection {} closed", connection->id());
  connections_.erase(connection->id());
  if (!stopped_ && !acceptor_.accepting() && options_.max_connections != 0 &&
      connections_.size() < options_.max_connections) {
    acceptor_.resume();
  }
}

}  // namespace reactor
