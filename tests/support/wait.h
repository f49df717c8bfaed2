// Test support: waiting for a condition instead of sleeping and hoping.
#pragma once

#include <chrono>
#include <thread>

#include "tests/support/time_scale.h"

namespace test_support {

// Polls `condition` every few milliseconds until it holds (true) or
// `timeout` passes (false).
template <typename Condition>
bool wait_until(Condition condition,
                std::chrono::milliseconds timeout = scaled(std::chrono::seconds(10))) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Polls `sample` every `interval` until it returns the same value `repeats`
// times in a row: the thing measured has stopped moving (a server that has
// filled every buffer it may and stopped reading). False if it is still
// moving after `timeout`.
template <typename Sample>
bool wait_until_steady(Sample sample, int repeats = 8,
                       std::chrono::milliseconds interval = std::chrono::milliseconds(50),
                       std::chrono::milliseconds timeout = scaled(std::chrono::seconds(20))) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto last = sample();
  int same = 1;
  while (same < repeats) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
    auto now = sample();
    same = now == last ? same + 1 : 1;
    last = std::move(now);
  }
  return true;
}

}  // namespace test_support
