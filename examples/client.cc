// client: connects, sends one line, prints whatever comes back, exits.
//
//   build/examples/client 9000                 sends "hello, reactor"
//   build/examples/client 9000 "some text"     sends "some text"
//
// Try it against echo_server or chat_server. The reply goes to stdout,
// everything else to stderr; exit status 0 when the server closed normally,
// 1 if we could not connect or nothing ended within five seconds.
//
// How do we know the reply is complete? We don't parse it: after sending we
// half-close (half_close(): "I will send nothing more"), and a well-behaved
// server answers and then closes its side too. Reading until that close is
// the simplest framing there is.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "reactor/event_loop.h"
#include "reactor/tcp_client.h"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc < 2 || argc > 3 || port <= 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s PORT [MESSAGE]   (connects to 127.0.0.1:PORT)\n", argv[0]);
    return 2;
  }
  std::string message = argc > 2 ? argv[2] : "hello, reactor";
  message += '\n';

  reactor::EventLoop loop;
  auto server = reactor::SocketAddress::loopback_v4(static_cast<uint16_t>(port));
  reactor::TcpClient client(&loop, server);
  int exit_status = 1;

  // connect() returns at once; the loop tells us how it went through one of
  // these two callbacks. Both run on the loop thread, like every callback.
  client.set_error_callback([&](int error) {
    std::fprintf(stderr, "client: cannot connect to %s: %s\n", server.to_string().c_str(),
                 std::strerror(error));
    loop.stop();
  });
  client.set_connection_callback([&](const reactor::ConnectionPtr& connection) {
    if (connection->connected()) {
      std::fprintf(stderr, "client: connected to %s\n", server.to_string().c_str());
      connection->send(message);
      // The FIN leaves after the queued bytes, never before them.
      connection->half_close();
    } else {
      // The server closed its side: the reply is complete.
      exit_status = 0;
      loop.stop();
    }
  });
  // Bytes may arrive in any number of pieces; print each as it comes.
  client.set_message_callback([](const reactor::ConnectionPtr&, reactor::Buffer& input) {
    std::fwrite(input.peek(), 1, input.readable_bytes(), stdout);
    std::fflush(stdout);
    input.retrieve_all();
  });
  client.set_connect_timeout(5s);

  // A server that accepts but never answers must not keep us forever.
  loop.run_after(5s, [&loop] {
    std::fprintf(stderr, "client: no complete reply within 5 s\n");
    loop.stop();
  });

  client.connect();
  loop.run();
  return exit_status;
}
