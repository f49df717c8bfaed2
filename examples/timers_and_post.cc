// timers_and_post: the loop's clock and its one door for other threads.
//
//   build/examples/timers_and_post
//
// Runs for about a third of a second and exits. It shows:
//   - run_after(): a one-shot timer;
//   - run_every(): a periodic timer that cancels itself after three ticks;
//   - cancel(): a timer that never fires;
//   - post(): work done on another thread (a ThreadPool worker) whose
//     result is handed back to the loop thread.
//
// Timers and callbacks always run on the loop thread, so they share plain
// variables (`ticks`, `waiting_for`) without locks. The only thing another
// thread may do with the loop is post() (and stop()).
#include <chrono>
#include <cstdint>
#include <cstdio>

#include "reactor/event_loop.h"
#include "reactor/thread_pool.h"

using namespace std::chrono_literals;

int main() {
  reactor::EventLoop loop;
  // Two things must happen before we exit: the ticker's last tick and the
  // worker's result. Whichever comes second stops the loop.
  int waiting_for = 2;
  auto one_done = [&loop, &waiting_for] {
    if (--waiting_for == 0) loop.stop();
  };

  loop.run_after(50ms, [] { std::printf("run_after: 50 ms have passed\n"); });

  // cancel() forgets a pending timer. Ids are never reused, so cancelling
  // one that has already fired, or cancelling twice, is harmless too.
  reactor::TimerId never = loop.run_after(200ms, [] { std::printf("this line never prints\n"); });
  loop.cancel(never);

  int ticks = 0;
  reactor::TimerId ticker = 0;
  ticker = loop.run_every(100ms, [&] {
    ++ticks;
    std::printf("run_every: tick %d\n", ticks);
    if (ticks == 3) {
      loop.cancel(ticker);  // a timer may cancel itself from its callback
      one_done();
    }
  });

  // Work that would stall the loop (here: a long sum) goes to a worker.
  // The worker must not touch loop state; it post()s a task instead, and
  // the loop runs that task on its own thread. The job is handed out from
  // the loop itself (this post() runs it once run() has started), so the
  // worker only ever talks to a loop that is running.
  reactor::ThreadPool workers(1);
  loop.post([&] {
    workers.submit([&loop, &one_done] {
      uint64_t sum = 0;
      for (uint64_t i = 1; i <= 10'000'000; ++i) sum += i;
      loop.post([&loop, &one_done, sum] {
        std::printf("post: the worker computed %llu; this line runs on the %s\n",
                    static_cast<unsigned long long>(sum),
                    loop.in_loop_thread() ? "loop thread" : "WRONG thread");
        one_done();
      });
    });
  });

  loop.run();
  std::printf("done\n");
  // `workers` is destroyed first: it joins its (idle) thread, then the loop
  // goes away.
  return 0;
}
