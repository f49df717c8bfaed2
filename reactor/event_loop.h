// EventLoop: one epoll instance driven by one thread (the "reactor").
//
// Each registered fd has a Channel whose address is stored in
// epoll_event.data.ptr, so a ready event leads straight to its callbacks
// without any lookup. Timers (one timerfd + a heap), cross-thread wake-ups
// (an eventfd) and signals (a signalfd) are ordinary channels of the loop.
//
// Threading: an EventLoop belongs to the thread that calls run(). Only
// post(), stop() and in_loop_thread() may be called from other threads;
// everything else, including every callback, runs on the loop thread.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "reactor/unique_fd.h"

namespace reactor {

class Channel;
class TimerQueue;

using Clock = std::chrono::steady_clock;
using TimerId = uint64_t;

class EventLoop {
 public:
  using Task = std::function<void()>;

  // Creates the epoll instance and ignores SIGPIPE for the whole process:
  // sendfile() has no MSG_NOSIGNAL, and a peer that vanishes mid-write must
  // end one connection, not the server.
  // Destroy it on the loop thread, after every server, client and channel
  // that refers to it (declare those after the loop).
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Dispatches events until stop(). The calling thread becomes the loop
  // thread. Tasks still queued when the loop stops are run before returning.
  void run();
  // Makes run() return after the current iteration (or at once, if it is
  // called before run() starts). Any thread; run() returns only after a
  // concurrent stop() has finished with the loop, so the loop's thread may
  // destroy it right after run() returns.
  void stop();

  // Runs `task` on the loop thread soon. The only thread-safe way to hand
  // work to the loop; wakes it through an eventfd if it is sleeping.
  void post(Task task);
  // Loop thread only: runs `task` after every event of the current epoll
  // batch has been dispatched. Used to destroy objects safely (a closed
  // connection must outlive the batch in which it closed).
  void defer(Task task);

  bool in_loop_thread() const { return thread_id_.load() == std::this_thread::get_id(); }

  // Timers. Loop thread only. Callbacks run on the loop thread; a timer may
  // cancel itself or others from its callback. Ids are never reused and 0
  // is never one. A task (and what it captures) lives until it fires
  // (one-shot) or is cancelled: cancel timers that capture an object in
  // that object's destructor.
  TimerId run_after(Clock::duration delay, Task task);
  TimerId run_at(Clock::time_point when, Task task);
  TimerId run_every(Clock::duration interval, Task task);
  // Cancelling an unknown or already-fired one-shot timer is a no-op.
  void cancel(TimerId id);

  // Delivers `signo` through a signalfd as an ordinary event. Blocks the
  // signal in the calling thread, so call this before starting other
  // threads (they inherit the mask) or block it in them yourself.
  // Loop thread only. A later call for the same signal replaces the handler.
  void on_signal(int signo, Task handler);

  // Time at which the current batch of events was returned by epoll_wait.
  // Cheap: no syscall. Good enough for timeouts and activity stamps.
  Clock::time_point now() const { return now_; }

  // Channel registration; called by Channel, not by protocol code.
  void update_channel(Channel* channel);
  void remove_channel(Channel* channel);

  size_t registered_channel_count() const { return registered_channels_; }

 private:
  void handle_wakeup();
  void handle_signals();
  void run_posted_tasks();
  void run_deferred_tasks();
  void wake_up();

  UniqueFd epoll_fd_;
  // Atomic: run() sets it while other threads may be posting.
  std::atomic<std::thread::id> thread_id_;
  std::atomic<bool> quit_{false};
  std::atomic<bool> sleeping_{false};
  Clock::time_point now_;

  // The batch being dispatched; remove_channel() clears entries of a
  // channel that goes away mid-batch so it is never dispatched again.
  std::vector<epoll_event> ready_events_;
  int ready_count_ = 0;
  bool dispatching_ = false;
  size_t registered_channels_ = 0;

  UniqueFd wakeup_fd_;
  std::unique_ptr<Channel> wakeup_channel_;
  std::mutex posted_mutex_;
  std::vector<Task> posted_tasks_;
  std::vector<Task> deferred_tasks_;

  std::unique_ptr<TimerQueue> timers_;

  UniqueFd signal_fd_;
  std::unique_ptr<Channel> signal_channel_;
  std::unordered_map<int, Task> signal_handlers_;
};

}  // namespace reactor
