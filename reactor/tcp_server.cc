#include "reactor/tcp_server.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace reactor {

namespace {

std::shared_ptr<ConnectionLimit> limit_for(const TcpServer::Options& options) {
  if (options.connection_limit) return options.connection_limit;
  return std::make_shared<ConnectionLimit>(options.max_connections);
}

}  // namespace

TcpServer::TcpServer(EventLoop* loop, const SocketAddress& address, Options options)
    : loop_(loop),
      options_(options),
      acceptor_(std::in_place, loop, address, options.reuse_port, options.ipv6_only),
      listen_on_wildcard_(address.is_wildcard()),
      limit_(limit_for(options)) {
  set_up_acceptor();
}

TcpServer::TcpServer(EventLoop* loop, UniqueFd listening_socket, Options options)
    : loop_(loop),
      options_(options),
      acceptor_(std::in_place, loop, std::move(listening_socket)),
      listen_on_wildcard_(acceptor_->address().is_wildcard()),
      limit_(limit_for(options)) {
  set_up_acceptor();
}

void TcpServer::set_up_acceptor() {
  if (options_.tcp_no_delay) acceptor_->set_tcp_no_delay();
  if (options_.defer_accept.count() > 0) acceptor_->set_defer_accept(options_.defer_accept);
  acceptor_->set_new_connection_callback([this](UniqueFd socket, const SocketAddress& peer) {
    handle_new_connection(std::move(socket), peer);
  });
  if (limit_->limited()) {
    // Told from whichever thread frees a slot at the limit; the check
    // itself must run here, on our loop.
    limit_waiter_ = limit_->add_waiter([this] {
      loop_->post([this, alive = std::weak_ptr<const bool>(alive_)] {
        if (!alive.expired()) resume_if_room();
      });
    });
  }
}

TcpServer::TcpServer(EventLoop* loop, Options options)
    : loop_(loop), options_(options), listen_on_wildcard_(true), limit_(limit_for(options)) {}

TcpServer::~TcpServer() {
  // First, so no other thread posts a resume for a server that is gone.
  if (limit_waiter_ != 0) limit_->remove_waiter(limit_waiter_);
  // Connections may outlive the server (a protocol holds a pointer); they
  // must not call back into it, nor into the protocol that owns us.
  for (auto& [id, connection] : connections_) {
    connection->abandon();
    limit_->release();
  }
  for (auto& [id, connection] : refused_) connection->abandon();
}

UniqueFd TcpServer::duplicate_listening_socket() const {
  return acceptor_ ? acceptor_->duplicate() : UniqueFd();
}

const SocketAddress& TcpServer::listen_address() const {
  static const SocketAddress kNone;
  return acceptor_ ? acceptor_->address() : kNone;
}

void TcpServer::start() {
  if (started_) return;
  started_ = true;
  if (acceptor_) acceptor_->resume();
}

void TcpServer::stop_accepting() {
  // Idempotent: drain() calls it again after a group closed every loop's.
  if (acceptor_) acceptor_->close();
  // A client held back at the limit was never served: it is refused now,
  // as the ones left in the closed backlog are.
  waiting_client_.reset();
}

void TcpServer::drain(std::function<void(const ConnectionPtr&)> begin, std::function<void()> done) {
  stop_accepting();
  draining_ = true;
  drain_done_ = std::move(done);
  for_each_connection([&begin](const ConnectionPtr& connection) {
    if (connection->connected()) begin(connection);
  });
  // Closed connections leave the map from a queued task, so a drain that
  // found none open learns of it the same way: from the loop.
  loop_->defer([this, alive = std::weak_ptr<const bool>(alive_)] {
    if (!alive.expired()) finish_drain_if_done();
  });
}

void TcpServer::finish_drain_if_done() {
  if (!drain_done_ || !connections_.empty()) return;
  auto done = std::move(drain_done_);
  drain_done_ = nullptr;
  done();
}

