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
// Lifetime: attached to its connection (reactor/session.h); every call gets
// the connection it concerns, and work posted back from the pool holds only
// a weak_ptr to the connection and finds the session again through it.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
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

class ServerSession {
 public:
  ServerSession(ServerContext* context, const ConnectionPtr& connection);
  ~ServerSession();

  // Connection events, forwarded by FileServer with the connection they
  // concern (the session does not keep it; see reactor/session.h).
  void handle_input(Connection& connection);
  void handle_peer_shutdown(Connection& connection);
  void handle_write_complete(Connection& connection);
  void handle_idle(Connection& connection);
  void handle_close();

  // Server shutdown: finish the transfer in flight, then close.
  void begin_draining(Connection& connection);
  // A transfer is in flight: DATA still leaving, PUT bytes still arriving,
  // or pool work not yet answered.
  bool transfer_in_flight(Connection& connection) const;
  // A pool job's answer (sequence number from reserve_reply()), back on the
  // loop thread.
  void finish_job(Connection& connection, uint64_t sequence, std::string reply,
                  const std::string& committed_key);

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
    int64_t source_mtime = kNoMtime;
    std::shared_ptr<const UniqueFd> part;
    std::shared_ptr<UploadRegistry::Claim> claim;
    uint64_t first_offset = 0;  // where this PUT started (a resume: > 0)
    Clock::time_point started;
  };
  // A GET whose DATA is leaving: done once the connection has sent
  // everything up to `end_mark` (a position in sent_total()).
  struct OutgoingDownload {
    std::string path;
    uint64_t offset = 0;
    uint64_t length = 0;
    uint64_t end_mark = 0;
    Clock::time_point started;
  };

  void process_input(Connection& connection);
  bool can_run_now(Connection& connection, const Request& request) const;
  void dispatch(Connection& connection, Request request);
  void handle_hello(Connection& connection, const Hello& hello);
  void handle_auth(Connection& connection, const AuthRequest& auth);
  void handle_list(Connection& connection, const ListRequest& request);
  void handle_stat(Connection& connection, const StatRequest& request);
  void handle_get(Connection& connection, const GetRequest& request);
  // PUT and PUT2 alike; `source_mtime` only for PUT2 (whose resume must
  // carry the mtime recorded when the upload started).
  void handle_put(Connection& connection, const std::string& requested_path, uint64_t size,
                  uint64_t offset, std::optional<int64_t> source_mtime);
  void handle_resume(Connection& connection, const ResumeRequest& request);
  void handle_mkdir(Connection& connection, const MkdirRequest& request);
  void handle_hash(Connection& connection, const HashRequest& request);

  Outcome<void> check_upload_target(const RequestPath& path) const;
  void write_upload_bytes(Connection& connection, std::string_view bytes);
  void commit_upload(Connection& connection);

  // The transfer log: one info line per GET or PUT that ended, however it
  // ended (peer, operation, path, bytes, duration, result).
  void log_transfer(const char* operation, const std::string& path, uint64_t bytes,
                    Clock::time_point started, const std::string& result) const;
  // Logs the GETs whose bytes have all left.
  void log_finished_downloads(Connection& connection);
  // Bytes handed to the connection so far, and of those, sent.
  uint64_t sent_total(Connection& connection) const {
    return queued_total_ - connection.queued_output_bytes();
  }

  // Replies, in request order.
  void emit(Connection& connection, const Reply& reply);
  void emit_error(Connection& connection, const RequestError& error);
  void refuse_path(Connection& connection, const std::string& raw_path, const RequestError& error);
  void emit_fatal(Connection& connection, ErrorCode code, const std::string& message);
  uint64_t reserve_reply();
  void fill_reply(Connection& connection, uint64_t sequence, std::string bytes);
  void flush_ready_replies(Connection& connection);

  void pause_input(Connection& connection);
  void resume_input(Connection& connection);
  void close_if_done(Connection& connection);

  ServerContext* context_;
  uint64_t connection_id_;
  RequestDecoder decoder_;
  bool greeted_ = false;
  uint16_t version_ = 0;  // agreed in HELLO
  // Version 2 with a token: CHALLENGE sent, AUTH not yet proven. Nothing
  // but AUTH is answered meanwhile.
  bool awaiting_auth_ = false;
  Digest nonce_{};
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

  std::string peer_;  // for the transfer log
  uint64_t queued_total_ = 0;
  uint64_t sent_seen_ = 0;  // sent_total() when last looked at
  std::deque<OutgoingDownload> downloads_;
  // PUTs being committed, by reply sequence number: logged when answered.
  std::map<uint64_t, IncomingUpload> committing_uploads_;
};

}  // namespace reactor::file
