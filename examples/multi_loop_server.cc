// multi_loop_server: one port served by N event loops, one per thread, with
// a counter they share.
//
//   build/examples/multi_loop_server 9000 4            4 loops, SO_REUSEPORT
//   build/examples/multi_loop_server 9000 4 hand-off   loop 0 accepts, hands off
//   then, elsewhere: echo hi | nc -q1 127.0.0.1 9000
//
// Each line a client sends is answered "loop K: line N of all\n": K is the
// loop (thread) serving this connection -- always the same one for its
// whole life -- and N counts the lines of every connection on every loop.
//
// The rule that keeps this simple: each loop is single-threaded, exactly as
// in echo_server.cc, so a callback touches its own connection freely. Only
// what the loops share needs care: here one std::atomic; in a real server
// a connection limit (TcpServerGroup counts one for all loops), a log file
// written under a mutex, a registry... Never share a Connection between
// loops: to act on another loop's connection, post() to that loop.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <system_error>

#include "reactor/event_loop.h"
#include "reactor/loop_group.h"
#include "reactor/tcp_server_group.h"

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  const auto loops_wanted = reactor::LoopGroup::parse_count(argc > 2 ? argv[2] : "auto");
  const bool hand_off = argc > 3 && std::strcmp(argv[3], "hand-off") == 0;
  if (argc > 4 || port < 0 || port > 65535 || !loops_wanted ||
      (argc > 3 && !hand_off && std::strcmp(argv[3], "reuseport") != 0)) {
    std::fprintf(stderr, "usage: %s [PORT [LOOPS|auto [reuseport|hand-off]]]\n", argv[0]);
    return 2;
  }

  try {
    // Loop 0 is this thread's; the group starts the others. Signals are
    // handled here: the group's threads block them all.
    reactor::EventLoop base;
    reactor::LoopGroup loops(&base, *loops_wanted);
    loops.start();

    // Read-only once the servers start, so any loop may look itself up.
    std::map<const reactor::EventLoop*, size_t> loop_index;
    for (size_t index = 0; index < loops.size(); ++index) loop_index[loops.loop(index)] = index;
    // Shared by every loop: the one thing here that needs to be atomic.
    std::atomic<uint64_t> lines_in_all{0};

    reactor::TcpServerGroup::Options options;
    options.balancing = hand_off ? reactor::TcpServerGroup::Balancing::kHandOff
                                 : reactor::TcpServerGroup::Balancing::kReusePort;
    reactor::TcpServerGroup server(loops, reactor::SocketAddress::loopback_v4(port), options);

    // Runs on the thread of the connection's own loop, never another.
    server.set_message_callback(
        [&](const reactor::ConnectionPtr& connection, reactor::Buffer& input) {
          const size_t loop = loop_index.at(connection->loop());
          for (;;) {
            const std::string_view pending(input.peek(), input.readable_bytes());
            const size_t end = pending.find('\n');
            if (end == std::string_view::npos) break;
            input.retrieve(end + 1);
            const uint64_t line = ++lines_in_all;
            connection->send("loop " + std::to_string(loop) + ": line " + std::to_string(line) +
                             " of all\n");
          }
        });

    // Stop accepting on every loop, let each connection flush, then leave.
    auto drain = [&] {
      server.drain(
          [](const reactor::ConnectionPtr& connection) { connection->close_after_flush(); },
          [&base] { base.stop(); });
    };
    base.on_signal(SIGINT, drain);
    base.on_signal(SIGTERM, drain);

    server.start();
    std::printf("listening on %s with %zu loops (%s)\n",
                server.listen_address().to_string().c_str(), loops.size(),
                hand_off ? "hand-off" : "SO_REUSEPORT");
    std::fflush(stdout);
    base.run();
    std::printf("%llu lines answered\n", static_cast<unsigned long long>(lines_in_all.load()));
    // `server` is destroyed before `loops`: each loop's TcpServer is torn
    // down on its own thread while that thread still runs.
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
    return 1;
  }
  return 0;
}
