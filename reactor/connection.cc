#include "reactor/connection.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace reactor {
namespace {

// Upper bound on the bytes moved for one connection per readiness event.
// Edge-triggered epoll would let one fast peer monopolise the loop if we
// always went on to EAGAIN; past the budget we yield and resume the same
// connection after the other ready ones had their turn.
constexpr size_t kIoBudgetPerEvent = 4 * 1024 * 1024;
// sendfile() is asked for at most this much per call, so a 1 GiB file does
// not turn into one long syscall that blocks everyone (and stays far below
// the 2 GiB per-call cap).
constexpr size_t kMaxSendfileChunk = 1024 * 1024;
// Input storage up to this size survives between messages.
constexpr size_t kKeptInputCapacity = 64 * 1024;
// How long a closing connection keeps draining what the peer still sends.
constexpr std::chrono::seconds kLingerTimeout(2);

// One input buffer per thread, lent to whichever connection reads while its
// own input buffer is empty -- the common case, where every message read is
// consumed at once. Connections between messages then hold no input storage
// at all, however busy they were (as libevent users get with one stack
// buffer). What the message callback leaves unconsumed is moved into the
// connection's own buffer before the next connection reads.
class LentInput {
 public:
  LentInput(Buffer& own, Buffer*& current) : own_(own), current_(current) {
    if (!own.empty() || shared_->lent) return;  // nested read: use its own
    shared_->lent = true;
    shared_->buffer.ensure_writable(Buffer::kSpillSize);
    current_ = &shared_->buffer;
  }
  ~LentInput() {
    if (current_ != &shared_->buffer) return;
    if (!shared_->buffer.empty()) own_.append(shared_->buffer.view());
    shared_->buffer.retrieve_all();
    shared_->lent = false;
    current_ = &own_;
  }
  LentInput(const LentInput&) = delete;
  LentInput& operator=(const LentInput&) = delete;

  Buffer& buffer() { return *current_; }

 private:
  struct Shared {
    Buffer buffer;
    bool lent = false;
  };
  static Shared* thread_shared() {
    static thread_local Shared shared;
    return &shared;
  }
  // Looked up once: in a shared library each thread_local access may cost
  // a call to __tls_get_addr, and this runs on every read.
  Shared* const shared_ = thread_shared();
  Buffer& own_;
  Buffer*& current_;
};

}  // namespace

Connection::Connection(EventLoop* loop, UniqueFd socket, const SocketAddress& local,
                       const SocketAddress& peer, uint64_t id)
    : loop_(loop),
      socket_(std::move(socket)),
      channel_(loop, socket_.get()),
      local_(local),
      peer_(peer),
      id_(id),
      last_activity_(loop->now()) {
  channel_.set_read_callback([this] { handle_read(); });
  channel_.set_write_callback([this] { handle_write(); });
  channel_.set_close_callback([this] { handle_hang_up(); });
}

Connection::~Connection() = default;

void Connection::established(bool input_waiting) {
  state_ = State::kOpen;
  channel_.tie(shared_from_this());
  if (reading_wanted_) channel_.enable_reading();
  ConnectionPtr self = shared_from_this();  // the callbacks may drop theirs
  if (connection_callback_) connection_callback_(self);
  // The event EPOLL_CTL_ADD queued for these bytes is dropped by the kernel
  // at the next epoll_wait once they are read (it re-polls ready items).
  if (input_waiting && state_ == State::kOpen) handle_read();
}

void Connection::set_tcp_no_delay(bool on) {
  int value = on ? 1 : 0;
  ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof value);
}

// ---- reading ---------------------------------------------------------------

