// Model 9, the reactor, on this project's library: the epoll_et model with
// the bookkeeping moved into objects. A Channel per descriptor (what
// data.ptr points at), an EventLoop that dispatches to its callbacks, a
// Connection that owns the socket, its input buffer and its output queue.
//
// Limit: one thread, so one core, like models 5-8; a callback that blocks
// stalls every client. More cores take one loop per core (SO_REUSEPORT).
//
// Classic mistakes the library avoids, and where:
// - Edge-triggered reads and writes drained to EAGAIN (Connection::
//   handle_read, flush_output); the listening socket is level-triggered,
//   so connections left in the backlog are reported again (Acceptor).
// - A callback that closes another client whose event is still pending in
//   the same batch: EventLoop::remove_channel drops that event.
// - EMFILE: a spare descriptor and a pause (Acceptor), not a busy loop.
// - Signals: a signalfd, so the handler below is an ordinary callback.
// - Unbounded output for a client that does not read: the high-water mark
//   below pauses reading until the queue has drained.
//
//   reactor PORT      (binds 127.0.0.1; 0 picks a free port)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "reactor/event_loop.h"
#include "reactor/tcp_server.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  try {
    reactor::EventLoop loop;
    reactor::TcpServer::Options options;
    options.high_water_mark = 1024 * 1024;
    reactor::TcpServer server(
        &loop, reactor::SocketAddress::loopback_v4(static_cast<uint16_t>(std::atoi(argv[1]))),
        options);
    server.set_message_callback([](const reactor::ConnectionPtr& connection,
                                   reactor::Buffer& input) { connection->send(input); });
    server.set_high_water_mark_callback(
        [](const reactor::ConnectionPtr& connection, size_t) { connection->stop_reading(); });
    server.set_write_complete_callback(
        [](const reactor::ConnectionPtr& connection) { connection->start_reading(); });
    loop.on_signal(SIGINT, [&loop] { loop.stop(); });
    loop.on_signal(SIGTERM, [&loop] { loop.stop(); });
    server.start();
    std::printf("listening on %s\n", server.listen_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "reactor: %s\n", error.what());
    return 1;
  }
  return 0;
}
