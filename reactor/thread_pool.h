// ThreadPool: a fixed set of worker threads for work that would stall the
// loop (hashing a large file, fsync). The result goes back to the loop with
// EventLoop::post(), so loop state is only ever touched on the loop thread.
//
// Threading: submit() and the destructor from any thread but the workers.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace reactor {

class ThreadPool {
 public:
  using Job = std::function<void()>;

  // Starts `threads` workers (at least one).
  explicit ThreadPool(size_t threads);
  // Runs the jobs already submitted, then joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Jobs run on a worker: they must not touch loop objects (post() the
  // result back instead). An exception escaping a job terminates the
  // process, as for any std::thread.
  void submit(Job job);
  size_t pending_jobs() const;

 private:
  void work();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace reactor