void Connection::handle_read() {
  if (state_ == State::kClosed) return;
  if (channel_.ready_events() & EPOLLERR) {
    // A pending socket error (RST after our FIN, say) must end the
    // connection even when we are not reading (backpressure, EOF seen).
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      handle_error(error);
      return;
    }
  }
  if (peer_finished_) return;
  size_t budget = kIoBudgetPerEvent;
  while (reading_wanted_ && state_ != State::kClosed) {
    int error = 0;
    // A read that fills all the room offered is not proof of a drained
    // socket; a shorter one is.
    size_t room = 0;
    ssize_t n;
    {
      LentInput lent(input_, current_input_);
      Buffer& input = lent.buffer();
      n = input.read_from_fd(socket_.get(), &error, &room);
      input_drained_ = n > 0 && static_cast<size_t>(n) < room;
      if (n > 0) {
        last_activity_ = loop_->now();
        // Only an open or half-open connection wants its input; one that
        // is closing has given its final answer.
        if (connected() && message_callback_) message_callback_(shared_from_this(), input);
        if (!connected()) input.retrieve_all();
      }
    }
    if (n > 0) {
      // Keep a modest buffer for the next message (reading straight into it
      // saves a copy) but do not let one burst pin a large one.
      if (input_.empty() && input_.capacity() > kKeptInputCapacity) input_.release_if_empty();
      // A read that did not fill the space offered means the socket is
      // drained: skip the extra read() that would just say EAGAIN; a later
      // arrival raises a new edge. Not so for a FIN that came with the data
      // (EPOLLRDHUP): no new edge will announce it, so read on to the 0.
      if (static_cast<size_t>(n) < room && !(channel_.ready_events() & EPOLLRDHUP)) return;
      if (budget <= static_cast<size_t>(n)) {
        if (!read_resume_queued_) {
          read_resume_queued_ = true;
          // post(), not defer(): deferred tasks run before the loop goes
          // back to epoll_wait, so a resume that re-defers itself would
          // starve every timer and every other connection.
          loop_->post([weak = weak_from_this()] {
            if (auto self = weak.lock()) {
              self->read_resume_queued_ = false;
              self->handle_read();
            }
          });
        }
        return;
      }
      budget -= n;
    } else if (n == 0) {
      on_peer_finished();
      return;
    } else {
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      if (error == EINTR) continue;
      handle_error(error);
      return;
    }
  }
}

void Connection::on_peer_finished() {
  peer_finished_ = true;
  switch (state_) {
    case State::kOpen:
    case State::kHalfClosing:
      if (peer_shutdown_callback_) {
        peer_shutdown_callback_(shared_from_this());
      } else {
        close_after_flush();
      }
      break;
    case State::kHalfClosed:  // both directions are finished
    case State::kLingering:   // the FIN we were waiting for
      close_now({});
      break;
    case State::kClosing:  // on_output_flushed() will see peer_finished_
      break;
    case State::kConnecting:
    case State::kClosed:
      break;
  }
  // Only for a connection that stays open (output still queued, or the
  // protocol answers the half-close): a closed one needs no EPOLL_CTL_MOD
  // right before its EPOLL_CTL_DEL.
  if (state_ != State::kClosed) channel_.disable_reading();
}

void Connection::stop_reading() {
  if (!reading_wanted_) return;
  reading_wanted_ = false;
  if (state_ != State::kConnecting && state_ != State::kClosed) channel_.disable_reading();
}

void Connection::start_reading() {
  if (reading_wanted_) return;
  reading_wanted_ = true;
  // EPOLL_CTL_MOD re-evaluates readiness, so bytes that arrived while we
  // were not listening are reported again even in edge-triggered mode.
  if (state_ != State::kConnecting && state_ != State::kClosed && !peer_finished_) {
    channel_.enable_reading();
  }
}

