#include "reactor/tcp_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace reactor {

TcpClient::TcpClient(EventLoop* loop, const SocketAddress& server) : loop_(loop), server_(server) {}

TcpClient::~TcpClient() {
  abandon_attempt();
  // The connection may outlive us (a protocol holds a pointer); it must
  // not call back into us or into whoever owns us.
  if (connection_) connection_->abandon();
}

void TcpClient::connect() {
  abandon_attempt();
  UniqueFd socket(::socket(server_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket) {
    fail(errno);
    return;
  }
  int result = ::connect(socket.get(), server_.get(), server_.length());
  if (result < 0 && errno != EINPROGRESS && errno != EINTR) {
    // Refused at once (e.g. loopback with nothing listening). Report it
    // from the loop, not from inside connect(), so callers see one path --
    // unless this attempt was abandoned (or the client destroyed) first.
    int error = errno;
    loop_->defer([attempt = std::weak_ptr<const bool>(attempt_), this, error] {
      if (!attempt.expired()) fail(error);
    });
    return;
  }
  pending_socket_ = std::move(socket);
  pending_channel_ = std::make_unique<Channel>(loop_, pending_socket_.get());
  // The socket turns writable once the handshake ends, either way; the
  // verdict is in SO_ERROR.
  pending_channel_->set_write_callback([this] { handle_connect_ready(); });
  pending_channel_->set_close_callback([this] { handle_connect_ready(); });
  pending_channel_->set_read_callback([this] { handle_connect_ready(); });
  pending_channel_->enable_writing();
  if (connect_timeout_.count() > 0) {
    timeout_timer_ = loop_->run_after(connect_timeout_, [this] {
      timeout_timer_ = 0;
      abandon_attempt();
      fail(ETIMEDOUT);
    });
  }
}

void TcpClient::handle_connect_ready() {
  if (!pending_socket_) return;
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(pending_socket_.get(), SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
  if (error == 0) {
    // Self-connect: connecting to a free local port can pair the socket
    // with itself (both ends the same address). Treat it as refused.
    sockaddr_in6 local{};
    sockaddr_in6 peer{};
    socklen_t local_length = sizeof local;
    socklen_t peer_length = sizeof peer;
    ::getsockname(pending_socket_.get(), reinterpret_cast<sockaddr*>(&local), &local_length);
    ::getpeername(pending_socket_.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length);
    if (local_length == peer_length && std::memcmp(&local, &peer, local_length) == 0) {
      error = ECONNREFUSED;
    } else {
      UniqueFd socket = std::move(pending_socket_);
      abandon_attempt();
      int on = 1;
      ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      connection_ = std::make_shared<Connection>(
          loop_, std::move(socket),
          SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&local), local_length),
          SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&peer), peer_length),
          next_connection_id_++);
      connection_->set_connection_callback(connection_callback_);
      connection_->set_message_callback(message_callback_);
      connection_->set_write_complete_callback(write_complete_callback_);
      connection_->set_removal_callback([this](const ConnectionPtr& closed) {
        if (connection_ == closed) connection_.reset();
      });
      connection_->established();
      return;
    }
  }
  abandon_attempt();
  fail(error);
}

void TcpClient::fail(int error) {
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("connect to {}: {}", server_.to_string(), std::strerror(error));
  }
  if (error_callback_) error_callback_(error);
}

void TcpClient::abandon_attempt() {
  // Whatever the old attempt still has queued now finds its token expired.
  attempt_ = std::make_shared<const bool>(true);
  if (timeout_timer_ != 0) {
    loop_->cancel(timeout_timer_);
    timeout_timer_ = 0;
  }
  if (pending_channel_) {
    pending_channel_->remove();
    // This may run inside the channel's own callback; destroy it after the
    // batch rather than under our feet.
    loop_->defer([channel = std::shared_ptr<Channel>(std::move(pending_channel_))] {});
  }
  pending_socket_.reset();
}

void TcpClient::disconnect() {
  abandon_attempt();
  if (connection_) connection_->close();
}

}  // namespace reactor
