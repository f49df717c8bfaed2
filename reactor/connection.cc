#include "reactor/connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
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
  channel_.set_close_callback([this] { handle_close(); });
}

Connection::~Connection() = default;

void Connection::established(bool input_waiting) {
  state_ = State::kConnected;
  channel_.tie(shared_from_this());
  if (reading_wanted_) channel_.enable_reading();
  if (connection_callback_) connection_callback_(shared_from_this());
  // The event EPOLL_CTL_ADD queued for these bytes is dropped by the kernel
  // at the next epoll_wait once they are read (it re-polls ready items).
  if (input_waiting && state_ == State::kConnected) {
    ConnectionPtr self = shared_from_this();  // the read may close us
    handle_read();
  }
}

void Connection::set_tcp_no_delay(bool on) {
  int value = on ? 1 : 0;
  ::setsockopt(socket_.get(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof value);
}

// ---- reading ---------------------------------------------------------------

void Connection::handle_read() {
  if (state_ == State::kDisconnected) return;
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
  if (peer_shutdown_) return;
  size_t budget = kIoBudgetPerEvent;
  while (reading_wanted_ && state_ != State::kDisconnected) {
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
        if (close_pending_) {
          input.retrieve_all();  // lingering close: the answer is final
        } else if (message_callback_) {
          message_callback_(shared_from_this(), input);
          if (close_pending_) input.retrieve_all();  // it just decided to close
        }
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
      peer_shutdown_ = true;
      if (close_pending_) {
        finish_shutdown_if_flushed();
      } else if (peer_shutdown_callback_) {
        peer_shutdown_callback_(shared_from_this());
      } else {
        close_after_flush();
      }
      // Only for a connection that stays open (output still queued, or the
      // protocol answers the half-close): a closed one needs no EPOLL_CTL_MOD
      // right before its EPOLL_CTL_DEL.
      if (state_ != State::kDisconnected) channel_.disable_reading();
      return;
    } else {
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      if (error == EINTR) continue;
      handle_error(error);
      return;
    }
  }
}

void Connection::stop_reading() {
  if (!reading_wanted_) return;
  reading_wanted_ = false;
  if (state_ == State::kConnected || state_ == State::kDisconnecting) channel_.disable_reading();
}

void Connection::start_reading() {
  if (reading_wanted_) return;
  reading_wanted_ = true;
  // EPOLL_CTL_MOD re-evaluates readiness, so bytes that arrived while we
  // were not listening are reported again even in edge-triggered mode.
  if ((state_ == State::kConnected || state_ == State::kDisconnecting) && !peer_shutdown_) {
    channel_.enable_reading();
  }
}

// ---- writing ---------------------------------------------------------------

void Connection::send(std::string_view data) {
  send_bytes(data, MSG_NOSIGNAL);
}

void Connection::send_more(std::string_view data) {
  send_bytes(data, MSG_NOSIGNAL | MSG_MORE);
}

