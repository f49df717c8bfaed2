// FileClient: the client side of one RFTP connection, on an event loop.
//
// It connects, says HELLO, and then sends requests as fast as the caller
// issues them; answers come back in request order and each goes to the
// handler given with its request. A GET's DATA body is handed to a sink
// chunk by chunk as it arrives, and a PUT's body leaves with sendfile()
// straight from the caller's file, so neither direction copies a file
// through user space more than the socket read itself requires.
//
// Failure model: a broken connection, a malformed answer or an answer that
// does not fit the request it answers is a Failure, reported once, after
// which the client is closed. An ERROR answer is not a failure: it goes to
// the request's handler.
//
// Threading: loop thread only. Do not destroy the client from inside one
// of its callbacks; close() it and let the caller destroy it later.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/file/frame_codec.h"
#include "protocols/file/messages.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_client.h"
#include "reactor/unique_fd.h"

namespace reactor::file {

class FileClient {
 public:
  struct Failure {
    enum class Kind {
      kConnect,   // could not connect (refused, timed out...)
      kLost,      // the connection closed or broke
      kProtocol,  // a malformed or unexpected answer, or HELLO refused
      kTimeout,   // no progress for the stall timeout while waiting
    };
    Kind kind;
    std::string message;
  };
  using ReadyCallback = std::function<void(const HelloOk&)>;
  using FailureCallback = std::function<void(const Failure&)>;
  // Gets the answer: the expected message or an ErrorReply.
  using ReplyHandler = std::function<void(const Reply&)>;

  // Receives one GET's answer.
  struct DownloadSink {
    // DATA header arrived (already checked against the request).
    std::function<void(const DataHeader&)> on_header;
    // The next bytes of the body, in order (when `file` is not set).
    std::function<void(std::string_view bytes)> on_bytes;
    // Or: a file (not O_APPEND) the client writes the body into itself,
    // from `file_offset` on. Bytes already read from the socket are
    // pwrite()n; the rest is splice()d from the socket through a pipe into
    // the file, so it is copied once in the kernel instead of into user
    // space and back. on_bytes is not called; on_progress gets the file
    // offset reached, and on_write_error an errno (the caller then closes).
    int file = -1;
    uint64_t file_offset = 0;
    std::function<void(uint64_t offset)> on_progress;
    std::function<void(int error)> on_write_error;
    // The whole body has arrived.
    std::function<void()> on_complete;
    // The server answered with ERROR instead of DATA.
    std::function<void(const ErrorReply&)> on_error;
  };

  FileClient(EventLoop* loop, const SocketAddress& server);
  ~FileClient();
  FileClient(const FileClient&) = delete;
  FileClient& operator=(const FileClient&) = delete;

  void set_ready_callback(ReadyCallback cb) { ready_callback_ = std::move(cb); }
  // The shared secret to answer a server's CHALLENGE with (auth.h). Without
  // one, a server that requires a token is a kProtocol failure that says so.
  void set_token(std::string token) { token_ = std::move(token); }
  void set_failure_callback(FailureCallback cb) { failure_callback_ = std::move(cb); }
  // Output queue drained: a pipelining caller may send more.
  void set_write_complete_callback(std::function<void()> cb) {
    write_complete_callback_ = std::move(cb);
  }

