// Logging set-up for programs that embed the library.
//
// The library logs through spdlog internally; this header keeps spdlog out
// of the public API. Nothing is logged per byte or per message at "info":
// per-connection events are "debug", per-read details "trace".
#pragma once

#include <string_view>

namespace reactor {

// Sends the library's log (spdlog's default logger) to stderr with a
// timestamped pattern, at `level` (see set_log_level). Programs call this
// once at start-up, before starting threads; embedders who configure
// spdlog themselves need not. A second call only changes the level.
// Returns false for an unknown level name (the level is then "info").
bool init_logging(std::string_view level = "info");

// Sets the level of the library's logger (and the default logger):
// "trace", "debug", "info", "warn", "error", "critical" or "off".
// Returns false, changing nothing, for an unknown name. Any thread.
bool set_log_level(std::string_view level);

// The level names set_log_level accepts, for --help texts.
std::string_view log_level_names();

}  // namespace reactor
