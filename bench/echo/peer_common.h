// What the three peer echo servers share: the command line (`NAME PORT`, port
// 0 picks a free one) and the start-up line that run.sh reads the real port
// from. Kept tiny so each server shows its library's own idiom and nothing else.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace echo_bench {

inline uint16_t parse_port_or_exit(int argc, char** argv) {
  unsigned port = 0;
  const char* text = argc == 2 ? argv[1] : "";
  const char* end = text + std::strlen(text);
  auto [ptr, ec] = std::from_chars(text, end, port);
  if (argc != 2 || ec != std::errc() || ptr != end || *text == '\0' || port > 65535) {
    std::fprintf(stderr, "usage: %s PORT   (binds 127.0.0.1; 0 picks a free port)\n", argv[0]);
    std::exit(2);
  }
  return static_cast<uint16_t>(port);
}

inline void announce_listening(uint16_t port) {
  std::fprintf(stderr, "listening on 127.0.0.1:%u\n", static_cast<unsigned>(port));
  std::fflush(stderr);
}

}  // namespace echo_bench
