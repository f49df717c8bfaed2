// ConnectionLimit: how many connections are open, against a maximum, for
// one server or for a group of servers on several loops (the process-wide
// --max-connections of a multi-threaded server).
//
// Each TcpServer takes a slot before it keeps an accepted connection and
// gives it back when that connection is removed. A server that found the
// limit reached pauses its listener; when a slot frees while the limit was
// reached, every registered waiter is told (from the releasing thread), and
// each one posts a "resume" to its own loop -- a slot freed on loop 2 can
// let loop 1 accept again.
//
// Threading: every method may be called from any thread. The counter is one
// atomic (no lock on the connect/close path); the waiter list takes a mutex,
// but only when the limit was reached.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

namespace reactor {

class ConnectionLimit {
 public:
  using Waiter = std::function<void()>;

  // 0 means no maximum (the counter still counts).
  explicit ConnectionLimit(size_t max_connections = 0) : max_(max_connections) {}
  ConnectionLimit(const ConnectionLimit&) = delete;
  ConnectionLimit& operator=(const ConnectionLimit&) = delete;

  // Takes a slot; false if the maximum is reached.
  bool try_acquire();
  // Gives a slot back; tells the waiters if the maximum had been reached.
  void release();

  size_t open_count() const { return open_.load(std::memory_order_relaxed); }
  size_t max_connections() const { return max_; }
  bool limited() const { return max_ != 0; }
  bool full() const { return max_ != 0 && open_count() >= max_; }

  // `waiter` runs on whichever thread frees a slot at the limit, with the
  // waiter list locked: keep it short (a post() to a loop) and never call
  // back into this object from it. remove_waiter() returns only when the
  // waiter is not running, so an owner can remove it in its destructor.
  uint64_t add_waiter(Waiter waiter);
  void remove_waiter(uint64_t id);

 private:
  const size_t max_;
  std::atomic<size_t> open_{0};
  std::mutex waiters_mutex_;
  uint64_t next_waiter_id_ = 1;
  std::unordered_map<uint64_t, Waiter> waiters_;
};

}  // namespace reactor
