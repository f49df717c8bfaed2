#include "reactor/socket_activation.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace reactor {
namespace {

constexpr int kFirstActivatedFd = 3;  // SD_LISTEN_FDS_START

bool parse_number(const char* text, long& value) {
  if (text == nullptr) return false;
  const std::string_view view(text);
  const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), value);
  return error == std::errc() && end == view.data() + view.size() && value >= 0;
}

}  // namespace

std::vector<UniqueFd> take_activated_sockets() {
  long pid = 0;
  long count = 0;
  const bool for_us = parse_number(std::getenv("LISTEN_PID"), pid) && pid == ::getpid() &&
                      parse_number(std::getenv("LISTEN_FDS"), count);
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  std::vector<UniqueFd> sockets;
  if (!for_us) return sockets;
  for (long fd = kFirstActivatedFd; fd < kFirstActivatedFd + count; ++fd) {
    // Not ours if it is not open: a miscounted LISTEN_FDS must not make us
    // close descriptors that belong to something else.
    if (::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC) < 0) continue;
    sockets.emplace_back(static_cast<int>(fd));
  }
  return sockets;
}

}  // namespace reactor
