#include "reactor/channel.h"

#include <sys/epoll.h>

#include "reactor/event_loop.h"

namespace reactor {

Channel::Channel(EventLoop* loop, int fd) : loop_(loop), fd_(fd) {}

Channel::~Channel() {
  if (registered_) loop_->remove_channel(this);
}

// The header avoids <sys/epoll.h>; make sure its constants are right.
static_assert((0x001 | 0x2000) == (EPOLLIN | EPOLLRDHUP) && 0x004 == EPOLLOUT);

void Channel::enable_reading() {
  set_interest(interest_ | kReadEvents);
}
void Channel::disable_reading() {
  set_interest(interest_ & ~kReadEvents);
}
void Channel::enable_writing() {
  set_interest(interest_ | kWriteEvents);
}
void Channel::disable_writing() {
  set_interest(interest_ & ~kWriteEvents);
}
void Channel::disable_all() {
  set_interest(0);
}

void Channel::remove() {
  interest_ = 0;
  if (registered_) loop_->remove_channel(this);
}

void Channel::set_interest(uint32_t interest) {
  if (interest == interest_ && registered_) return;
  interest_ = interest;
  loop_->update_channel(this);
}

void Channel::tie(const std::shared_ptr<void>& owner) {
  owner_ = owner;
  tied_ = true;
}

void Channel::handle_events(uint32_t events) {
  ready_events_ = events;
  if (tied_) {
    // Holds the owner for the duration of the callbacks: one of them may
    // drop the last other reference (a connection closing itself).
    std::shared_ptr<void> guard = owner_.lock();
    if (guard) dispatch(events);
  } else {
    dispatch(events);
  }
}

void Channel::dispatch(uint32_t events) {
  // EPOLLHUP without EPOLLIN: both directions are gone and nothing is left
  // to read. With EPOLLIN there may still be data, so read first.
  if ((events & EPOLLHUP) && !(events & EPOLLIN)) {
    if (close_callback_) close_callback_();
    return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) && read_callback_) {
    read_callback_();
  }
  // The read callback may have removed this channel (the connection closed);
  // writing to it now would report a stale event.
  if ((events & EPOLLOUT) && registered_ && write_callback_) write_callback_();
}

}  // namespace reactor
