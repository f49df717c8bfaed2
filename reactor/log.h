// Logging set-up for programs that embed the library.
//
// The library logs through spdlog internally; this header keeps spdlog out
// of the public API. Nothing is logged per byte or per message at "info":
// per-connection events are "debug", per-read details "trace".
#pragma once

#include <string_view>

namespace reactor {

// Sets the level of the library's logger (and the default logger):
// "trace", "debug", "info", "warn", "error", "critical" or "off".
// Returns false, changing nothing, for an unknown name. Any thread.
bool set_log_level(std::string_view level);

// The level names set_log_level accepts, for --help texts.
std::string_view log_level_names();

}  // namespace reactor
