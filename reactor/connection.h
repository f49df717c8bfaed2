// Connection: one established TCP connection on a loop.
//
// Input arrives in an input Buffer and is handed to the message callback,
// which consumes what it can and leaves the rest for next time. Output is a
// queue of byte runs and file segments: send() writes straight to the
// socket when nothing is queued and only buffers what the kernel did not
// take; send_file() queues a zero-copy sendfile() segment in order behind
// earlier bytes. EPOLLOUT is armed only while output is pending.
//
// The callback rule (as in Asio and muduo): a callback never runs from
// inside a method the protocol called. Callbacks run only from the loop:
// from this connection's own read/write/timer events, or from a task the
// connection queued to the loop. So send(), send_file(), close(),
// half_close() and close_after_flush() change the connection's state at
// once (a closed connection takes no more output) but only *queue* the
// notifications they cause -- the disconnect, write-complete and
// high-water-mark callbacks -- which run after the current epoll batch.
// A protocol therefore never finds itself re-entered mid-step and needs no
// guard flags; it checks can_send() or connected() where it cares.
//
// Ownership: connections are held by shared_ptr (by TcpServer/TcpClient and
// by whoever else wants one). Callbacks receive the shared_ptr, so a
// protocol may keep a connection alive across an asynchronous step. The
// object is destroyed only after the batch in which it closed, once its
// disconnect callback has run and nobody holds a ConnectionPtr.
//
// Threading: every method is loop-thread only. From another thread, use
// loop()->post([connection] { connection->send(...); }).
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "reactor/buffer.h"
#include "reactor/channel.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/unique_fd.h"

namespace reactor {

class Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

// A file whose descriptor is shared by the output segments that send it.
using SharedFile = std::shared_ptr<const UniqueFd>;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Called with the input buffer after new bytes were read. `input` is
  // valid only during the call (it may be a buffer the loop thread lends to
  // every connection in turn, so keep no pointers into it); what the
  // callback leaves in it is shown again, with the next bytes appended,
  // next time.
  using MessageCallback = std::function<void(const ConnectionPtr&, Buffer& input)>;
  // Called once when the connection is up (connected() is true) and once
  // after it has closed (disconnected() is true; close_reason() says why).
  using ConnectionCallback = std::function<void(const ConnectionPtr&)>;
  // Called when queued output first exceeds the high-water mark.
  using HighWaterMarkCallback = std::function<void(const ConnectionPtr&, size_t queued)>;

  // Takes ownership of a connected, non-blocking socket.
  Connection(EventLoop* loop, UniqueFd socket, const SocketAddress& local,
             const SocketAddress& peer, uint64_t id);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Callbacks: set before established(), or from the connection callback.
  void set_connection_callback(ConnectionCallback cb) { connection_callback_ = std::move(cb); }
  void set_message_callback(MessageCallback cb) { message_callback_ = std::move(cb); }
  // The output queue became empty after having had something in it. Not
  // called when send()/send_file() handed everything to the kernel at once
  // (nothing was ever queued): check queued_output_bytes() after sending.
  void set_write_complete_callback(ConnectionCallback cb) {
    write_complete_callback_ = std::move(cb);
  }
  void set_high_water_mark_callback(HighWaterMarkCallback cb, size_t high_water_mark) {
    high_water_mark_callback_ = std::move(cb);
    high_water_mark_ = high_water_mark;
  }
  // The peer finished sending (read returned 0). Without this callback the
  // connection flushes its output and closes -- what most servers want.
  // With it, the protocol decides (typically: answer what it has, then
  // close_after_flush() or half_close()). The connection stops reading
  // either way.
  void set_peer_shutdown_callback(ConnectionCallback cb) {
    peer_shutdown_callback_ = std::move(cb);
  }
  // Internal: TcpServer/TcpClient use this to forget the connection. Runs
  // right after the disconnect callback.
  void set_removal_callback(ConnectionCallback cb) { removal_callback_ = std::move(cb); }

  // Starts reading and calls the connection callback. Called once by the
  // owner (TcpServer/TcpClient) after setting the callbacks. With
  // `input_waiting` (the kernel held the connection back until the client's
  // first bytes arrived: TCP_DEFER_ACCEPT) it also reads them at once
  // instead of after another turn of the loop.
  void established(bool input_waiting = false);

