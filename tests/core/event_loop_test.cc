// Unit tests of reactor::EventLoop: timers, post() from other threads,
// stop() from another thread, signals through signalfd.
#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "reactor/event_loop.h"
#include "reactor/thread_pool.h"
#include "tests/core/core_test_support.h"
#include "tests/support/time_scale.h"

using namespace std::chrono_literals;
using reactor::EventLoop;
using reactor::TimerId;

namespace {

// Every test loop gets a watchdog: if the code under test never stops the
// loop, the watchdog does, and the test fails instead of hanging.
struct Watchdog {
  Watchdog(EventLoop& loop, std::chrono::milliseconds limit) {
    loop.run_after(limit, [this, &loop] {
      fired = true;
      loop.stop();
    });
  }
  bool fired = false;
};

}  // namespace

TEST_CASE("one-shot timers fire in deadline order, not in creation order") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::vector<int> order;
  loop.run_after(60ms, [&] { order.push_back(60); });
  loop.run_after(20ms, [&] { order.push_back(20); });
  loop.run_after(40ms, [&] { order.push_back(40); });
  loop.run_after(0ms, [&] { order.push_back(0); });
  loop.run_after(80ms, [&] {
    order.push_back(80);
    loop.stop();
  });
  auto started = core_test::SteadyClock::now();
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(order == std::vector<int>{0, 20, 40, 60, 80});
  // Timers never fire early.
  CHECK(core_test::SteadyClock::now() - started >= 80ms);
}

TEST_CASE("timers with the same deadline fire in the order they were added") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::vector<int> order;
  auto deadline = reactor::Clock::now() + 30ms;
  for (int i = 0; i < 20; ++i) loop.run_at(deadline, [&order, i] { order.push_back(i); });
  loop.run_at(deadline, [&] { loop.stop(); });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  REQUIRE(order.size() == 20);
  for (int i = 0; i < 20; ++i) CHECK(order[static_cast<size_t>(i)] == i);
}

TEST_CASE("a timer cancelled before its deadline never fires") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  bool cancelled_fired = false;
  bool kept_fired = false;
  TimerId cancelled = loop.run_after(20ms, [&] { cancelled_fired = true; });
  loop.run_after(20ms, [&] { kept_fired = true; });
  loop.cancel(cancelled);
  loop.cancel(cancelled);  // twice: a no-op
  loop.cancel(987654321);  // unknown id: a no-op
  loop.run_after(80ms, [&] { loop.stop(); });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK_FALSE(cancelled_fired);
  CHECK(kept_fired);
}

TEST_CASE("a timer callback can cancel another timer due in the same expiry") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  auto deadline = reactor::Clock::now() + 20ms;
  bool victim_same_deadline_fired = false;
  bool victim_later_fired = false;
  TimerId victim_same_deadline = 0;
  TimerId victim_later = 0;
  // Added first, so it runs first among timers with the same deadline.
  loop.run_at(deadline, [&] {
    loop.cancel(victim_same_deadline);
    loop.cancel(victim_later);
  });
  victim_same_deadline = loop.run_at(deadline, [&] { victim_same_deadline_fired = true; });
  victim_later = loop.run_at(deadline + 10ms, [&] { victim_later_fired = true; });
  loop.run_after(100ms, [&] { loop.stop(); });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK_FALSE(victim_same_deadline_fired);
  CHECK_FALSE(victim_later_fired);
}

TEST_CASE("a timer callback can add timers, including ones already due") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::vector<int> order;
  loop.run_after(10ms, [&] {
    order.push_back(1);
    loop.run_after(0ms, [&] { order.push_back(2); });
    loop.run_after(20ms, [&] {
      order.push_back(3);
      loop.stop();
    });
  });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("run_every fires repeatedly and stops once cancelled from its own callback") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  int ticks = 0;
  TimerId periodic = 0;
  std::vector<core_test::SteadyClock::time_point> tick_times;
  periodic = loop.run_every(10ms, [&] {
    ++ticks;
    tick_times.push_back(core_test::SteadyClock::now());
    if (ticks == 5) loop.cancel(periodic);
  });
  // Well after a sixth tick would have come.
  loop.run_after(200ms, [&] { loop.stop(); });
  auto started = core_test::SteadyClock::now();
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(ticks == 5);
  REQUIRE(tick_times.size() == 5);
  CHECK(tick_times.front() - started >= 10ms);
  for (size_t i = 1; i < tick_times.size(); ++i) CHECK(tick_times[i] - tick_times[i - 1] >= 9ms);
}

