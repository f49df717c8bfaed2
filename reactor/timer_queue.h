// TimerQueue: the loop's timers -- a binary min-heap ordered by deadline,
// with one timerfd armed for the earliest deadline.
//
// Cancellation is lazy: cancel() forgets the callback and the heap entry is
// dropped when it reaches the top (or when dead entries outnumber live
// ones, the heap is rebuilt). Many connections each holding one idle timer
// is the common case, so an entry is 16 bytes on the heap plus one map node.
//
// Private to EventLoop (use EventLoop::run_after and friends).
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "reactor/channel.h"
#include "reactor/event_loop.h"
#include "reactor/unique_fd.h"

namespace reactor {

class TimerQueue {
 public:
  explicit TimerQueue(EventLoop* loop);
  ~TimerQueue();

  TimerId add(Clock::time_point when, Clock::duration interval, EventLoop::Task task);
  void cancel(TimerId id);
  size_t active_count() const { return timers_.size(); }

 private:
  struct Timer {
    EventLoop::Task task;
    Clock::duration interval;  // zero for one-shot timers
  };
  struct HeapEntry {
    Clock::time_point when;
    TimerId id;
  };

  static bool later(const HeapEntry& a, const HeapEntry& b);
  void handle_expired();
  void push(Clock::time_point when, TimerId id);
  void arm(Clock::time_point when);
  void compact();

  UniqueFd timer_fd_;
  Channel channel_;
  std::vector<HeapEntry> heap_;
  std::unordered_map<TimerId, Timer> timers_;
  TimerId next_id_ = 1;
  Clock::time_point armed_for_ = Clock::time_point::max();
};

}  // namespace reactor
