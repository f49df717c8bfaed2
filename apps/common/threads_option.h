// --threads N|auto, the same in every server app: how many event loops
// (one per thread) serve the port.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "reactor/loop_group.h"

namespace apps {

inline CLI::Option* add_threads_option(CLI::App& app, std::string& threads) {
  return app
      .add_option("--threads", threads,
                  "Event-loop threads, each accepting on the port (SO_REUSEPORT) and serving\n"
                  "its own clients: N (1 = a single loop), or auto = one per CPU this process\n"
                  "may run on (sched_getaffinity)")
      ->type_name("N|auto")
      ->check([](const std::string& text) {
        return reactor::LoopGroup::parse_count(text) ? std::string()
                                                     : std::string("--threads takes auto or 1-256");
      })
      ->capture_default_str();
}

}  // namespace apps
