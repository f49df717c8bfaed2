// chat_server: a line-based chat. Every line a client sends goes to every
// other client, prefixed with the sender's name.
//
//   build/examples/chat_server 9000     then, in two terminals: nc 127.0.0.1 9000
//
// Three things every real protocol meets, in their smallest form:
//   - framing: TCP is a byte stream, so one read may hold half a line or
//     three lines. We take complete lines out of the input buffer and leave
//     the rest there for the next read; a line that never ends is refused.
//   - shared state: the set of clients is the server's connection table,
//     touched only on the loop thread, so no locks.
//   - a slow reader: a client that stops reading would make us queue the
//     others' lines for it without bound. The echo server can pause its
//     sender, because the sender *is* the slow reader; a chat cannot make
//     everyone wait for one client. So past the high-water mark we drop it.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

#include "reactor/event_loop.h"
#include "reactor/tcp_server.h"

namespace {

constexpr size_t kMaxLineLength = 4096;
// Lines queued for one client beyond what its socket buffer holds.
constexpr size_t kHighWaterMark = 64 * 1024;

std::string name_of(const reactor::ConnectionPtr& connection) {
  return "user" + std::to_string(connection->id());
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 2 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [PORT]   (0 or none: any free port)\n", argv[0]);
    return 2;
  }

  try {
    reactor::EventLoop loop;
    reactor::TcpServer::Options options;
    options.high_water_mark = kHighWaterMark;
    reactor::TcpServer server(&loop, reactor::SocketAddress::loopback_v4(port), options);

    auto broadcast = [&server](const reactor::ConnectionPtr& sender, std::string_view text) {
      server.for_each_connection([&](const reactor::ConnectionPtr& receiver) {
        // send() writes straight to the socket when nothing is queued and
        // queues the rest; it never blocks.
        if (receiver != sender) receiver->send(text);
      });
    };

    // Called once when a client arrives and once when it is gone (the
    // connection is still in the table then, hence the sender check above).
    server.set_connection_callback([&](const reactor::ConnectionPtr& connection) {
      std::string name = name_of(connection);
      if (connection->connected()) {
        connection->send("* welcome, you are " + name + "\n");
        broadcast(connection, "* " + name + " joined\n");
      } else {
        broadcast(connection, "* " + name + " left\n");
      }
    });

    server.set_message_callback(
        [&](const reactor::ConnectionPtr& connection, reactor::Buffer& input) {
          std::string prefix = "[" + name_of(connection) + "] ";
          for (;;) {
            std::string_view pending = input.view();
            size_t end = pending.find('\n');
            if (end == std::string_view::npos) break;  // the rest of the line comes later
            std::string_view line = pending.substr(0, end);
            if (line.ends_with('\r')) line.remove_suffix(1);  // telnet sends CRLF
            broadcast(connection, prefix + std::string(line) + "\n");
            input.retrieve(end + 1);
          }
          if (input.readable_bytes() > kMaxLineLength) {
            connection->send("* line too long, bye\n");
            connection->close_after_flush();
          }
        });

    // Fires when one client's queued output crosses the mark. close()
    // discards what is queued for it; the loop will not call this
    // connection again, and it is freed after the current batch of events.
    server.set_high_water_mark_callback(
        [](const reactor::ConnectionPtr& connection, size_t queued) {
          std::printf("dropping %s: %zu bytes queued, it does not read\n",
                      name_of(connection).c_str(), queued);
          std::fflush(stdout);
          connection->close();
        });

    // Close the clients here, while the server and the loop are in full
    // working order: each close runs the connection callback above, which
    // still talks to the other clients. (Left to the server's destructor,
    // those callbacks would run while the server is being torn down.)
    auto shut_down = [&] {
      server.for_each_connection(
          [](const reactor::ConnectionPtr& connection) { connection->close(); });
      loop.stop();
    };
    loop.on_signal(SIGINT, shut_down);
    loop.on_signal(SIGTERM, shut_down);

    server.start();
    std::printf("listening on %s\n", server.listen_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "chat_server: %s\n", error.what());
    return 1;
  }
  return 0;
}
