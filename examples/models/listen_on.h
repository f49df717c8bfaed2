// The listening socket every plain-POSIX model starts from. Shared because
// it is not what any model is about: the models differ in what they do
// with the accepted connections, not in how they listen.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

// Listens on 127.0.0.1:port (0: any free port) and prints
// "listening on 127.0.0.1:PORT", the line the tests and the bench read.
// `non_blocking`: for the models whose loop must never wait in accept().
// Exits the process on failure.
inline int listen_on(int port, bool non_blocking) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0), 0);
  int one = 1;
  // A restarted model can bind while old connections sit in TIME_WAIT.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) < 0 || listen(fd, SOMAXCONN) < 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  std::printf("listening on 127.0.0.1:%d\n", ntohs(address.sin_port));
  std::fflush(stdout);
  return fd;
}
