#include "reactor/connection_limit.h"

namespace reactor {

bool ConnectionLimit::try_acquire() {
  if (max_ == 0) {
    open_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  // A compare-exchange, not fetch_add-then-undo: two loops racing for the
  // last slot must not both see themselves over the limit and both give up.
  size_t open = open_.load(std::memory_order_relaxed);
  do {
    if (open >= max_) return false;
  } while (!open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  return true;
}

void ConnectionLimit::release() {
  const size_t before = open_.fetch_sub(1, std::memory_order_relaxed);
  if (max_ == 0 || before < max_) return;
  std::lock_guard lock(waiters_mutex_);
  for (auto& [id, waiter] : waiters_) waiter();
}

uint64_t ConnectionLimit::add_waiter(Waiter waiter) {
  std::lock_guard lock(waiters_mutex_);
  const uint64_t id = next_waiter_id_++;
  waiters_.emplace(id, std::move(waiter));
  return id;
}

void ConnectionLimit::remove_waiter(uint64_t id) {
  std::lock_guard lock(waiters_mutex_);
  waiters_.erase(id);
}

}  // namespace reactor
