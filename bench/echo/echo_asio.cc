// echo-asio: standalone Asio the way its examples and users write an echo
// server: a session object kept alive by shared_ptr, async_read_some into its
// buffer, then async_write of what arrived, then read again; one io_context
// run by one thread (concurrency hint 1 tells Asio it is single-threaded).
//
// --threads N: N io_contexts, one per thread (Asio's "io_context per CPU"
// design), each with its own acceptor on the port with SO_REUSEPORT, so each
// context accepts and serves its own clients and nothing crosses threads.
// Asio's own example of that design (http/server2) instead accepts on one
// acceptor and hands each socket round-robin to the next context; the
// per-context acceptor is chosen here because reactor-echod and the libevent
// peers balance with SO_REUSEPORT too, so all servers see the same split.
//
//   echo-asio PORT [--threads N]    (binds 127.0.0.1; 0 picks a free port)

#include <array>
#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "peer_common.h"

namespace {

using asio::ip::tcp;
// Asio has no named option for it; this is how its users spell one.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

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
  Server(asio::io_context& io, uint16_t port, bool share_port) : acceptor_(io) {
    tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    if (share_port) acceptor_.set_option(reuse_port(true));
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
  const echo_bench::PeerOptions options = echo_bench::parse_options_or_exit(argc, argv);
  const bool share_port = options.threads > 1;
  try {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 0; i < options.threads; ++i)
      contexts.push_back(std::make_unique<asio::io_context>(1));
    // Declared after the contexts so the acceptors are destroyed first: a
    // socket must not outlive its io_context. Sessions live in the pending
    // handlers and go with their context, as with a single one.
    std::vector<std::unique_ptr<Server>> servers;
    // The first acceptor resolves port 0; the others join the port it got.
    servers.push_back(std::make_unique<Server>(*contexts[0], options.port, share_port));
    const uint16_t port = servers[0]->port();
    for (unsigned i = 1; i < options.threads; ++i)
      servers.push_back(std::make_unique<Server>(*contexts[i], port, share_port));

    // Asio sends with MSG_NOSIGNAL, but signal_set makes SIGINT/SIGTERM end
    // run() so the sessions are destroyed with the io_contexts.
    // io_context::stop() is thread-safe; each other acceptor closes when its
    // context is destroyed, after its thread has joined.
    asio::signal_set stop_signals(*contexts[0], SIGINT, SIGTERM);
    stop_signals.async_wait([&](std::error_code, int) {
      servers[0]->close();
      for (auto& context : contexts) context->stop();
    });
    echo_bench::announce_listening(port, options.threads);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < options.threads; ++i)
      threads.emplace_back([&context = *contexts[i]] { context.run(); });
    contexts[0]->run();
    for (std::thread& thread : threads) thread.join();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "echo-asio: %s\n", error.what());
    return 1;
  }
  return 0;
}
