// echo_server: an echo server in a page, written directly on TcpServer.
//
//   build/examples/echo_server 9000     then, elsewhere: nc 127.0.0.1 9000
//   build/examples/echo_server 0        picks a free port and prints it
//
// The shape every program on this library has: make an EventLoop, give it
// objects with callbacks, call run(). Everything below runs on this one
// thread; a callback must never block, because while it runs nobody else
// is served. (protocols/echo/ is the same server packaged as a module,
// with graceful shutdown; reactor-echod is the program around it.)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "reactor/event_loop.h"
#include "reactor/tcp_server.h"

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 2 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [PORT]   (0 or none: any free port)\n", argv[0]);
    return 2;
  }

  try {
    reactor::EventLoop loop;

    // A small high-water mark, so that the backpressure below is easy to
    // watch: a peer that sends without reading is paused after 1 MiB.
    reactor::TcpServer::Options options;
    options.high_water_mark = 1024 * 1024;
    // Binds and listens right here; a busy port throws std::system_error.
    reactor::TcpServer server(&loop, reactor::SocketAddress::loopback_v4(port), options);

    // Called whenever bytes arrived. `input` holds everything not consumed
    // yet; send(Buffer&) takes it all over, so nothing is left for next time.
    server.set_message_callback([](const reactor::ConnectionPtr& connection,
                                   reactor::Buffer& input) { connection->send(input); });

    // Without these two, a client that sends but never reads would make us
    // queue its echo forever. Past the mark we stop reading from it (TCP
    // flow control then slows the client down); once its queue has drained
    // we read again.
    server.set_high_water_mark_callback([](const reactor::ConnectionPtr& connection,
                                           size_t /*queued*/) { connection->stop_reading(); });
    server.set_write_complete_callback(
        [](const reactor::ConnectionPtr& connection) { connection->start_reading(); });

    // Ctrl-C / kill: signals arrive through a signalfd as ordinary events,
    // so the handler may touch anything, unlike a classic signal handler.
    loop.on_signal(SIGINT, [&loop] { loop.stop(); });
    loop.on_signal(SIGTERM, [&loop] { loop.stop(); });

    server.start();
    std::printf("listening on %s\n", server.listen_address().to_string().c_str());
    std::fflush(stdout);  // stdout may be a pipe: say it now, not at exit
    loop.run();
    // `server` is destroyed before `loop` (reverse order of declaration):
    // it closes its connections while the loop they belong to still exists.
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "echo_server: %s\n", error.what());
    return 1;
  }
  return 0;
}
