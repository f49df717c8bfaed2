// Channel: the per-fd event object (the classic reactor's `myevent_s`).
//
// It holds the fd's interest set and its read/write/close callbacks, and
// its own address is what epoll hands back in epoll_event.data.ptr. It
// never owns the fd. Interest is edge-triggered (EPOLLET) by default: a
// callback must read or write until EAGAIN, or it will not be told again.
// A channel set level-triggered is told again on every epoll_wait while
// its fd stays ready, so its callback may stop early (the Acceptor does,
// to save the accept() that would only say EAGAIN).
//
// Lifetime: destroying a Channel removes it from the loop, and the loop
// drops any event of it still pending in the current batch. A callback may
// therefore destroy *other* channels freely. To let a callback destroy the
// object that owns *this* channel, tie() the channel to that object's
// shared_ptr: the owner is then kept alive until the callback returns.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace reactor {

class EventLoop;

class Channel {
 public:
  using Callback = std::function<void()>;

  Channel(EventLoop* loop, int fd);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Read: data, EOF (EPOLLRDHUP) or a pending error (EPOLLERR) -- reading
  // is how each of them is discovered. Write: the socket became writable.
  // Close: EPOLLHUP with nothing left to read.
  void set_read_callback(Callback cb) { read_callback_ = std::move(cb); }
  void set_write_callback(Callback cb) { write_callback_ = std::move(cb); }
  void set_close_callback(Callback cb) { close_callback_ = std::move(cb); }

  // Each of these issues EPOLL_CTL_ADD/MOD/DEL only when the interest set
  // actually changes. Re-enabling reading on a socket that has unread data
  // makes epoll report it again, which is how a paused reader resumes.
  void enable_reading();
  void disable_reading();
  void enable_writing();
  void disable_writing();
  void disable_all();
  // EPOLL_CTL_DEL; the channel may be enabled again later.
  void remove();

  // The events being dispatched right now (valid inside a callback).
  uint32_t ready_events() const { return ready_events_; }
  bool reading() const { return interest_ & kReadEvents; }
  bool writing() const { return interest_ & kWriteEvents; }
  bool registered() const { return registered_; }
  int fd() const { return fd_; }
  uint32_t interest() const { return interest_; }
  EventLoop* loop() const { return loop_; }

  void tie(const std::shared_ptr<void>& owner);

  // Level-triggered instead of edge-triggered; takes effect at the next
  // interest change (set it before enabling).
  void set_level_triggered(bool on) { level_triggered_ = on; }
  bool level_triggered() const { return level_triggered_; }

  // Called by EventLoop with the events epoll reported.
  void handle_events(uint32_t events);

 private:
  friend class EventLoop;
  static constexpr uint32_t kReadEvents = 0x001 | 0x2000;  // EPOLLIN | EPOLLRDHUP
  static constexpr uint32_t kWriteEvents = 0x004;          // EPOLLOUT

  void set_interest(uint32_t interest);
  void dispatch(uint32_t events);

  EventLoop* loop_;
  int fd_;
  uint32_t interest_ = 0;
  uint32_t ready_events_ = 0;
  bool registered_ = false;
  bool tied_ = false;
  bool level_triggered_ = false;
  std::weak_ptr<void> owner_;
  Callback read_callback_;
  Callback write_callback_;
  Callback close_callback_;
};

}  // namespace reactor
