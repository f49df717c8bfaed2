// LoopGroup: N event loops, one per thread ("one loop per thread").
//
// The single-threaded reactor stays the unit: each loop has its own epoll
// instance, timers and connections, and nothing on a loop's hot path takes
// a lock. To use more cores we run several of them. Loop 0 is the caller's
// own loop (the "base" loop, which the caller runs, typically in main() with
// the signal handlers); the group starts `size() - 1` more threads, each
// running a loop of its own. With a size of 1 nothing is started and
// everything runs on the base loop, exactly as without a group.
//
// A connection lives on one loop for its whole life; objects that belong to
// a loop (servers, clients, timers) are built, used and destroyed on that
// loop's thread -- run_and_wait() is how the base thread does so.
//
// Threading: construct, start(), run_and_wait(), stop(), join() and destroy
// on the base loop's thread. loop(), size() and post() to a loop: any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "reactor/event_loop.h"

namespace reactor {

class LoopGroup {
 public:
  // `base` becomes loop 0 and is run by the caller; `count` is the total
  // number of loops (at least 1).
  LoopGroup(EventLoop* base, size_t count);
  // Stops and joins the extra loops. Destroy what lives on them first.
  ~LoopGroup();
  LoopGroup(const LoopGroup&) = delete;
  LoopGroup& operator=(const LoopGroup&) = delete;

  // Starts the extra threads and returns once each of their loops runs.
  // Every signal is blocked in them, so process signals reach the base
  // thread's signalfd (EventLoop::on_signal) and nothing else.
  void start();

  size_t size() const { return loops_.size(); }
  EventLoop* loop(size_t index) const { return loops_[index]; }
  EventLoop* base_loop() const { return loops_[0]; }

  // Runs `task` on loop `index`'s thread and returns when it has run;
  // an exception it throws is rethrown here. Runs it inline for loop 0
  // (call from the base thread only; the extra loops must be running).
  void run_and_wait(size_t index, const std::function<void()>& task);

  // Makes every extra loop return from run(); join() waits for their
  // threads. Both are idempotent; the destructor calls them.
  void stop();
  void join();

  // What `--threads auto` means: the CPUs this process may run on
  // (sched_getaffinity, so taskset and cgroup cpusets count), at least 1.
  static size_t available_cpus();
  // Reads a thread count as the servers' --threads takes it: "auto" (the
  // available CPUs) or a number from 1 to kMaxLoops. Empty if neither.
  static std::optional<size_t> parse_count(std::string_view text);
  static constexpr size_t kMaxLoops = 256;

 private:
  void run_thread(size_t index);

  std::vector<EventLoop*> loops_;
  // The extra loops, owned here so they outlive their threads: a loop is
  // destroyed after its thread was joined (which orders every access).
  std::vector<std::unique_ptr<EventLoop>> owned_loops_;
  std::vector<std::thread> threads_;
  bool started_ = false;
};

}  // namespace reactor
