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
}

void EchoServer::handle_message(const ConnectionPtr& connection, Buffer& input) {
  connection->send(input);
}

void EchoServer::drain(std::function<void()> done) {
  server_.drain([](const ConnectionPtr& connection) { connection->close_after_flush(); },
                std::move(done));
}

}  // namespace reactor::echo
