// The servers' SIGINT/SIGTERM policy in one place: the first signal starts
// a graceful shutdown, a second one (or the deadline) stops the loop at once.
//
// Threading: loop thread only; call before starting other threads (see
// EventLoop::on_signal).
#pragma once

#include <chrono>
#include <functional>

#include "reactor/event_loop.h"

namespace reactor {

// On the first SIGINT/SIGTERM, calls `begin(finished)`: `begin` stops
// accepting and winds its work down, then calls `finished`, which stops the
// loop. If `deadline` is positive the loop stops anyway once it has passed.
// A second signal stops the loop at once.
void stop_gracefully_on_signals(EventLoop& loop, std::chrono::milliseconds deadline,
                                std::function<void(std::function<void()> finished)> begin);

}  // namespace reactor