size_t Connection::receive_into_file(int file, uint64_t* offset, uint64_t max_bytes,
                                     int* file_error) {
  *file_error = 0;
  if (state_ == State::kClosed || peer_finished_) return 0;
  if (!splice_unusable_ && !splice_pipe_read_) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      splice_pipe_read_.reset(fds[0]);
      splice_pipe_write_.reset(fds[1]);
      // A bigger pipe means fewer splice() pairs; the kernel may refuse.
      ::fcntl(splice_pipe_write_.get(), F_SETPIPE_SZ, 1024 * 1024);
      int capacity = ::fcntl(splice_pipe_write_.get(), F_GETPIPE_SZ);
      splice_pipe_capacity_ = capacity > 0 ? static_cast<size_t>(capacity) : 64 * 1024;
    } else {
      splice_unusable_ = true;
    }
  }
  size_t total = 0;
  // Until the socket is drained or the body is complete: the socket is
  // edge-triggered, and bytes left behind here arrived after our last
  // read's edge, so their own arrival raises the next one.
  while (total < max_bytes) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(
        max_bytes - total, splice_unusable_ ? 64 * 1024 : splice_pipe_capacity_));
    ssize_t moved;
    if (!splice_unusable_) {
      moved = ::splice(socket_.get(), nullptr, splice_pipe_write_.get(), nullptr, want,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (moved < 0 && errno == EINTR) continue;
      if (moved < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        // This socket/file pair cannot splice: plain reads from now on.
        splice_unusable_ = true;
        continue;
      }
      if (moved <= 0) break;
      size_t left = static_cast<size_t>(moved);
      while (left > 0) {
        auto file_offset = static_cast<loff_t>(*offset);
        ssize_t written =
            ::splice(splice_pipe_read_.get(), nullptr, file, &file_offset, left, SPLICE_F_MOVE);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
          *file_error = written < 0 ? errno : EIO;
          // What is still in the pipe came off the socket and is lost with
          // the file; the caller abandons this body.
          char sink[4096];
          while (::read(splice_pipe_read_.get(), sink, sizeof sink) > 0) {
          }
          return total;
        }
        left -= static_cast<size_t>(written);
        *offset += static_cast<uint64_t>(written);
        total += static_cast<size_t>(written);
      }
    } else {
      char chunk[64 * 1024];
      moved = ::recv(socket_.get(), chunk, want, MSG_DONTWAIT);
      if (moved < 0 && errno == EINTR) continue;
      if (moved <= 0) break;
      size_t done = 0;
      while (done < static_cast<size_t>(moved)) {
        ssize_t written = ::pwrite(file, chunk + done, static_cast<size_t>(moved) - done,
                                   static_cast<off_t>(*offset));
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
          *file_error = written < 0 ? errno : EIO;
          return total;
        }
        done += static_cast<size_t>(written);
        *offset += static_cast<uint64_t>(written);
        total += static_cast<size_t>(written);
      }
    }
    last_activity_ = loop_->now();
  }
  return total;
}

// ---- writing ---------------------------------------------------------------

void Connection::send(std::string_view data) {
  send_bytes(data, MSG_NOSIGNAL);
}

void Connection::send_more(std::string_view data) {
  send_bytes(data, MSG_NOSIGNAL | MSG_MORE);
}

void Connection::send_bytes(std::string_view data, int flags) {
  if (!can_send()) return;
  size_t old_queued = queued_bytes_;
  size_t written = 0;
  if (output_head_ == output_.size()) {
    // Nothing queued: try the socket right away, the common case.
    ssize_t n = ::send(socket_.get(), data.data(), data.size(), flags);
    if (n >= 0) {
      written = static_cast<size_t>(n);
      last_activity_ = loop_->now();
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      handle_error(errno);
      return;
    }
    if (written == data.size()) return;
  }
  enqueue_bytes(data.data() + written, data.size() - written);
  after_output_change(old_queued);
}

void Connection::send(Buffer& data) {
  if (!can_send()) {
    data.retrieve_all();
    return;
  }
  if (output_head_ == output_.size()) {
    send(data.view());
    data.retrieve_all();
    return;
  }
  // Appending to a queue that already exists: take the whole buffer over
  // when the tail is a file segment, else copy onto the tail run.
  size_t old_queued = queued_bytes_;
  size_t length = data.readable_bytes();
  if (std::holds_alternative<FileSegment>(output_.back())) {
    output_.emplace_back(std::move(data));
    queued_bytes_ += length;
    data = Buffer();
  } else {
    enqueue_bytes(data.peek(), length);
    data.retrieve_all();
  }
  after_output_change(old_queued);
}