TEST_CASE("run_every cancelled by another timer stops") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  int ticks = 0;
  TimerId periodic = loop.run_every(10ms, [&] { ++ticks; });
  int ticks_at_cancel = -1;
  loop.run_after(55ms, [&] {
    ticks_at_cancel = ticks;
    loop.cancel(periodic);
  });
  loop.run_after(150ms, [&] { loop.stop(); });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(ticks_at_cancel >= 2);
  CHECK(ticks == ticks_at_cancel);
}

TEST_CASE("many cancelled timers do not disturb the live ones") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  // Enough churn to trigger the heap compaction of cancelled entries.
  std::vector<TimerId> doomed;
  int doomed_fired = 0;
  for (int i = 0; i < 1000; ++i) doomed.push_back(loop.run_after(30ms, [&] { ++doomed_fired; }));
  std::vector<int> order;
  loop.run_after(40ms, [&] { order.push_back(2); });
  loop.run_after(20ms, [&] { order.push_back(1); });
  for (TimerId id : doomed) loop.cancel(id);
  loop.run_after(60ms, [&] { loop.stop(); });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(doomed_fired == 0);
  CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("post from many threads runs every task once, on the loop thread, in per-thread order") {
  EventLoop loop;
  Watchdog watchdog(loop, 20s);
  constexpr int kThreads = 8;
  constexpr int kTasksPerThread = 2000;
  const std::thread::id loop_thread = std::this_thread::get_id();
  // Touched only on the loop thread; a task running elsewhere would race
  // (and be caught by the thread check below).
  int ran = 0;
  int off_loop_thread = 0;
  int out_of_order = 0;
  std::vector<int> last_seen(kThreads, -1);

  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kTasksPerThread; ++i) {
        loop.post([&, t, i] {
          if (std::this_thread::get_id() != loop_thread) ++off_loop_thread;
          if (last_seen[static_cast<size_t>(t)] != i - 1) ++out_of_order;
          last_seen[static_cast<size_t>(t)] = i;
          if (++ran == kThreads * kTasksPerThread) loop.stop();
        });
        // Now and then let the loop fall asleep between posts.
        if (i % 500 == 0) std::this_thread::sleep_for(1ms);
      }
    });
  }
  loop.run();
  for (auto& poster : posters) poster.join();
  CHECK_FALSE(watchdog.fired);
  CHECK(ran == kThreads * kTasksPerThread);
  CHECK(off_loop_thread == 0);
  CHECK(out_of_order == 0);
}

TEST_CASE("post from another thread wakes a sleeping loop") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::atomic<bool> loop_running{false};
  bool task_ran = false;
  loop.post([&] { loop_running = true; });
  std::thread poster([&] {
    while (!loop_running) std::this_thread::sleep_for(1ms);
    // Give the loop time to block in epoll_wait (nothing else is due
    // for seconds), then post.
    std::this_thread::sleep_for(100ms);
    loop.post([&] {
      task_ran = true;
      loop.stop();
    });
  });
  auto started = core_test::SteadyClock::now();
  loop.run();
  auto elapsed = core_test::SteadyClock::now() - started;
  poster.join();
  CHECK(task_ran);
  CHECK_FALSE(watchdog.fired);
  // Woken by the post, not by the 5 s watchdog.
  CHECK(elapsed < 3s);
}

TEST_CASE("stop from another thread ends a sleeping loop") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::atomic<bool> loop_running{false};
  loop.post([&] { loop_running = true; });
  std::thread stopper([&] {
    while (!loop_running) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);
    loop.stop();
  });
  auto started = core_test::SteadyClock::now();
  loop.run();
  auto elapsed = core_test::SteadyClock::now() - started;
  stopper.join();
  CHECK_FALSE(watchdog.fired);
  CHECK(elapsed < 3s);
}

TEST_CASE("stop() from another thread before the loop thread reaches run() is not lost") {
  // The usual start-up race: one thread creates the loop and starts a
  // thread to run it, then asks it to stop before that thread got to
  // run(). Made deterministic by stopping before calling run().
  EventLoop loop;
  Watchdog watchdog(loop, 2s);
  std::thread stopper([&] { loop.stop(); });
  stopper.join();
  loop.run();
  CHECK_FALSE(watchdog.fired);
  // The loop can be run again afterwards (it waits for a timer rather than
  // returning at once), and stop() then works as before.
  bool timer_ran = false;
  loop.run_after(10ms, [&] {
    timer_ran = true;
    loop.stop();
  });
  loop.run();
  CHECK(timer_ran);
  CHECK_FALSE(watchdog.fired);
}

TEST_CASE("tasks posted before stop() still run before run() returns") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  bool late_task_ran = false;
  loop.post([&] {
    loop.stop();
    loop.post([&] { late_task_ran = true; });
  });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(late_task_ran);
}

