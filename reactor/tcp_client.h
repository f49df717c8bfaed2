// TcpClient: a non-blocking connect() on the loop that yields a Connection.
//
// connect() returns at once; the loop watches the socket for writability
// and reads SO_ERROR to learn whether the connection was made. On success
// the connection callback runs with the new Connection; on failure the
// error callback runs with the errno (ECONNREFUSED, ETIMEDOUT...).
//
// Threading: loop thread only. Callbacks run on the loop thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "reactor/channel.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"

namespace reactor {

class TcpClient {
 public:
  using ErrorCallback = std::function<void(int error)>;

  TcpClient(EventLoop* loop, const SocketAddress& server);
  // Closes the connection, if any, without running any more callbacks
  // (Connection::abandon): they may use what dies with the client.
  ~TcpClient();

  void set_connection_callback(Connection::ConnectionCallback cb) {
    connection_callback_ = std::move(cb);
  }
  void set_message_callback(Connection::MessageCallback cb) { message_callback_ = std::move(cb); }
  void set_write_complete_callback(Connection::ConnectionCallback cb) {
    write_complete_callback_ = std::move(cb);
  }
  void set_error_callback(ErrorCallback cb) { error_callback_ = std::move(cb); }
  // Gives up with ETIMEDOUT if the connect takes longer. Zero: kernel default.
  void set_connect_timeout(std::chrono::milliseconds timeout) { connect_timeout_ = timeout; }

  // Starts connecting. May be called again after a failure or a close.
  void connect();
  // Closes the connection (or abandons the attempt).
  void disconnect();

  // Null until connected, and again after the connection closed.
  const ConnectionPtr& connection() const { return connection_; }
  const SocketAddress& server_address() const { return server_; }

 private:
  void handle_connect_ready();
  void fail(int error);
  void abandon_attempt();

  EventLoop* loop_;
  SocketAddress server_;
  // Identifies the current attempt to the tasks it queued; replaced when
  // the attempt is abandoned, so a late task sees it expired.
  std::shared_ptr<const bool> attempt_ = std::make_shared<const bool>(true);
  UniqueFd pending_socket_;
  std::unique_ptr<Channel> pending_channel_;
  TimerId timeout_timer_ = 0;
  std::chrono::milliseconds connect_timeout_{0};
  ConnectionPtr connection_;
  uint64_t next_connection_id_ = 1;

  Connection::ConnectionCallback connection_callback_;
  Connection::MessageCallback message_callback_;
  Connection::ConnectionCallback write_complete_callback_;
  ErrorCallback error_callback_;
};

}  // namespace reactor