  // Copies the bytes; writes them at once when nothing is pending. Ignored
  // unless can_send(). A socket error closes the connection (the
  // disconnect callback is queued, as every notification is).
  void send(std::string_view data);
  void send(const void* data, size_t length) {
    send(std::string_view(static_cast<const char*>(data), length));
  }
  // As send(), but tells the kernel more follows at once (MSG_MORE): for a
  // short header right before send_file() or another send(), so both leave
  // in one TCP segment instead of a tiny one first. The caller must send
  // again right away; otherwise the bytes may wait for the kernel's cork
  // timeout (200 ms).
  void send_more(std::string_view data);
  // Moves the readable bytes of `data` into the queue (no copy when the
  // queue is empty and the socket takes them all).
  void send(Buffer& data);
  // Queues `length` bytes of `file` (a regular file open for reading) from
  // `offset`, sent with sendfile(). A file shorter than promised closes the
  // connection (the peer was promised bytes that do not exist), and
  // close_reason() says so. The file stays open until its last segment is
  // sent or the connection closes.
  void send_file(SharedFile file, off_t offset, size_t length);

  // Moves up to `max_bytes` that the peer sent straight from the socket
  // into `file` at `*offset` (advanced), without copying them through user
  // space (splice() via a pipe the connection keeps; plain read + pwrite
  // where the kernel cannot splice this pair). For receiving a body the
  // protocol has already framed: call it from the message callback after
  // consuming what `input` held (those bytes came first). Stops at
  // `max_bytes`, when the socket is drained, or at the end of the stream,
  // and leaves EOF and socket errors for the connection's own next read to
  // report. Returns the bytes moved; a failure to write the file is
  // returned in `*file_error` (errno), and the connection is left as it was.
  size_t receive_into_file(int file, uint64_t* offset, uint64_t max_bytes, int* file_error);

  // Half-close: SHUT_WR once everything queued is flushed. Reading goes on
  // until the peer closes its side too. No more output is taken.
  void half_close();
  // Closes now, discarding queued output. Idempotent. The disconnect
  // callback is queued to the loop; the object lives on at least until it
  // has run.
  void close();
  // Closes now and runs no further callback at all, not even the
  // disconnect callback: for an owner that is going away and must not be
  // called back (TcpServer's and TcpClient's destructors).
  void abandon();
  // Flushes queued output, then closes. Idempotent. If the peer may still
  // be sending -- input left unconsumed, a last read that did not drain the
  // socket, or linger_on_close() called -- the close lingers, as mature
  // servers do: closing a socket with unread input makes the kernel send an
  // RST, which can destroy our last bytes before the peer reads them. So it
  // sends FIN first and reads and discards until the peer's FIN (at most
  // 2 s). Otherwise it closes at once, saving a shutdown, a wake-up and a
  // read per connection.
  void close_after_flush();
  // Tells close_after_flush() that the peer may still be sending even if
  // nothing is waiting yet (a request body the protocol will not read, a
  // stream it refused midway), so the close must linger.
  void linger_on_close() { linger_on_close_ = true; }

  // Backpressure: stop reading from the peer until resumed.
  void stop_reading();
  void start_reading();
  bool is_reading() const { return reading_wanted_; }

  // Closes the connection if no byte moved in either direction for
  // `timeout` -- bytes leaving the kernel's send queue count as moving, so
  // a slow reader of a large answer is not idle. Zero disables it. Checked
  // lazily: activity only stamps a time, the timer re-arms itself when it
  // finds the connection was busy.
  void set_idle_timeout(std::chrono::milliseconds timeout);
  // Replaces the default action (close) when the idle timeout expires.
  void set_idle_callback(ConnectionCallback cb) { idle_callback_ = std::move(cb); }

  // Bytes (and file bytes) queued but not yet written to the socket.
  size_t queued_output_bytes() const { return queued_bytes_; }
  // The unconsumed input; inside the message callback, the same buffer the
  // callback was given.
  Buffer& input() { return *current_input_; }

