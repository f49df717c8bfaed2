#include "reactor/event_loop.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

#include <spdlog/spdlog.h>

#include "reactor/channel.h"
#include "reactor/timer_queue.h"

namespace reactor {
namespace {

constexpr size_t kInitialBatch = 256;
constexpr size_t kMaxBatch = 4096;

void ignore_sigpipe_once() {
  static const bool done = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

UniqueFd checked(int fd, const char* what) {
  if (fd < 0) throw std::system_error(errno, std::generic_category(), what);
  return UniqueFd(fd);
}

}  // namespace

EventLoop::EventLoop()
    : epoll_fd_(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1")),
      thread_id_(std::this_thread::get_id()),
      now_(Clock::now()),
      ready_events_(kInitialBatch),
      wakeup_fd_(checked(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd")) {
  ignore_sigpipe_once();
  wakeup_channel_ = std::make_unique<Channel>(this, wakeup_fd_.get());
  wakeup_channel_->set_read_callback([this] { handle_wakeup(); });
  wakeup_channel_->enable_reading();
  timers_ = std::make_unique<TimerQueue>(this);
}

EventLoop::~EventLoop() {
  // Members are torn down in reverse order; the channels deregister
  // themselves while epoll_fd_ is still open.
  signal_channel_.reset();
  timers_.reset();
  wakeup_channel_.reset();
}

void EventLoop::run() {
  thread_id_ = std::this_thread::get_id();
  while (!quit_) {
    bool have_posted;
    {
      std::lock_guard lock(posted_mutex_);
      have_posted = !posted_tasks_.empty();
      // Set under the lock that post() takes, so a post() that comes after
      // this check is sure to see sleeping_ and write the eventfd.
      sleeping_ = !have_posted;
    }
    int timeout_ms = (have_posted || !deferred_tasks_.empty()) ? 0 : -1;
    int count = ::epoll_wait(epoll_fd_.get(), ready_events_.data(),
                             static_cast<int>(ready_events_.size()), timeout_ms);
    sleeping_ = false;
    now_ = Clock::now();
    if (count < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    ready_count_ = count;
    dispatching_ = true;
    for (int i = 0; i < ready_count_; ++i) {
      auto* channel = static_cast<Channel*>(ready_events_[i].data.ptr);
      // Null when a callback earlier in this batch removed the channel.
      if (channel != nullptr) channel->handle_events(ready_events_[i].events);
    }
    dispatching_ = false;
    ready_count_ = 0;
    run_deferred_tasks();
    run_posted_tasks();
    if (static_cast<size_t>(count) == ready_events_.size() && ready_events_.size() < kMaxBatch) {
      ready_events_.resize(ready_events_.size() * 2);
    }
  }
  // Let work handed over before stop() finish (it may release resources).
  run_deferred_tasks();
  run_posted_tasks();
  run_deferred_tasks();
  // A stop() from another thread may still be writing the eventfd; it does
  // so under this lock, so once we hold it that stop() is done with us and
  // the owner may destroy the loop as soon as run() returns (seen by
  // ThreadSanitizer: the eventfd closed under a stop()'s write, which could
  // otherwise land in whatever file reused the descriptor number).
  std::lock_guard lock(posted_mutex_);
  quit_ = false;  // the loop may be run again
}

void EventLoop::stop() {
  std::lock_guard lock(posted_mutex_);
  quit_ = true;
  if (!in_loop_thread()) wake_up();
}

void EventLoop::post(Task task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_tasks_.push_back(std::move(task));
  }
  // From the loop thread itself the loop is awake by definition: the task
  // runs at the end of this iteration and epoll_wait will not block.
  if (!in_loop_thread() && sleeping_) wake_up();
}

void EventLoop::defer(Task task) {
  deferred_tasks_.push_back(std::move(task));
}

void EventLoop::wake_up() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop will wake anyway.
  [[maybe_unused]] ssize_t n = ::write(wakeup_fd_.get(), &one, sizeof one);
}

void EventLoop::handle_wakeup() {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(wakeup_fd_.get(), &value, sizeof value);
}

void EventLoop::run_posted_tasks() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_tasks_);
  }
  for (Task& task : tasks) task();
}

void EventLoop::run_deferred_tasks() {
  // A deferred task may defer more; run until none is left.
  while (!deferred_tasks_.empty()) {
    std::vector<Task> tasks;
    tasks.swap(deferred_tasks_);
    for (Task& task : tasks) task();
  }
}

TimerId EventLoop::run_after(Clock::duration delay, Task task) {
  return timers_->add(Clock::now() + delay, Clock::duration::zero(), std::move(task));
}

TimerId EventLoop::run_at(Clock::time_point when, Task task) {
  return timers_->add(when, Clock::duration::zero(), std::move(task));
}

TimerId EventLoop::run_every(Clock::duration interval, Task task) {
  if (interval <= Clock::duration::zero()) interval = std::chrono::milliseconds(1);
  return timers_->add(Clock::now() + interval, interval, std::move(task));
}

void EventLoop::cancel(TimerId id) {
  timers_->cancel(id);
}

void EventLoop::on_signal(int signo, Task handler) {
  signal_handlers_[signo] = std::move(handler);
  sigset_t mask;
  sigemptyset(&mask);
  for (const auto& [number, unused] : signal_handlers_) sigaddset(&mask, number);
  // A signal delivered the classic way would interrupt whatever runs; once
  // blocked it waits in the signalfd and arrives as an ordinary event.
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  int fd = ::signalfd(signal_fd_ ? signal_fd_.get() : -1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  if (!signal_fd_) {
    signal_fd_.reset(fd);
    signal_channel_ = std::make_unique<Channel>(this, fd);
    signal_channel_->set_read_callback([this] { handle_signals(); });
    signal_channel_->enable_reading();
  }
}

void EventLoop::handle_signals() {
  signalfd_siginfo info;
  while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
    auto found = signal_handlers_.find(static_cast<int>(info.ssi_signo));
    if (found != signal_handlers_.end()) {
      Task handler = found->second;  // the handler may replace itself
      handler();
    }
  }
}

void EventLoop::update_channel(Channel* channel) {
  epoll_event event{};
  event.events = channel->interest() | (channel->level_triggered() ? 0u : EPOLLET);
  event.data.ptr = channel;
  if (!channel->registered_) {
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, channel->fd(), &event) < 0) {
      throw std::system_error(errno, std::generic_category(), "epoll_ctl ADD");
    }
    channel->registered_ = true;
    ++registered_channels_;
  } else if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, channel->fd(), &event) < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl MOD");
  }
}

void EventLoop::remove_channel(Channel* channel) {
  if (!channel->registered_) return;
  // ENOENT/EBADF only if the owner closed the fd first; nothing to undo.
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, channel->fd(), nullptr);
  channel->registered_ = false;
  --registered_channels_;
  if (dispatching_) {
    for (int i = 0; i < ready_count_; ++i) {
      if (ready_events_[i].data.ptr == channel) ready_events_[i].data.ptr = nullptr;
    }
  }
}

}  // namespace reactor