void Connection::enqueue_bytes(const char* data, size_t length) {
  if (length == 0) return;
  if (output_head_ == output_.size() || !std::holds_alternative<Buffer>(output_.back())) {
    output_.emplace_back(Buffer());
  }
  std::get<Buffer>(output_.back()).append(data, length);
  queued_bytes_ += length;
}

void Connection::send_file(SharedFile file, off_t offset, size_t length) {
  if (!can_send() || length == 0) return;
  size_t old_queued = queued_bytes_;
  output_.emplace_back(FileSegment{std::move(file), offset, length});
  queued_bytes_ += length;
  if (!channel_.writing()) {
    if (!flush_output()) return;
  }
  after_output_change(old_queued);
}

// Called by the protocol's own calls (send, send_file): notifications are
// queued, never delivered from here.
void Connection::after_output_change(size_t old_queued) {
  if (state_ == State::kClosed) return;
  if (queued_bytes_ > 0) {
    if (!channel_.writing()) channel_.enable_writing();
    if (old_queued < high_water_mark_ && queued_bytes_ >= high_water_mark_) {
      queue_notification(kNotifyHighWaterMark);
    }
  } else if (old_queued > 0) {
    if (channel_.writing()) channel_.disable_writing();
    queue_notification(kNotifyWriteComplete);
    on_output_flushed();
  }
}

bool Connection::flush_output() {
  size_t budget = kIoBudgetPerEvent;
  while (output_head_ < output_.size()) {
    OutputChunk& chunk = output_[output_head_];
    ssize_t n;
    size_t chunk_left;
    if (auto* bytes = std::get_if<Buffer>(&chunk)) {
      // MSG_MORE when a file follows: the header and the start of the body
      // then leave in one segment instead of a tiny one first.
      bool file_follows = output_head_ + 1 < output_.size();
      n = ::send(socket_.get(), bytes->peek(), bytes->readable_bytes(),
                 MSG_NOSIGNAL | (file_follows ? MSG_MORE : 0));
      if (n > 0) bytes->retrieve(static_cast<size_t>(n));
      chunk_left = bytes->readable_bytes();
    } else {
      auto& segment = std::get<FileSegment>(chunk);
      size_t request = std::min(segment.remaining, kMaxSendfileChunk);
      n = ::sendfile(socket_.get(), segment.file->get(), &segment.offset, request);
      if (n == 0) {
        // The file shrank under us: we promised bytes we cannot deliver,
        // so the only honest end is to drop the connection.
        std::string reason =
            "file ended " + std::to_string(segment.remaining) + " bytes short of what was promised";
        spdlog::warn("connection {}: {}", id_, reason);
        close_now(std::move(reason));
        return false;
      }
      if (n > 0) segment.remaining -= static_cast<size_t>(n);
      chunk_left = segment.remaining;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      handle_error(errno);
      return false;
    }
    last_activity_ = loop_->now();
    queued_bytes_ -= static_cast<size_t>(n);
    if (chunk_left == 0) {
      output_[output_head_] = Buffer();  // frees storage and the file now
      ++output_head_;
    }
    if (budget <= static_cast<size_t>(n)) {
      if (!write_resume_queued_) {
        write_resume_queued_ = true;
        // post(), not defer(): see handle_read.
        loop_->post([weak = weak_from_this()] {
          if (auto self = weak.lock()) {
            self->write_resume_queued_ = false;
            self->handle_write();
          }
        });
      }
      return true;
    }
    budget -= static_cast<size_t>(n);
  }
  output_.clear();
  output_head_ = 0;
  return true;
}

void Connection::handle_write() {
  if (state_ == State::kClosed) return;
  size_t old_queued = queued_bytes_;
  if (!flush_output()) return;
  // Compact the consumed front of the queue once it dominates.
  if (output_head_ > 16 && output_head_ * 2 > output_.size()) {
    output_.erase(output_.begin(), output_.begin() + static_cast<ptrdiff_t>(output_head_));
    output_head_ = 0;
  }
  if (queued_bytes_ == 0) {
    if (channel_.writing()) channel_.disable_writing();
    // A loop event of our own, not a protocol's call: the callback may run
    // right here.
    if (old_queued > 0 && write_complete_callback_) write_complete_callback_(shared_from_this());
    on_output_flushed();
  }
}

