#include "reactor/timer_queue.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace reactor {
// Heap order: earliest deadline on top; ties fire in creation order.
bool TimerQueue::later(const HeapEntry& a, const HeapEntry& b) {
  return a.when > b.when || (a.when == b.when && a.id > b.id);
}

TimerQueue::TimerQueue(EventLoop* loop)
    : timer_fd_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      channel_(loop, timer_fd_.get()) {
  if (!timer_fd_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  channel_.set_read_callback([this] { handle_expired(); });
  channel_.enable_reading();
}

TimerQueue::~TimerQueue() {
  channel_.remove();
}

TimerId TimerQueue::add(Clock::time_point when, Clock::duration interval, EventLoop::Task task) {
  TimerId id = next_id_++;
  timers_.emplace(id, Timer{std::move(task), interval});
  push(when, id);
  return id;
}

void TimerQueue::cancel(TimerId id) {
  timers_.erase(id);
  // Lazy deletion leaves the heap entry behind; rebuild once dead entries
  // dominate so that churn (connections opening and closing) cannot grow
  // the heap without bound.
  if (heap_.size() > 64 && heap_.size() > 2 * timers_.size()) compact();
}

void TimerQueue::push(Clock::time_point when, TimerId id) {
  heap_.push_back({when, id});
  std::push_heap(heap_.begin(), heap_.end(), later);
  if (when < armed_for_) arm(when);
}

void TimerQueue::arm(Clock::time_point when) {
  armed_for_ = when;
  itimerspec spec{};
  if (when != Clock::time_point::max()) {
    auto delay = when - Clock::now();
    // A zero it_value disarms the timer, so a deadline already past is
    // rounded up to the smallest delay that still fires.
    if (delay < std::chrono::microseconds(1)) delay = std::chrono::microseconds(1);
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(delay);
    spec.it_value.tv_sec = seconds.count();
    spec.it_value.tv_nsec =
        std::chrono::duration_cast<std::chrono::nanoseconds>(delay - seconds).count();
  }
  ::timerfd_settime(timer_fd_.get(), 0, &spec, nullptr);
}

void TimerQueue::handle_expired() {
  uint64_t expirations = 0;
  while (::read(timer_fd_.get(), &expirations, sizeof expirations) > 0) {
  }
  armed_for_ = Clock::time_point::max();
  Clock::time_point now = Clock::now();
  // Collect first, then run: a callback may add or cancel timers, and a
  // periodic timer re-added during this pass must not run twice.
  std::vector<TimerId> due;
  while (!heap_.empty() && heap_.front().when <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    due.push_back(heap_.back().id);
    heap_.pop_back();
  }
  for (TimerId id : due) {
    auto found = timers_.find(id);
    if (found == timers_.end()) continue;  // cancelled
    if (found->second.interval == Clock::duration::zero()) {
      EventLoop::Task task = std::move(found->second.task);
      timers_.erase(found);
      task();
    } else {
      push(now + found->second.interval, id);
      // Copy: the callback may cancel its own timer, freeing the original.
      EventLoop::Task task = found->second.task;
      task();
    }
  }
  // Dead entries at the top would otherwise arm wake-ups for nothing.
  while (!heap_.empty() && !timers_.contains(heap_.front().id)) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
  }
  if (!heap_.empty() && heap_.front().when < armed_for_) arm(heap_.front().when);
}

void TimerQueue::compact() {
  std::erase_if(heap_, [this](const HeapEntry& entry) { return !timers_.contains(entry.id); });
  std::make_heap(heap_.begin(), heap_.end(), later);
}

}  // namespace reactor
