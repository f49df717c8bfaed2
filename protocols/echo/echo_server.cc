#include "protocols/echo/echo_server.h"

#include <spdlog/spdlog.h>

namespace reactor::echo {
namespace {

TcpServer::Options with_high_water_mark(EchoServer::Options options) {
  options.tcp.high_water_mark = options.high_water_mark;
  return options.tcp;
}

}  // namespace

EchoServer::EchoServer(EventLoop* loop, const SocketAddress& address, Options options)
    : server_(loop, address, with_high_water_mark(options)) {
  server_.set_message_callback(&EchoServer::handle_message);
  server_.set_high_water_mark_callback([](const ConnectionPtr& connection, size_t queued) {
    spdlog::debug("connection {}: {} bytes of echo queued, pausing reads", connection->id(),
                  queued);
    connection->stop_reading();
  });
  // Called when the queue has drained completely: the peer reads again.
  server_.set_write_complete_callback(
      [](const ConnectionPtr& connection) { connection->start_reading(); });
  server_.set_connection_callback([this](const ConnectionPtr& connection) {
    if (connection->disconnected() && shut_down_done_ && server_.connection_count() <= 1) {
      // This is the last one (it is removed right after this callback).
      auto done = std::move(shut_down_done_);
      connection->loop()->defer(std::move(done));
    }
  });
}

void EchoServer::handle_message(const ConnectionPtr& connection, Buffer& input) {
  connection->send(input);
}

void EchoServer::shut_down(std::function<void()> done) {
  server_.stop_accepting();
  if (server_.connection_count() == 0) {
    done();
    return;
  }
  shut_down_done_ = std::move(done);
  server_.for_each_connection(
      [](const ConnectionPtr& connection) { connection->close_after_flush(); });
}

}  // namespace reactor::echo
