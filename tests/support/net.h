// Test support: plain blocking sockets for driving servers byte by byte,
// the way a hostile or simply unusual client would.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/support/time_scale.h"

namespace test_support {

class ClientSocket {
 public:
  // Connects to 127.0.0.1:port (or ::1 with ipv6). Throws on failure.
  explicit ClientSocket(int port, bool ipv6 = false);
  ~ClientSocket();
  ClientSocket(ClientSocket&& other) noexcept;
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  int fd() const { return fd_; }
  // Writes everything (blocking). Returns false if the peer is gone.
  bool send_all(std::string_view data);
  // Reads what arrives within `timeout` (at least one byte unless the peer
  // closed or the timeout expired). Empty string: closed or timed out.
  std::string receive_some(std::chrono::milliseconds timeout = scaled(std::chrono::seconds(5)));
  // Reads exactly n bytes, or fewer if the peer closes / timeout expires.
  std::string receive_exactly(size_t n,
                              std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));
  // Reads until the peer closes or timeout; returns all bytes read.
  // `closed` (if given) tells which: true only for EOF or a reset.
  std::string receive_until_close(
      std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)), bool* closed = nullptr);
  // Reads until `delimiter` has been seen (returns everything read so far).
  std::string receive_until(std::string_view delimiter,
                            std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10)));
  // True if the peer closed (EOF or reset) within `timeout`; discards data.
  bool closed_by_peer(std::chrono::milliseconds timeout = scaled(std::chrono::seconds(5)));
  void shutdown_write();
  // Sets SO_LINGER 0 and closes: the peer gets a RST.
  void reset();
  void set_receive_buffer(int bytes);
  // Bytes sent but not yet taken by the peer's kernel (SIOCOUTQ), and bytes
  // received but not yet read here (FIONREAD): progress seen from outside.
  size_t unsent_bytes() const;
  size_t unread_bytes() const;

 private:
  int fd_ = -1;
};

// Tries to connect to 127.0.0.1:port (or ::1); returns 0 if the connection
// was made (and closes it), else the errno -- ECONNREFUSED when nothing
// listens there any more.
int connect_error(int port, bool ipv6 = false);

// A listening TCP socket on 127.0.0.1 with a port the kernel chose: a
// stand-in server the test scripts itself (an impostor, a listener that
// never accepts, a socket handed to the server as if by systemd). The
// caller owns `fd`. Throws on failure.
struct LoopbackListener {
  int fd;
  int port;
};
LoopbackListener listen_on_loopback(int backlog = 16);

// A Unix-domain stream socket bound at `path`, listening if asked. Closing
// it leaves the socket file behind, as a crashed server does. Throws on
// failure (a path longer than sun_path included).
int bind_unix_socket(const std::string& path, bool listening);

}  // namespace test_support
