// Helpers shared by the core tests: a loop on its own thread, raw
// loopback sockets, and position-dependent test data.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"
#include "tests/support/time_scale.h"

namespace core_test {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// Bytes that depend on their position (period 1,000,003, a prime): a lost,
// duplicated or reordered block shows up as a mismatch.
inline const std::string& pattern_block() {
  static const std::string block = [] {
    std::string bytes(1'000'003, '\0');
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (char& byte : bytes) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      byte = static_cast<char>(state >> 56);
    }
    return bytes;
  }();
  return block;
}

inline std::string pattern(size_t length, size_t start = 0) {
  const std::string& block = pattern_block();
  std::string bytes;
  bytes.reserve(length);
  size_t position = start % block.size();
  while (bytes.size() < length) {
    size_t take = std::min(length - bytes.size(), block.size() - position);
    bytes.append(block, position, take);
    position = 0;
  }
  return bytes;
}

// True if `data` equals pattern(data.size(), start), without building it.
inline bool matches_pattern(std::string_view data, size_t start) {
  const std::string& block = pattern_block();
  size_t position = start % block.size();
  while (!data.empty()) {
    size_t take = std::min(data.size(), block.size() - position);
    if (std::memcmp(data.data(), block.data() + position, take) != 0) return false;
    data.remove_prefix(take);
    position = 0;
  }
  return true;
}

// Empty if equal; otherwise where the bytes first differ. Used instead of
// comparing large binary strings directly, which on failure would print
// megabytes of garbage.
inline std::string difference(std::string_view actual, std::string_view expected) {
  if (actual == expected) return {};
  size_t common = std::min(actual.size(), expected.size());
  size_t offset = 0;
  while (offset < common && actual[offset] == expected[offset]) ++offset;
  return "got " + std::to_string(actual.size()) + " bytes, expected " +
         std::to_string(expected.size()) + "; first difference at offset " + std::to_string(offset);
}

// Runs an EventLoop on its own thread so that a test can drive blocking
// clients from the test thread. Reactor objects must be created and
// destroyed on the loop thread: use call().
class LoopThread {
 public:
  LoopThread() {
    // Shared: set_value() may still be running when get() returns.
    auto ready = std::make_shared<std::promise<reactor::EventLoop*>>();
    thread_ = std::thread([ready] {
      reactor::EventLoop loop;
      // Announced from inside run(), so that a stop() from the destructor
      // can never come before run() has started.
      loop.post([&loop, ready] { ready->set_value(&loop); });
      loop.run();
    });
    loop_ = ready->get_future().get();
  }
  ~LoopThread() {
    loop_->stop();
    thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  reactor::EventLoop& loop() { return *loop_; }

  // Runs `function` on the loop thread and returns its result (or rethrows).
  // The future also orders memory: what the loop wrote is visible after.
  template <typename Function>
  auto call(Function function) -> std::invoke_result_t<Function&> {
    using Result = std::invoke_result_t<Function&>;
    auto task = std::make_shared<std::packaged_task<Result()>>(std::move(function));
    auto future = task->get_future();
    loop_->post([task] { (*task)(); });
    if (future.wait_for(test_support::scaled(30s)) != std::future_status::ready) {
      // The loop is wedged; nothing sensible can follow.
      std::fprintf(stderr, "loop thread did not answer within 30 s\n");
      std::abort();
    }
    return future.get();
  }

  // Returns once the loop has dispatched every event that was ready when
  // this was called: each call() is one turn of the loop (epoll_wait, the
  // events, then the posted task), and a level-triggered listener accepts
  // one connection per turn. For checking that something did NOT happen
  // without sleeping and hoping it would have happened by then.
  void let_pending_events_run(int turns = 3) {
    for (int turn = 0; turn < turns; ++turn) call([] {});
  }

  // Polls `condition` on the loop thread until it holds or `timeout` passes.
  template <typename Condition>
  bool wait_until(Condition condition,
                  std::chrono::milliseconds timeout = test_support::scaled(10s)) {
    auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      if (call([&] { return static_cast<bool>(condition()); })) return true;
      if (SteadyClock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  reactor::EventLoop* loop_ = nullptr;
  std::thread thread_;
};

inline reactor::SocketAddress loopback(uint16_t port = 0, bool ipv6 = false) {
  return *reactor::SocketAddress::parse(ipv6 ? "::1" : "127.0.0.1", port);
}

// A blocking client socket. SO_RCVBUF is set before connect() because the
// TCP window scale is fixed during the handshake.
inline reactor::UniqueFd connect_client(const reactor::SocketAddress& server,
                                        int receive_buffer = 0, bool non_blocking = false) {
  int flags = SOCK_STREAM | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0);
  reactor::UniqueFd fd(::socket(server.family(), flags, 0));
  if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (receive_buffer > 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  if (::connect(fd.get(), server.get(), server.length()) < 0 && errno != EINPROGRESS) {
    throw std::runtime_error("connect " + server.to_string() + ": " + std::strerror(errno));
  }
  int on = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return fd;
}

inline int milliseconds_left(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Writes everything on a blocking socket; false if the peer went away.
inline bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct ReadResult {
  std::string data;
  bool eof = false;  // orderly close (read returned 0)
  int error = 0;     // errno of a failed read (ECONNRESET...)
  bool timed_out = false;
};

// Reads until `count` bytes arrived (count 0: until EOF), EOF, an error, or
// the timeout. Works on blocking and non-blocking sockets.
inline ReadResult read_bytes(int fd, size_t count,
                             std::chrono::milliseconds timeout = test_support::scaled(10s)) {
  auto deadline = SteadyClock::now() + timeout;
  ReadResult result;
  std::string chunk(256 * 1024, '\0');
  while (count == 0 || result.data.size() < count) {
    pollfd entry{fd, POLLIN, 0};
    int ready = ::poll(&entry, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      result.timed_out = true;
      break;
    }
    size_t want = count == 0 ? chunk.size() : std::min(chunk.size(), count - result.data.size());
    ssize_t n = ::recv(fd, chunk.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      result.data.append(chunk.data(), static_cast<size_t>(n));
    } else if (n == 0) {
      result.eof = true;
      break;
    } else if (errno != EAGAIN && errno != EINTR) {
      result.error = errno;
      break;
    }
  }
  return result;
}

inline ReadResult read_until_eof(int fd,
                                 std::chrono::milliseconds timeout = test_support::scaled(10s)) {
  return read_bytes(fd, 0, timeout);
}

// Bytes received on `fd` that nobody has read yet (FIONREAD).
inline size_t unread_bytes(int fd) {
  int count = 0;
  if (::ioctl(fd, FIONREAD, &count) < 0) return 0;
  return static_cast<size_t>(count);
}

// Sets SO_LINGER 0 and closes: the peer gets a RST instead of a FIN.
inline void reset_connection(reactor::UniqueFd& fd) {
  linger option{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &option, sizeof option);
  fd.reset();
}

// Raises the soft descriptor limit (up to the hard one); returns the result.
inline rlim_t raise_descriptor_limit(rlim_t wanted) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace core_test
