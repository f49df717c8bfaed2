// What the three peer echo servers share: the command line (`NAME PORT
// [--threads N]`, port 0 picks a free one) and the start-up line that run.sh
// reads the real port from. Kept tiny so each server shows its library's own
// idiom and nothing else.
//
// --threads N (default 1) runs N event loops, one per thread, each with its
// own listening socket on the same port (SO_REUSEPORT, so the kernel spreads
// new connections over the loops by a hash of the addresses), as
// reactor-echod --threads N does. With N = 1 no SO_REUSEPORT is set: exactly
// the single-threaded server it always was.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace echo_bench {

struct PeerOptions {
  uint16_t port = 0;
  unsigned threads = 1;
};

[[noreturn]] inline void usage_and_exit(const char* program) {
  std::fprintf(stderr,
               "usage: %s PORT [--threads N]   (binds 127.0.0.1; 0 picks a free port;\n"
               "       N event loops, one per thread, each listening with SO_REUSEPORT)\n",
               program);
  std::exit(2);
}

inline bool parse_unsigned(const char* text, unsigned max, unsigned* value) {
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, *value);
  return ec == std::errc() && ptr == end && *text != '\0' && *value <= max;
}

inline PeerOptions parse_options_or_exit(int argc, char** argv) {
  PeerOptions options;
  unsigned port = 0;
  if (argc != 2 && argc != 4) usage_and_exit(argv[0]);
  if (!parse_unsigned(argv[1], 65535, &port)) usage_and_exit(argv[0]);
  options.port = static_cast<uint16_t>(port);
  if (argc == 4) {
    if (std::string_view(argv[2]) != "--threads" ||
        !parse_unsigned(argv[3], 256, &options.threads) || options.threads == 0)
      usage_and_exit(argv[0]);
  }
  return options;
}

inline void announce_listening(uint16_t port, unsigned threads) {
  std::fprintf(stderr, "listening on 127.0.0.1:%u (%u thread%s)\n", static_cast<unsigned>(port),
               threads, threads == 1 ? "" : "s");
  std::fflush(stderr);
}

}  // namespace echo_bench