TEST_CASE("deferred tasks run after the current callback, before the loop sleeps") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  std::vector<int> order;
  loop.run_after(10ms, [&] {
    loop.defer([&] {
      order.push_back(2);
      loop.defer([&] {
        order.push_back(3);
        loop.stop();
      });
    });
    order.push_back(1);
  });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("on_signal delivers a signal raised after registration to the loop thread") {
  bool handled_usr1 = false;
  bool handled_usr2 = false;
  bool on_loop_thread = false;
  {
    EventLoop loop;
    Watchdog watchdog(loop, 5s);
    const std::thread::id loop_thread = std::this_thread::get_id();
    loop.on_signal(SIGUSR1, [&] {
      handled_usr1 = true;
      on_loop_thread = std::this_thread::get_id() == loop_thread;
      if (handled_usr2) loop.stop();
    });
    loop.on_signal(SIGUSR2, [&] {
      handled_usr2 = true;
      if (handled_usr1) loop.stop();
    });
    // Blocked by on_signal: the signal waits in the signalfd instead of
    // killing the process (SIGUSR1's default action).
    REQUIRE(::raise(SIGUSR1) == 0);
    REQUIRE(::raise(SIGUSR2) == 0);
    loop.run();
    CHECK_FALSE(watchdog.fired);
  }
  CHECK(handled_usr1);
  CHECK(handled_usr2);
  CHECK(on_loop_thread);
  // Leave the test process as we found it.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &mask, nullptr);
}

TEST_CASE("a signal sent to the sleeping loop thread from another thread wakes it") {
  EventLoop loop;
  Watchdog watchdog(loop, 5s);
  int handled = 0;
  loop.on_signal(SIGUSR1, [&] {
    ++handled;
    loop.stop();
  });
  std::atomic<bool> loop_running{false};
  loop.post([&] { loop_running = true; });
  const pthread_t loop_thread = pthread_self();
  // Created after on_signal, so it inherits the blocked mask and the signal
  // can only reach the loop thread it is aimed at.
  std::thread sender([&] {
    while (!loop_running) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(100ms);
    pthread_kill(loop_thread, SIGUSR1);
  });
  auto started = core_test::SteadyClock::now();
  loop.run();
  auto elapsed = core_test::SteadyClock::now() - started;
  sender.join();
  CHECK_FALSE(watchdog.fired);
  CHECK(handled == 1);
  CHECK(elapsed < 3s);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  pthread_sigmask(SIG_UNBLOCK, &mask, nullptr);
}

TEST_CASE("ThreadPool runs its jobs on exactly its worker threads, concurrently") {
  constexpr size_t kWorkers = 3;
  std::mutex mutex;
  std::condition_variable all_in;
  size_t inside = 0;
  bool met = true;
  std::set<std::thread::id> threads;
  {
    reactor::ThreadPool pool(kWorkers);
    // Each job waits until all three are running at once: only three
    // concurrent workers can finish them.
    for (size_t i = 0; i < kWorkers; ++i) {
      pool.submit([&] {
        std::unique_lock lock(mutex);
        threads.insert(std::this_thread::get_id());
        ++inside;
        all_in.notify_all();
        if (!all_in.wait_for(lock, test_support::scaled(10s), [&] { return inside == kWorkers; })) {
          met = false;
        }
      });
    }
    // Many more: they all run, still on the same workers.
    for (int i = 0; i < 200; ++i) {
      pool.submit([&] {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
      });
    }
  }  // the destructor runs what was submitted, then joins
  CHECK(met);
  CHECK(threads.size() == kWorkers);
  CHECK(threads.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("ThreadPool: the destructor finishes every submitted job; zero threads means one") {
  std::atomic<int> done{0};
  {
    reactor::ThreadPool pool(0);
    for (int i = 0; i < 1000; ++i) {
      pool.submit([&done, i] {
        if (i % 100 == 0) std::this_thread::sleep_for(1ms);
        ++done;
      });
    }
  }
  CHECK(done == 1000);
}

TEST_CASE("ThreadPool: a job's result goes back to the loop thread through post()") {
  EventLoop loop;
  Watchdog watchdog(loop, test_support::scaled(10s));
  reactor::ThreadPool pool(2);
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id job_thread;
  std::thread::id result_thread;
  int result = 0;
  pool.submit([&] {
    job_thread = std::this_thread::get_id();
    const int computed = 6 * 7;
    loop.post([&, computed] {
      result = computed;
      result_thread = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  CHECK_FALSE(watchdog.fired);
  CHECK(result == 42);
  CHECK(result_thread == loop_thread);
  CHECK(job_thread != loop_thread);
}
