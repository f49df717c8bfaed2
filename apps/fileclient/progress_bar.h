// The transfer progress bar: percent, bytes, rate and ETA on one line that
// redraws itself with '\r' -- only when the output is a terminal. A pipe
// or a file gets no progress at all, so scripts see clean output.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace reactor::file::client {

// "0 B", "999 B", "1.0 KiB", "12.3 MiB", "1.00 GiB" (binary units).
std::string format_bytes(uint64_t bytes);
// "0:07", "12:34", "1:02:03"; "--:--" when unknown (negative or absurd).
std::string format_duration(double seconds);

struct ProgressSnapshot {
  std::string label;   // what is moving (a file name)
  uint64_t done = 0;   // bytes so far
  uint64_t total = 0;  // bytes expected; 0 = unknown
  double bytes_per_second = 0;
};

// One line, at most `width` columns:
//   "label  42% [=========>            ] 420.0 MiB / 1.00 GiB  105.3 MiB/s  ETA 0:06"
// Parts are dropped right to left (bar first) when the width is small, and
// a long label is shortened with "..." in the middle.
std::string format_progress_line(const ProgressSnapshot& snapshot, size_t width);

class ProgressBar {
 public:
  // Draws on `out` only if `enabled` (typically: isatty(stderr)).
  ProgressBar(FILE* out, bool enabled);
  ~ProgressBar();

  // Starts a new transfer; `already` bytes were done before (a resume) and
  // do not count toward the rate.
  void start(std::string label, uint64_t total, uint64_t already = 0);
  // At most ten redraws a second, whatever the call rate.
  void update(uint64_t done);
  // Renames what is moving ("3/10 files") without restarting the clock.
  void set_label(std::string label);
  // Draws the final state and ends the line.
  void finish();
  // Erases the line (before printing an error, say).
  void clear();

  bool enabled() const { return enabled_; }

 private:
  void draw(bool final);
  size_t terminal_width() const;

  FILE* out_;
  bool enabled_;
  bool drawn_ = false;
  ProgressSnapshot snapshot_;
  uint64_t start_done_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace reactor::file::client
