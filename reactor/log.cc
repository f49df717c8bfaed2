#include "reactor/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace reactor {

bool set_log_level(std::string_view level) {
  static constexpr std::string_view kNames[] = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  for (size_t index = 0; index < std::size(kNames); ++index) {
    if (level == kNames[index] || (level == "warning" && index == 3)) {
      spdlog::set_level(static_cast<spdlog::level::level_enum>(index));
      return true;
    }
  }
  return false;
}

bool init_logging(std::string_view level) {
  // Plain (not colour) stderr sink: stdout may carry the program's output
  // (an access log, a listing) and must not be interleaved with diagnostics.
  auto logger = spdlog::get("reactor");  // a second call only changes the level
  if (!logger) logger = spdlog::stderr_logger_mt("reactor");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
  if (set_log_level(level)) return true;
  spdlog::set_level(spdlog::level::info);
  return false;
}

std::string_view log_level_names() {
  return "trace, debug, info, warn, error, critical, off";
}

}  // namespace reactor