void Connection::send_bytes(std::string_view data, int flags) {
  if (state_ != State::kConnected || close_pending_ || write_shut_ || shutdown_pending_) return;
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
  if (state_ != State::kConnected || close_pending_ || write_shut_ || shutdown_pending_) {
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
  if (state_ != State::kConnected || close_pending_ || write_shut_ || shutdown_pending_) return;
  if (length == 0) return;
  size_t old_queued = queued_bytes_;
  output_.emplace_back(FileSegment{std::move(file), offset, length});
  queued_bytes_ += length;
  if (!channel_.writing()) {
    if (!flush_output()) return;
  }
  after_output_change(old_queued);
}

void Connection::after_output_change(size_t old_queued) {
  if (state_ == State::kDisconnected) return;
  if (queued_bytes_ > 0) {
    if (!channel_.writing()) channel_.enable_writing();
    if (old_queued < high_water_mark_ && queued_bytes_ >= high_water_mark_ &&
        high_water_mark_callback_) {
      high_water_mark_callback_(shared_from_this(), queued_bytes_);
    }
  } else if (old_queued > 0) {
    if (channel_.writing()) channel_.disable_writing();
    if (write_complete_callback_) write_complete_callback_(shared_from_this());
    finish_shutdown_if_flushed();
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
        spdlog::warn("connection {}: file ended early while sending", id_);
        handle_error(EIO);
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
  if (state_ == State::kDisconnected) return;
  size_t old_queued = queued_bytes_;
  if (!flush_output()) return;
  // Compact the consumed front of the queue once it dominates.
  if (output_head_ > 16 && output_head_ * 2 > output_.size()) {
    output_.erase(output_.begin(), output_.begin() + static_cast<ptrdiff_t>(output_head_));
    output_head_ = 0;
  }
  if (queued_bytes_ == 0) {
    if (channel_.writing()) channel_.disable_writing();
    if (old_queued > 0 && write_complete_callback_) write_complete_callback_(shared_from_this());
    finish_shutdown_if_flushed();
  }
}

// ---- closing ---------------------------------------------------------------

void Connection::shutdown() {
  if (state_ != State::kConnected) return;
  shutdown_pending_ = true;
  finish_shutdown_if_flushed();
}

void Connection::close_after_flush() {
  if (state_ != State::kConnected) return;
  close_pending_ = true;
  state_ = State::kDisconnecting;
  finish_shutdown_if_flushed();
}

void Connection::finish_shutdown_if_flushed() {
  if (queued_bytes_ != 0 || state_ == State::kDisconnected) return;
  if (close_pending_) {
    // The peer has finished, or has nothing more on the way that we know
    // of (nginx's heuristic): close at once.
    const bool peer_may_send =
        linger_on_close_ || !current_input_->empty() || !input_drained_ || !reading_wanted_;
    if (peer_shutdown_ || !peer_may_send) {
      handle_close();
      return;
    }
    // Lingering close (see close_after_flush in the header): send FIN, read
    // and discard until the peer's FIN, bounded by a timer.
    if (!write_shut_) {
      write_shut_ = true;
      ::shutdown(socket_.get(), SHUT_WR);
      reading_wanted_ = true;
      channel_.enable_reading();
      linger_timer_ = loop_->run_after(kLingerTimeout, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
          self->linger_timer_ = 0;
          self->close();
        }
      });
    }
    return;
  }
  if (shutdown_pending_ && !write_shut_) {
    write_shut_ = true;
    ::shutdown(socket_.get(), SHUT_WR);
    // Both directions finished: nothing more can happen on this socket.
    if (peer_shutdown_) handle_close();
  }
}

void Connection::close() {
  if (state_ == State::kDisconnected) return;
  handle_close();
}

void Connection::handle_error(int error) {
  // ECONNRESET and EPIPE are how peers usually leave; not worth a warning.
  // Guarded: a reset peer is common, and formatting its address is not free.
  const auto level =
      error == ECONNRESET || error == EPIPE ? spdlog::level::debug : spdlog::level::info;
  if (spdlog::should_log(level)) {
    spdlog::log(level, "connection {} ({}): {}", id_, peer_.to_string(), std::strerror(error));
  }
  handle_close();
}

void Connection::handle_close() {
  if (state_ == State::kDisconnected) return;
  state_ = State::kDisconnected;
  channel_.remove();
  // Close the socket now, not when the last ConnectionPtr goes: a protocol
  // may hold one for a while, and the peer must see the end promptly. Safe
  // mid-batch: the channel's pending events were just dropped, so a new
  // connection that reuses this fd number cannot receive them.
  socket_.reset();
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
  ConnectionPtr self = shared_from_this();
  if (connection_callback_) connection_callback_(self);
  if (removal_callback_) removal_callback_(self);
  // Callbacks may capture the connection; dropping them breaks such cycles.
  // Deferred: one of them may be running right now.
  loop_->defer([self] {
    self->message_callback_ = nullptr;
    self->write_complete_callback_ = nullptr;
    self->high_water_mark_callback_ = nullptr;
    self->peer_shutdown_callback_ = nullptr;
    self->idle_callback_ = nullptr;
    self->connection_callback_ = nullptr;
    self->removal_callback_ = nullptr;
    self->context_.reset();
  });
}

// ---- idle timeout ----------------------------------------------------------

void Connection::set_idle_timeout(std::chrono::milliseconds timeout) {
  idle_timeout_ = timeout;
  if (idle_timer_ != 0) {
    loop_->cancel(idle_timer_);
    idle_timer_ = 0;
  }
  if (timeout.count() > 0 && state_ != State::kDisconnected) {
    last_activity_ = loop_->now();
    arm_idle_timer(last_activity_ + timeout);
  }
}

void Connection::arm_idle_timer(Clock::time_point when) {
  idle_timer_ = loop_->run_at(when, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->handle_idle_timer();
  });
}

void Connection::handle_idle_timer() {
  idle_timer_ = 0;
  if (state_ == State::kDisconnected || idle_timeout_.count() == 0) return;
  Clock::time_point deadline = last_activity_ + idle_timeout_;
  if (loop_->now() < deadline) {
    arm_idle_timer(deadline);  // there was activity since: look again later
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("connection {} ({}): idle for {} ms, closing", id_, peer_.to_string(),
                  idle_timeout_.count());
  }
  if (idle_callback_) {
    idle_callback_(shared_from_this());
  } else {
    close();
  }
}

}  // namespace reactor