  // Output is still taken: open, and neither closing nor half-closed.
  bool can_send() const { return state_ == State::kOpen; }
  // Up and not being closed by us (a half-close still counts).
  bool connected() const {
    return state_ == State::kOpen || state_ == State::kHalfClosing || state_ == State::kHalfClosed;
  }
  bool disconnected() const { return state_ == State::kClosed; }
  // Why the connection closed, when it was not an orderly close: the
  // socket error, "file ended early", "idle timeout". Empty otherwise.
  const std::string& close_reason() const { return close_reason_; }
  uint64_t id() const { return id_; }
  // The socket, -1 once closed. For socket options the library does not
  // wrap and for tests; protocol modules do no I/O on it (that would
  // bypass the output queue and the edge-triggered bookkeeping).
  int fd() const { return socket_.get(); }
  EventLoop* loop() const { return loop_; }
  const SocketAddress& local_address() const { return local_; }
  const SocketAddress& peer_address() const { return peer_; }

  // Per-connection protocol state (the parser, the session...). Cleared
  // after close, once the disconnect callback has run, so a ConnectionPtr
  // stored in it does not keep the connection alive forever.
  std::any& context() { return context_; }

  void set_tcp_no_delay(bool on);

 private:
  // The connection's life, in one place. Output is taken only in kOpen;
  // what happens once the queue drains is decided by the state alone
  // (on_output_flushed).
  enum class State : uint8_t {
    kConnecting,   // constructed, not yet established()
    kOpen,         // both directions usable
    kHalfClosing,  // half_close(): SHUT_WR once the queue drains
    kHalfClosed,   // our FIN sent; reading until the peer's
    kClosing,      // close_after_flush(): close (or linger) once drained
    kLingering,    // our FIN sent; discarding input until the peer's FIN
    kClosed,
  };
  // Notifications waiting for the loop (see the callback rule above).
  enum Notification : uint8_t {
    kNotifyWriteComplete = 1,
    kNotifyHighWaterMark = 2,
    kNotifyClosed = 4,
    kNotifyMuted = 8,  // abandon(): every callback is dropped unheard
  };
  struct FileSegment {
    SharedFile file;
    off_t offset;
    size_t remaining;
  };
  using OutputChunk = std::variant<Buffer, FileSegment>;

  void handle_read();
  void handle_write();
  void handle_hang_up();
  void handle_error(int error);
  void handle_idle_timer();
  // Writes queued output until the kernel refuses more, the queue is empty
  // or the per-event budget is spent. Returns false if the connection died.
  bool flush_output();
  void after_output_change(size_t old_queued);
  void on_output_flushed();
  void on_peer_finished();
  void begin_lingering();
  void close_now(std::string reason);
  void queue_notification(uint8_t what);
  void deliver_notifications();
  void arm_idle_timer(Clock::time_point when);
  uint64_t unsent_bytes() const;
  void send_bytes(std::string_view data, int flags);
  void enqueue_bytes(const char* data, size_t length);

  EventLoop* loop_;
  UniqueFd socket_;
  Channel channel_;
  SocketAddress local_;
  SocketAddress peer_;
  uint64_t id_;
  State state_ = State::kConnecting;
  uint8_t pending_notifications_ = 0;
  // Input-side facts, independent of the state above.
  bool reading_wanted_ = true;
  bool peer_finished_ = false;  // read() returned 0
  bool linger_on_close_ = false;
  // The last read returned less than it offered: the socket was drained.
  bool input_drained_ = false;
  bool read_resume_queued_ = false;
  bool write_resume_queued_ = false;

  Buffer input_;
  // input_, or the thread's lent buffer while a read is being handled.
  Buffer* current_input_ = &input_;
  std::vector<OutputChunk> output_;  // output_[output_head_] is sent next
  size_t output_head_ = 0;
  size_t queued_bytes_ = 0;
  size_t high_water_mark_ = 64 * 1024 * 1024;
  // receive_into_file()'s pipe, created on first use.
  UniqueFd splice_pipe_read_;
  UniqueFd splice_pipe_write_;
  size_t splice_pipe_capacity_ = 0;
  bool splice_unusable_ = false;

  std::chrono::milliseconds idle_timeout_{0};
  TimerId idle_timer_ = 0;
  TimerId linger_timer_ = 0;
  Clock::time_point last_activity_;
  // Unsent bytes (ours and the kernel's) when the idle timer last looked.
  uint64_t unsent_at_idle_check_ = 0;
  std::string close_reason_;

  ConnectionCallback connection_callback_;
  MessageCallback message_callback_;
  ConnectionCallback write_complete_callback_;
  HighWaterMarkCallback high_water_mark_callback_;
  ConnectionCallback peer_shutdown_callback_;
  ConnectionCallback idle_callback_;
  ConnectionCallback removal_callback_;
  std::any context_;
};

}  // namespace reactor
