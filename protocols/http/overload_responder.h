// OverloadResponder: the polite "no" for clients beyond --max-connections.
//
// TcpServer hands us the accepted socket of such a client and closes it
// when we return. We write a canned 503 (Retry-After) without blocking,
// half-close, and keep a duplicate of the descriptor for a short while:
// closing a socket whose request is still unread would send an RST that
// can destroy the 503 before the client reads it. After the grace period
// whatever arrived is drained and the duplicate closed. At most
// kMaxLingering sockets are kept; beyond that they are closed at once.
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>

#include "reactor/event_loop.h"
#include "reactor/unique_fd.h"

namespace reactor::http {

class OverloadResponder {
 public:
  static constexpr size_t kMaxLingering = 256;
  static constexpr std::chrono::milliseconds kLinger{500};

  explicit OverloadResponder(EventLoop* loop) : loop_(loop) {}
  ~OverloadResponder();
  OverloadResponder(const OverloadResponder&) = delete;
  OverloadResponder& operator=(const OverloadResponder&) = delete;

  // Sends the 503 on `fd` (which the caller keeps and closes).
  void refuse(int fd);
  size_t refused() const { return refused_; }

 private:
  struct Lingering {
    UniqueFd fd;
    Clock::time_point until;
  };
  void close_expired();

  EventLoop* loop_;
  std::deque<Lingering> lingering_;
  TimerId timer_ = 0;
  size_t refused_ = 0;
};

}  // namespace reactor::http
