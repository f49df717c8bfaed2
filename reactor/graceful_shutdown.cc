#include "reactor/graceful_shutdown.h"

#include <csignal>
#include <memory>

#include <spdlog/spdlog.h>

namespace reactor {

void stop_gracefully_on_signals(EventLoop& loop, std::chrono::milliseconds deadline,
                                std::function<void(std::function<void()> finished)> begin) {
  auto stopping = std::make_shared<bool>(false);
  auto handler = [&loop, deadline, stopping, begin = std::move(begin)] {
    if (*stopping) {
      spdlog::warn("second signal: exiting now");
      loop.stop();
      return;
    }
    *stopping = true;
    if (deadline.count() > 0) {
      loop.run_after(deadline, [&loop] {
        spdlog::warn("shutdown deadline passed; exiting with work still in flight");
        loop.stop();
      });
    }
    begin([&loop] { loop.stop(); });
  };
  loop.on_signal(SIGINT, handler);
  loop.on_signal(SIGTERM, handler);
}

}  // namespace reactor
