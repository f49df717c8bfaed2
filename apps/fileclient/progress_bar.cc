#include "apps/fileclient/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>

#include "apps/fileclient/output_format.h"

namespace reactor::file::client {

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  // Three significant digits: "1.00 GiB", "12.3 MiB", "512 KiB".
  const char* format = value < 10 ? "%.2f %s" : value < 100 ? "%.1f %s" : "%.0f %s";
  std::snprintf(text, sizeof text, format, value, kUnits[unit]);
  return text;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 360000 * 24) return "--:--";
  auto total = static_cast<uint64_t>(std::llround(seconds));
  uint64_t hours = total / 3600;
  uint64_t minutes = total / 60 % 60;
  uint64_t secs = total % 60;
  char text[32];
  if (hours > 0) {
    std::snprintf(text, sizeof text, "%llu:%02llu:%02llu", static_cast<unsigned long long>(hours),
                  static_cast<unsigned long long>(minutes), static_cast<unsigned long long>(secs));
  } else {
    std::snprintf(text, sizeof text, "%llu:%02llu", static_cast<unsigned long long>(minutes),
                  static_cast<unsigned long long>(secs));
  }
  return text;
}

namespace {

std::string shorten_middle(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  if (width <= 3) return text.substr(0, width);
  size_t keep = width - 3;
  size_t head = keep / 2;
  size_t tail = keep - head;
  return text.substr(0, head) + "..." + text.substr(text.size() - tail);
}

}  // namespace

std::string format_progress_line(const ProgressSnapshot& snapshot, size_t width) {
  std::string percent;
  if (snapshot.total > 0) {
    double fraction =
        std::min(1.0, static_cast<double>(snapshot.done) / static_cast<double>(snapshot.total));
    char text[8];
    std::snprintf(text, sizeof text, "%3d%%", static_cast<int>(fraction * 100));
    percent = text;
  }
  std::string amount = format_bytes(snapshot.done);
  if (snapshot.total > 0) amount += " / " + format_bytes(snapshot.total);
  std::string rate = format_bytes(static_cast<uint64_t>(snapshot.bytes_per_second)) + "/s";
  std::string eta;
  if (snapshot.total > 0 && snapshot.done < snapshot.total) {
    double left = static_cast<double>(snapshot.total - snapshot.done);
    eta =
        "ETA " + (snapshot.bytes_per_second > 0 ? format_duration(left / snapshot.bytes_per_second)
                                                : std::string("--:--"));
  } else if (snapshot.total > 0) {
    eta = "done";
  }

  // Fixed parts first; the bar takes what is left, the label what remains.
  std::string tail = amount + "  " + rate + (eta.empty() ? "" : "  " + eta);
  std::string head_percent = percent.empty() ? "" : percent + " ";
  size_t label_width = std::min<size_t>(snapshot.label.size(), 30);
  size_t fixed = label_width + 2 + head_percent.size() + tail.size();
  std::string bar;
  if (snapshot.total > 0 && width > fixed + 12) {
    size_t inner = std::min<size_t>(width - fixed - 3, 40);
    double fraction =
        std::min(1.0, static_cast<double>(snapshot.done) / static_cast<double>(snapshot.total));
    auto filled = static_cast<size_t>(fraction * static_cast<double>(inner));
    bar = "[" + std::string(filled, '=');
    if (filled < inner) bar += ">" + std::string(inner - filled - 1, ' ');
    bar += "] ";
  }
  std::string line = head_percent + bar + tail;
  if (line.size() > width) line = head_percent + tail;
  if (line.size() > width) line = head_percent + amount;
  if (line.size() >= width) return shorten_middle(line, width);
  if (!snapshot.label.empty() && line.size() + 3 < width) {
    std::string label =
        shorten_middle(snapshot.label, std::min(label_width, width - line.size() - 2));
    line = label + "  " + line;
  }
  return line;
}

ProgressBar::ProgressBar(FILE* out, bool enabled) : out_(out), enabled_(enabled) {}

ProgressBar::~ProgressBar() {
  if (drawn_) clear();
}

void ProgressBar::start(std::string label, uint64_t total, uint64_t already) {
  snapshot_ = ProgressSnapshot{escape_text(label), already, total, 0};
  start_done_ = already;
  started_ = std::chrono::steady_clock::now();
  last_draw_ = {};
}

void ProgressBar::set_label(std::string label) {
  snapshot_.label = escape_text(label);
}

void ProgressBar::update(uint64_t done) {
  snapshot_.done = done;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  draw(true);
  std::fputc('\n', out_);
  std::fflush(out_);
  drawn_ = false;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

size_t ProgressBar::terminal_width() const {
  winsize size{};
  if (::ioctl(fileno(out_), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

void ProgressBar::draw(bool final) {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  if (elapsed > 0.05 && snapshot_.done >= start_done_) {
    snapshot_.bytes_per_second = static_cast<double>(snapshot_.done - start_done_) / elapsed;
  }
  if (final && snapshot_.total > 0) snapshot_.done = std::max(snapshot_.done, snapshot_.total);
  std::string line = format_progress_line(snapshot_, terminal_width() - 1);
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

}  // namespace reactor::file::client