// ---- closing ---------------------------------------------------------------

void Connection::half_close() {
  if (state_ != State::kOpen) return;
  state_ = State::kHalfClosing;
  if (queued_bytes_ == 0) on_output_flushed();
}

void Connection::close_after_flush() {
  if (state_ != State::kOpen && state_ != State::kHalfClosing && state_ != State::kHalfClosed) {
    return;
  }
  if (state_ == State::kHalfClosed) {
    // Our FIN is out already; what is left is waiting for the peer's.
    if (peer_finished_) {
      close_now({});
    } else {
      begin_lingering();
    }
    return;
  }
  state_ = State::kClosing;
  if (queued_bytes_ == 0) on_output_flushed();
}

void Connection::begin_lingering() {
  if (state_ != State::kHalfClosed) ::shutdown(socket_.get(), SHUT_WR);
  state_ = State::kLingering;
  reading_wanted_ = true;
  channel_.enable_reading();
  linger_timer_ = loop_->run_after(kLingerTimeout, [weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->linger_timer_ = 0;
      self->close_now({});
    }
  });
}

// The one place that decides what an empty output queue means.
void Connection::on_output_flushed() {
  if (queued_bytes_ != 0) return;
  switch (state_) {
    case State::kHalfClosing:
      ::shutdown(socket_.get(), SHUT_WR);
      state_ = State::kHalfClosed;
      // Both directions finished: nothing more can happen on this socket.
      if (peer_finished_) close_now({});
      return;
    case State::kClosing: {
      // The peer has finished, or has nothing more on the way that we know
      // of (nginx's heuristic): close at once.
      const bool peer_may_send =
          linger_on_close_ || !current_input_->empty() || !input_drained_ || !reading_wanted_;
      if (peer_finished_ || !peer_may_send) {
        close_now({});
        return;
      }
      // Lingering close (see close_after_flush in the header): send FIN,
      // read and discard until the peer's FIN, bounded by a timer.
      begin_lingering();
      return;
    }
    case State::kConnecting:
    case State::kOpen:
    case State::kHalfClosed:
    case State::kLingering:
    case State::kClosed:
      return;
  }
}

void Connection::close() {
  close_now({});
}

void Connection::abandon() {
  pending_notifications_ |= kNotifyMuted;
  close_now({});
  // Already closed earlier: its notifications may still be queued, and
  // they must now stay unheard as well.
}

void Connection::handle_hang_up() {
  // EPOLLHUP with nothing left to read: both directions are gone.
  close_now({});
}

void Connection::handle_error(int error) {
  // ECONNRESET and EPIPE are how peers usually leave; not worth a warning.
  // Guarded: a reset peer is common, and formatting its address is not free.
  const auto level =
      error == ECONNRESET || error == EPIPE ? spdlog::level::debug : spdlog::level::info;
  if (spdlog::should_log(level)) {
    spdlog::log(level, "connection {} ({}): {}", id_, peer_.to_string(), std::strerror(error));
  }
  close_now(std::strerror(error));
}

void Connection::close_now(std::string reason) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    state_ = State::kClosed;
    socket_.reset();
    return;
  }
  state_ = State::kClosed;
  close_reason_ = std::move(reason);
  channel_.remove();
  // Close the socket now, not when the last ConnectionPtr goes: a protocol
  // may hold one for a while, and the peer must see the end promptly. Safe
  // mid-batch: the channel's pending events were just dropped, so a new
  // connection that reuses this fd number cannot receive them.
  socket_.reset();
  splice_pipe_read_.reset();
  splice_pipe_write_.reset();
  if (idle_timer_ != 0) {
    loop_->cancel(idle_timer_);
    idle_timer_ = 0;
  }
  if (linger_timer_ != 0) {
    loop_->cancel(linger_timer_);
    linger_timer_ = 0;
  }
  // Release queued file descriptors and memory now, not at destruction.
  output_.clear();
  output_head_ = 0;
  queued_bytes_ = 0;
  queue_notification(kNotifyClosed);
}

