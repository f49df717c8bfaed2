// UDP echo on the reactor: a Channel on a datagram socket. Nothing in the
// event loop is about TCP; a Channel is an fd, an interest set and
// callbacks, so the same loop serves any descriptor epoll can watch.
//
// Datagrams keep their boundaries, so there is no stream to reassemble and
// no connection to close: each recvfrom() is one whole message. The channel
// is edge-triggered (the library's default), so the read callback drains
// the socket until EAGAIN. An echo the kernel cannot take at once (EAGAIN
// on sendto) is dropped: UDP promises no delivery, and queueing for a peer
// that is not reading would only let it grow our memory.
//
//   udp_echo PORT      (binds 127.0.0.1; 0 picks a free port)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "reactor/channel.h"
#include "reactor/event_loop.h"
#include "reactor/unique_fd.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT   (0 picks a free port)\n", argv[0]);
    return 2;
  }
  reactor::EventLoop loop;
  reactor::UniqueFd socket_fd(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  socklen_t length = sizeof address;
  if (bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), length) < 0) {
    std::perror("udp_echo: bind");
    return 1;
  }
  getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length);

  reactor::Channel channel(&loop, socket_fd.get());
  channel.set_read_callback([fd = socket_fd.get()] {
    char datagram[65536];
    for (;;) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      ssize_t received = recvfrom(fd, datagram, sizeof datagram, 0,
                                  reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (received < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: drained; anything else (ICMP errors) is the peer's loss
      }
      sendto(fd, datagram, static_cast<size_t>(received), MSG_DONTWAIT,
             reinterpret_cast<sockaddr*>(&peer), peer_length);
    }
  });
  channel.enable_reading();
  loop.on_signal(SIGINT, [&loop] { loop.stop(); });
  loop.on_signal(SIGTERM, [&loop] { loop.stop(); });

  std::printf("listening on 127.0.0.1:%d (udp)\n", ntohs(address.sin_port));
  std::fflush(stdout);
  loop.run();
  return 0;
}