  // Connects and sends HELLO; the ready callback follows HELLO_OK. A zero
  // timeout leaves the connect timeout to the kernel.
  void connect(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Closes without reporting a failure. Pending handlers are dropped.
  void close();
  // Progress watchdog (the core's idle timeout): when no byte has moved
  // either way for `timeout` while the client waits for something (an
  // answer, the rest of a DATA body, its own output to be taken), the
  // connection fails with kTimeout and a message naming what it waited
  // for. A connection that owes and is owed nothing is not stalled. Zero
  // (the default) disables it. Call before connect().
  void set_stall_timeout(std::chrono::milliseconds timeout) { stall_timeout_ = timeout; }

  // Requests. Call them once ready; each answer reaches its handler.
  void list(const std::string& path, ReplyHandler handler);
  void stat(const std::string& path, ReplyHandler handler);
  void hash(const std::string& path, ReplyHandler handler);
  void ping(uint64_t token, ReplyHandler handler);
  void get(const std::string& path, uint64_t offset, DownloadSink sink);
  // Sends PUT (PUT2 with `mtime` on a version-2 connection) and then bytes
  // [offset, size) of `file` with sendfile(). The server gives the finished
  // file `mtime` (kNoMtime: its own time); a resume (offset > 0) must send
  // the mtime the upload started with.
  void put(const std::string& path, SharedFile file, uint64_t size, uint64_t offset,
           ReplyHandler handler, int64_t mtime = kNoMtime);
  // Version 2: what the server holds of an unfinished upload of `path`
  // (ResumeOk: declared size, source mtime, bytes held and their SHA-256),
  // or ERROR 2 when it holds nothing. See resume_proof.h.
  void resume(const std::string& path, ReplyHandler handler);
  // Version 2: creates directory `path` and its missing parents (MkdirOk).
  // A version-1 server has no MKDIR: the handler gets ERROR 7 from the
  // loop, never from inside this call.
  void mkdir(const std::string& path, ReplyHandler handler);

  bool ready() const { return ready_; }
  // Requests sent and not answered yet.
  size_t outstanding() const { return pending_.size(); }
  size_t queued_output_bytes() const;
  const SocketAddress& server_address() const { return tcp_.server_address(); }
  const std::string& server_name() const { return server_name_; }
  // The version agreed in HELLO (0 before ready).
  uint16_t protocol_version() const { return protocol_version_; }
  // The server asked for, and accepted, a token.
  bool authenticated() const { return authenticated_; }
  // The time the last answer (or DATA bytes) arrived.
  Clock::time_point last_reply_time() const { return last_reply_time_; }

 private:
  struct Pending {
    MessageType expected;
    ReplyHandler handler;
    DownloadSink sink;
    uint64_t offset = 0;  // GET: the offset asked for
  };

  void send_request(const Request& request, Pending pending);
  void handle_connection(const ConnectionPtr& connection);
  void handle_input(Buffer& input);
  void handle_reply(Reply reply);
  // The answer to HELLO (or AUTH): HELLO_OK, CHALLENGE or ERROR.
  void handle_greeting(Reply reply);
  // Writes bytes of the body of a file-backed download; false on error.
  bool write_body(DownloadSink& sink, std::string_view bytes);
  // Moves the rest of the body from the socket to the file until the
  // socket has nothing more or the body is complete
  // (Connection::receive_into_file: zero-copy).
  void splice_body(const std::shared_ptr<DownloadSink>& sink);
  void complete_download();
  void fail(Failure::Kind kind, std::string message);
  void handle_idle(const ConnectionPtr& connection);
  // What the client is waiting for ("" if nothing), for the timeout message.
  std::string describe_wait() const;

  EventLoop* loop_;
  TcpClient tcp_;
  ReplyDecoder decoder_;
  std::deque<Pending> pending_;
  // The GET whose DATA body is arriving.
  // Shared so a callback that closes the client cannot destroy the sink
  // whose function is running.
  std::shared_ptr<DownloadSink> active_download_;
  bool ready_ = false;
  bool closed_ = false;
  std::string server_name_;
  std::string token_;
  uint16_t protocol_version_ = 0;
  bool challenged_ = false;
  bool authenticated_ = false;
  Clock::time_point last_reply_time_;
  std::chrono::milliseconds stall_timeout_{0};
  // Guards the object against use after a callback closed it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  ReadyCallback ready_callback_;
  FailureCallback failure_callback_;
  std::function<void()> write_complete_callback_;
};

}  // namespace reactor::file
