// Connection: one established TCP connection on a loop.
//
// Input arrives in an input Buffer and is handed to the message callback,
// which consumes what it can and leaves the rest for next time. Output is a
// queue of byte runs and file segments: send() writes straight to the
// socket when nothing is queued and only buffers what the kernel did not
// take; send_file() queues a zero-copy sendfile() segment in order behind
// earlier bytes. EPOLLOUT is armed only while output is pending.
//
// Ownership: connections are held by shared_ptr (by TcpServer/TcpClient and
// by whoever else wants one). Callbacks receive the shared_ptr, so a
// protocol may keep a connection alive across an asynchronous step. The
// object is destroyed only after the epoll batch in which it closed.
//
// Threading: every method is loop-thread only. From another thread, use
// loop()->post([connection] { connection->send(...); }).
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
  // Called once when the connection is up and once when it has closed.
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
  // Output queue became empty after having had something in it. Not
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
  // shutdown()). The connection stops reading either way.
  void set_peer_shutdown_callback(ConnectionCallback cb) {
    peer_shutdown_callback_ = std::move(cb);
  }
  // Internal: TcpServer/TcpClient use this to forget the connection.
  void set_removal_callback(ConnectionCallback cb) { removal_callback_ = std::move(cb); }

  // Starts reading and calls the connection callback. Called once by the
  // owner (TcpServer/TcpClient) after setting the callbacks. With
  // `input_waiting` (the kernel held the connection back until the client's
  // first bytes arrived: TCP_DEFER_ACCEPT) it also reads them at once
  // instead of after another turn of the loop.
  void established(bool input_waiting = false);

  // Copies the bytes; writes them at once when nothing is pending. A no-op
  // once closing or closed. May run callbacks before it returns: the
  // high-water-mark callback, and on a socket error the connection
  // callback (disconnected).
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
  // connection: the peer was promised bytes that do not exist.
  // The file stays open until its last segment is sent or the connection
  // closes.
  void send_file(SharedFile file, off_t offset, size_t length);

  // Half-close: SHUT_WR once everything queued is flushed. Reading goes on
  // until the peer closes its side too.
  void shutdown();
  // Closes now, discarding queued output. Idempotent. The connection
  // callback runs before this returns; the object lives on until the end
  // of the epoll batch and while anyone holds a ConnectionPtr.
  void close();
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
  // `timeout`. Zero disables it. Checked lazily: activity only stamps a
  // time, the timer re-arms itself when it finds the connection was busy.
  void set_idle_timeout(std::chrono::milliseconds timeout);
  // Replaces the default action (close) when the idle timeout expires.
  void set_idle_callback(ConnectionCallback cb) { idle_callback_ = std::move(cb); }

  // Bytes (and file bytes) queued but not yet written to the socket.
  size_t queued_output_bytes() const { return queued_bytes_; }
  // The unconsumed input; inside the message callback, the same buffer the
  // callback was given.
  Buffer& input() { return *current_input_; }

  bool connected() const { return state_ == State::kConnected; }
  bool disconnected() const { return state_ == State::kDisconnected; }
  uint64_t id() const { return id_; }
  // -1 once the connection has closed.
  int fd() const { return socket_.get(); }
  EventLoop* loop() const { return loop_; }
  const SocketAddress& local_address() const { return local_; }
  const SocketAddress& peer_address() const { return peer_; }
  Clock::time_point last_activity() const { return last_activity_; }

  // Per-connection protocol state (the parser, the session...). Cleared
  // after close, at the end of the batch, so a ConnectionPtr stored in it
  // does not keep the connection alive forever.
  std::any& context() { return context_; }

  void set_tcp_no_delay(bool on);

 private:
  enum class State : uint8_t { kConnecting, kConnected, kDisconnecting, kDisconnected };
  struct FileSegment {
    SharedFile file;
    off_t offset;
    size_t remaining;
  };
  using OutputChunk = std::variant<Buffer, FileSegment>;

  void handle_read();
  void handle_write();
  void handle_close();
  void handle_error(int error);
  void handle_idle_timer();
  // Writes queued output until the kernel refuses more, the queue is empty
  // or the per-event budget is spent. Returns false if the connection died.
  bool flush_output();
  void after_output_change(size_t old_queued);
  void arm_idle_timer(Clock::time_point when);
  void finish_shutdown_if_flushed();
  void send_bytes(std::string_view data, int flags);
  void enqueue_bytes(const char* data, size_t length);

  EventLoop* loop_;
  UniqueFd socket_;
  Channel channel_;
  SocketAddress local_;
  SocketAddress peer_;
  uint64_t id_;
  State state_ = State::kConnecting;
  bool reading_wanted_ = true;
  bool peer_shutdown_ = false;
  bool shutdown_pending_ = false;  // SHUT_WR once the queue drains
  bool close_pending_ = false;     // close once the queue drains
  bool write_shut_ = false;
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

  std::chrono::milliseconds idle_timeout_{0};
  TimerId idle_timer_ = 0;
  TimerId linger_timer_ = 0;
  Clock::time_point last_activity_;

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
