// Test support: in-test time limits that stretch under slow builds.
//
// The sanitizer build runs several times slower than the plain one, so a
// limit that is generous for the plain build ("answered within 1 s") can
// fail there for no fault of the code. Every in-test time limit goes
// through scaled(): scripts/test.sh sets REACTOR_TEST_TIME_SCALE for the
// ASan+UBSan run. Limits the code under test enforces itself (a server's
// --idle-timeout) are not scaled; only how long the test waits to see them.
#pragma once

#include <chrono>
#include <cstdlib>

namespace test_support {

// The factor from REACTOR_TEST_TIME_SCALE (a positive number), else 1.
inline double time_scale() {
  static const double scale = [] {
    const char* text = std::getenv("REACTOR_TEST_TIME_SCALE");
    if (text == nullptr) return 1.0;
    const double value = std::strtod(text, nullptr);
    return value > 0 ? value : 1.0;
  }();
  return scale;
}

// `limit` stretched by time_scale().
template <typename Rep, typename Period>
std::chrono::milliseconds scaled(std::chrono::duration<Rep, Period> limit) {
  const auto ms = std::chrono::duration_cast<std::chrono::duration<double, std::milli>>(limit);
  return std::chrono::milliseconds(static_cast<long long>(ms.count() * time_scale()));
}

}  // namespace test_support