void TcpServer::for_each_connection(const std::function<void(const ConnectionPtr&)>& visit) const {
  // Copy first: the visitor may close connections, which edits the map.
  std::vector<ConnectionPtr> snapshot;
  snapshot.reserve(connections_.size());
  for (const auto& [id, connection] : connections_) snapshot.push_back(connection);
  for (const auto& connection : snapshot) visit(connection);
}

void TcpServer::handle_new_connection(UniqueFd socket, const SocketAddress& peer) {
  if (!limit_->try_acquire()) {
    if (overload_reply_) {
      refuse(std::move(socket), peer);
      return;
    }
    // Another loop took the last slot between our check and this accept:
    // hold the client (it is no worse off than in the backlog) and pause.
    waiting_client_.emplace(std::move(socket), peer);
    acceptor_->pause();
    return;
  }
  if (limit_->full() && !overload_reply_) acceptor_->pause();
  if (hand_off_) {
    hand_off_(std::move(socket), peer);
    return;
  }
  add_connection(std::move(socket), peer);
}

void TcpServer::adopt_connection(UniqueFd socket, const SocketAddress& peer) {
  if (draining_) {
    // Handed over after this loop began to drain: the client is refused,
    // like one left in a closed listener's backlog.
    limit_->release();
    return;
  }
  add_connection(std::move(socket), peer);
}

void TcpServer::add_connection(UniqueFd socket, const SocketAddress& peer) {
  SocketAddress local = local_address_of(socket.get());
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
  connection->established(options_.defer_accept.count() > 0);
  if (options_.idle_timeout.count() > 0 && connection->connected()) {
    connection->set_idle_timeout(options_.idle_timeout);
  }
}

void TcpServer::resume_if_room() {
  if (!acceptor_ || acceptor_->accepting()) return;
  if (waiting_client_) {
    if (!limit_->try_acquire()) return;
    auto [socket, peer] = std::move(*waiting_client_);
    waiting_client_.reset();
    if (hand_off_) {
      hand_off_(std::move(socket), peer);
    } else {
      add_connection(std::move(socket), peer);
    }
  }
  // After stop_accepting() the listener is closed and resume() does nothing.
  if (!limit_->full()) acceptor_->resume();
}

SocketAddress TcpServer::local_address_of(int socket) const {
  // A server bound to one address already knows each connection's local
  // end; only a wildcard bind needs getsockname() to learn which one.
  if (!listen_on_wildcard_) return listen_address();
  sockaddr_in6 bound{};
  socklen_t length = sizeof bound;
  ::getsockname(socket, reinterpret_cast<sockaddr*>(&bound), &length);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&bound), length);
}

void TcpServer::refuse(UniqueFd socket, const SocketAddress& peer) {
  refused_count_.fetch_add(1, std::memory_order_relaxed);
  const std::string reply = overload_reply_(peer);
  if (refused_.size() >= kMaxRefusedLingering) {
    // Too many lingering already: a best-effort reply and an immediate
    // close (the socket is fresh, so its buffer takes a short reply).
    (void)::send(socket.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return;
  }
  const uint64_t id = next_connection_id_++;
  const SocketAddress local = local_address_of(socket.get());
  auto connection = std::make_shared<Connection>(loop_, std::move(socket), local, peer, id);
  connection->set_removal_callback(
      [this](const ConnectionPtr& closed) { refused_.erase(closed->id()); });
  refused_.emplace(id, connection);
  connection->established();
  connection->send(reply);
  // The client's request is unread: closing at once would reset the
  // connection under the reply.
  connection->linger_on_close();
  connection->close_after_flush();
}

void TcpServer::remove_connection(const ConnectionPtr& connection) {
  spdlog::debug("connection {} closed", connection->id());
  connections_.erase(connection->id());
  // Wakes the servers of the group paused at the limit, this one included
  // (from a posted task, so resuming here first is only a shortcut).
  limit_->release();
  resume_if_room();
  finish_drain_if_done();  // last: `done` may destroy this server
}

}  // namespace reactor
