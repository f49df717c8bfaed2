// An out-of-tree program on the installed echo module (reactor-echo.pc):
// proves that protocols/echo/echo_server.h and libreactor_echo are
// installed where `#include "protocols/echo/echo_server.h"` and
// `pkg-config --libs reactor-echo` find them.
#include <csignal>
#include <cstdio>

#include "protocols/echo/echo_server.h"
#include "reactor/event_loop.h"

int main() {
  reactor::EventLoop loop;
  reactor::echo::EchoServer server(&loop, reactor::SocketAddress::loopback_v4(0));
  loop.on_signal(SIGTERM, [&] { server.drain([&loop] { loop.stop(); }); });
  server.start();
  std::printf("listening on %s\n", server.listen_address().to_string().c_str());
  std::fflush(stdout);
  loop.run();
  return 0;
}
