#include "reactor/loop_group.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <charconv>
#include <exception>
#include <future>
#include <latch>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace reactor {

LoopGroup::LoopGroup(EventLoop* base, size_t count) {
  if (count == 0) throw std::invalid_argument("a loop group needs at least one loop");
  loops_.assign(count, nullptr);
  loops_[0] = base;
  owned_loops_.resize(count);
}

LoopGroup::~LoopGroup() {
  stop();
  join();
}

void LoopGroup::start() {
  if (started_) return;
  started_ = true;
  std::latch running(static_cast<std::ptrdiff_t>(loops_.size() - 1));
  for (size_t index = 1; index < loops_.size(); ++index) {
    threads_.emplace_back([this, index, &running] {
      // Block everything before the loop exists: a process signal must
      // never be delivered to a worker, where no signalfd reads it.
      sigset_t all;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, nullptr);
      const std::string name = "loop-" + std::to_string(index);
      pthread_setname_np(pthread_self(), name.c_str());
      owned_loops_[index] = std::make_unique<EventLoop>();
      loops_[index] = owned_loops_[index].get();
      // The loop is published before the latch opens; run() may start after
      // the base thread already posted to it, which is fine: posted tasks
      // wait in the queue.
      running.count_down();
      run_thread(index);
    });
  }
  running.wait();
}

void LoopGroup::run_thread(size_t index) {
  try {
    loops_[index]->run();
  } catch (const std::exception& error) {
    // An exception out of a loop is a bug in a callback; one loop dying
    // silently would leave its connections hanging, so fail loudly.
    spdlog::critical("loop {} failed: {}", index, error.what());
    std::terminate();
  }
}

void LoopGroup::run_and_wait(size_t index, const std::function<void()>& task) {
  if (index == 0 || loops_[index]->in_loop_thread()) {
    task();
    return;
  }
  std::promise<void> finished;
  auto result = finished.get_future();
  loops_[index]->post([&task, &finished] {
    try {
      task();
      finished.set_value();
    } catch (...) {
      finished.set_exception(std::current_exception());
    }
  });
  result.get();
}

void LoopGroup::stop() {
  for (size_t index = 1; index < loops_.size(); ++index) {
    if (loops_[index] != nullptr) loops_[index]->stop();
  }
}

void LoopGroup::join() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

size_t LoopGroup::available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int count = CPU_COUNT(&set);
  return count > 0 ? static_cast<size_t>(count) : 1;
}

std::optional<size_t> LoopGroup::parse_count(std::string_view text) {
  if (text == "auto") return available_cpus();
  size_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (count < 1 || count > kMaxLoops) return std::nullopt;
  return count;
}

}  // namespace reactor
