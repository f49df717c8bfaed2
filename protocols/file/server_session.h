// ServerSession: one client connection of an RFTP server.
//
// It decodes requests from the connection's input and answers them in the
// order they arrived. Most answers are immediate. Three kinds of work run
// on the worker pool and answer later: the fsync+rename that completes a
// PUT, HASH, and LIST (reading up to 10,000 entries takes milliseconds).
// Answers that become ready behind them wait in an ordered queue.
//
// Pipelining rules (why the session sometimes stops decoding):
//  - while a PUT is being committed, further PUTs (other paths) and PINGs
//    go on, so a pipelined batch of uploads overlaps its fsyncs; anything
//    that reads the tree (GET, STAT, LIST, HASH) waits until the pool work
//    before it is done, so it sees the files just acknowledged;
//  - a PUT of a path this connection is still committing waits for it;
//  - while the connection's output is above a high-water mark (a large
//    DATA in progress) no new request is decoded, and when the unread
//    input grows too, reading stops -- a client cannot make the server
//    buffer without bound.
//
// Lifetime: held by the connection's context(); work posted back from the
// pool holds only a weak_ptr.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "protocols/file/frame_codec.h"
#include "protocols/file/messages.h"
#include "protocols/file/request_path.h"
#include "protocols/file/server_context.h"
#include "reactor/connection.h"

namespace reactor::file {

class ServerSession : public std::enable_shared_from_this<ServerSession> {
 public:
  ServerSession(ServerContext* context, const ConnectionPtr& connection);
  ~ServerSession();

  // Connection events, forwarded by FileServer.
  void handle_input(Buffer& input);
  void handle_peer_shutdown();
  void handle_write_complete();
  void handle_idle();
  void handle_close();

  // Server shutdown: finish the transfer in flight, then close.
  void begin_draining();
  // A transfer is in flight: DATA still leaving, PUT bytes still arriving,
  // or pool work not yet answered.
  bool transfer_in_flight() const;

 private:
  struct PendingReply {
    bool ready = false;
    std::string bytes;
  };
  // The PUT whose raw bytes are arriving.
  struct IncomingUpload {
    RequestPath path;
    std::string requested_path;  // echoed in PUT_OK exactly as sent
    std::string key;
    uint64_t size = 0;
    uint64_t next_offset = 0;
    std::shared_ptr<const UniqueFd> part;
    std::shared_ptr<UploadRegistry::Claim> claim;
  };

  void process_input();
  bool can_run_now(const Request& request) const;
  void dispatch(Request request);
  void handle_hello(const Hello& hello);
  void handle_list(const ListRequest& request);
  void handle_stat(const StatRequest& request);
  void handle_get(const GetRequest& request);
  void handle_put(const PutRequest& request);
  void handle_hash(const HashRequest& request);

  Outcome<void> check_upload_target(const RequestPath& path) const;
  void write_upload_bytes(std::string_view bytes);
  void commit_upload();
  void finish_job(uint64_t sequence, std::string reply, const std::string& committed_key);

  // Replies, in request order.
  void emit(const Reply& reply);
  void emit_error(const RequestError& error);
  void refuse_path(const std::string& raw_path, const RequestError& error);
  void emit_fatal(ErrorCode code, const std::string& message);
  uint64_t reserve_reply();
  void fill_reply(uint64_t sequence, std::string bytes);
  void flush_ready_replies();

  void pause_input();
  void resume_input();
  void close_if_done();

  ServerContext* context_;
  std::weak_ptr<Connection> connection_;
  uint64_t connection_id_;
  RequestDecoder decoder_;
  bool greeted_ = false;
  bool fatal_ = false;  // a closing ERROR was sent; read nothing more
  bool closed_ = false;
  bool peer_finished_ = false;
  bool draining_ = false;
  bool reading_paused_ = false;

  std::optional<Request> stalled_request_;  // decoded, waiting to run
  std::optional<IncomingUpload> upload_;
  std::deque<PendingReply> replies_;
  uint64_t first_reply_sequence_ = 0;  // sequence number of replies_.front()
  size_t jobs_in_flight_ = 0;
  std::multiset<std::string> committing_keys_;
};

}  // namespace reactor::file
