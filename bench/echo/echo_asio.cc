// echo-asio: standalone Asio the way its examples and users write an echo
// server: a session object kept alive by shared_ptr, async_read_some into its
// buffer, then async_write of what arrived, then read again; one io_context
// run by one thread (concurrency hint 1 tells Asio it is single-threaded).
//
//   echo-asio PORT    (binds 127.0.0.1; 0 picks a free port)

#include <array>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <utility>

#include "peer_common.h"

namespace {

using asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](std::error_code error, size_t length) {
                              if (!error) self->write(length);
                            });
  }

  // async_write finishes the whole block (partial writes included) before
  // the next read, so the echo keeps its order and memory stays one buffer.
  void write(size_t length) {
    asio::async_write(socket_, asio::buffer(buffer_, length),
                      [self = shared_from_this()](std::error_code error, size_t) {
                        if (!error) self->read();
                      });
  }

  tcp::socket socket_;
  // The same 64 KiB per read as the plain-libevent peer, so the two differ
  // only in their event machinery.
  std::array<char, 64 * 1024> buffer_;
};

class Server {
 public:
  Server(asio::io_context& io, uint16_t port) : acceptor_(io) {
    tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    accept();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void close() { acceptor_.close(); }

 private:
  void accept() {
    acceptor_.async_accept([this](std::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) {
        socket.set_option(tcp::no_delay(true), error);
        std::make_shared<Session>(std::move(socket))->start();
      } else {
        std::fprintf(stderr, "accept: %s\n", error.message().c_str());
      }
      accept();
    });
  }

  tcp::acceptor acceptor_;
};

}  // namespace

int main(int argc, char** argv) {
  const uint16_t port = echo_bench::parse_port_or_exit(argc, argv);
  try {
    asio::io_context io(1);
    Server server(io, port);
    // Asio sends with MSG_NOSIGNAL, but signal_set makes SIGINT/SIGTERM end
    // run() so the sessions are destroyed with the io_context.
    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](std::error_code, int) {
      server.close();
      io.stop();
    });
    echo_bench::announce_listening(server.port());
    io.run();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "echo-asio: %s\n", error.what());
    return 1;
  }
  return 0;
}