// ---- notifications ---------------------------------------------------------

void Connection::queue_notification(uint8_t what) {
  const bool task_queued =
      pending_notifications_ & (kNotifyWriteComplete | kNotifyHighWaterMark | kNotifyClosed);
  pending_notifications_ |= what;
  if (task_queued) return;
  // defer(): after the current batch, before the loop sleeps again. The
  // task holds the connection, so it outlives everything up to its own
  // disconnect callback.
  loop_->defer([self = shared_from_this()] { self->deliver_notifications(); });
}

void Connection::deliver_notifications() {
  const uint8_t what = pending_notifications_;
  pending_notifications_ &= kNotifyMuted;
  ConnectionPtr self = shared_from_this();
  const bool muted = what & kNotifyMuted;
  if (!muted && state_ != State::kClosed) {
    // Re-checked now: the condition may have passed since it was queued.
    if ((what & kNotifyHighWaterMark) && queued_bytes_ >= high_water_mark_ &&
        high_water_mark_callback_) {
      high_water_mark_callback_(self, queued_bytes_);
    }
    if ((what & kNotifyWriteComplete) && queued_bytes_ == 0 && write_complete_callback_) {
      write_complete_callback_(self);
    }
  }
  if (!(what & kNotifyClosed)) return;
  if (!muted) {
    if (connection_callback_) connection_callback_(self);
    if (removal_callback_) removal_callback_(self);
  }
  // Callbacks may capture the connection; dropping them breaks such
  // cycles. None of them is running now: this is a task of the loop's.
  message_callback_ = nullptr;
  write_complete_callback_ = nullptr;
  high_water_mark_callback_ = nullptr;
  peer_shutdown_callback_ = nullptr;
  idle_callback_ = nullptr;
  connection_callback_ = nullptr;
  removal_callback_ = nullptr;
  context_.reset();
}

// ---- idle timeout ----------------------------------------------------------

void Connection::set_idle_timeout(std::chrono::milliseconds timeout) {
  idle_timeout_ = timeout;
  if (idle_timer_ != 0) {
    loop_->cancel(idle_timer_);
    idle_timer_ = 0;
  }
  if (timeout.count() > 0 && state_ != State::kClosed) {
    last_activity_ = loop_->now();
    arm_idle_timer(last_activity_ + timeout);
  }
}

void Connection::arm_idle_timer(Clock::time_point when) {
  idle_timer_ = loop_->run_at(when, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->handle_idle_timer();
  });
}

uint64_t Connection::unsent_bytes() const {
  uint64_t unsent = queued_bytes_;
  int kernel_unsent = 0;
  if (::ioctl(socket_.get(), SIOCOUTQ, &kernel_unsent) == 0 && kernel_unsent > 0) {
    unsent += static_cast<uint64_t>(kernel_unsent);
  }
  return unsent;
}

void Connection::handle_idle_timer() {
  idle_timer_ = 0;
  if (state_ == State::kClosed || idle_timeout_.count() == 0) return;
  Clock::time_point deadline = last_activity_ + idle_timeout_;
  if (loop_->now() < deadline) {
    arm_idle_timer(deadline);  // there was activity since: look again later
    return;
  }
  // We stamp activity only when *we* read or write. A slow reader draining
  // a large kernel send buffer moves bytes for seconds without the socket
  // turning writable; if what is unsent shrank since the last look, bytes
  // are moving and the connection is not idle.
  const uint64_t unsent = unsent_bytes();
  if (unsent > 0 && unsent != unsent_at_idle_check_) {
    unsent_at_idle_check_ = unsent;
    last_activity_ = loop_->now();
    arm_idle_timer(last_activity_ + idle_timeout_);
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("connection {} ({}): idle for {} ms, closing", id_, peer_.to_string(),
                  idle_timeout_.count());
  }
  if (idle_callback_) {
    idle_callback_(shared_from_this());
  } else {
    close_now("idle timeout");
  }
}

}  // namespace reactor
