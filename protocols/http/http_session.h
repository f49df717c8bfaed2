// HttpSession: the HTTP/1.1 side of one connection -- reads request heads
// as bytes arrive, answers them in order, and decides when the connection
// ends.
//
//  - Pipelining: every complete request in the input is answered; the
//    answers collected during one epoll batch leave together at its end
//    (OutputBatch). Once `pipeline_output_limit`
//    bytes are queued for a client that does not read, reading from it
//    stops until the output drains (handle_output_drained), so memory per
//    connection stays bounded.
//  - Bodies: a Content-Length body is skipped byte-exactly (never parsed as
//    the next request); a chunked, oversized or Expect: 100-continue body
//    makes this the last exchange on the connection.
//  - Errors in the request stream (400, 414, 431, 505...) are answered and
//    the connection closed with a lingering close (the core's
//    close_after_flush), so the client sees the answer, not a reset.
//  - Timeouts: a head (and any body being skipped) must complete within
//    header_timeout of the read that left it incomplete (408, then close);
//    idle connections and clients that stop reading are the core's idle
//    timeout's business.
//
// Attached to its connection with reactor::attach_session() by HttpServer
// when the connection comes up; the connection's callbacks never re-enter
// it (see connection.h), so it needs no guard of its own.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "protocols/http/request_parser.h"
#include "protocols/http/server_context.h"
#include "protocols/http/static_file_handler.h"
#include "reactor/connection.h"

namespace reactor::http {

class HttpSession {
 public:
  explicit HttpSession(ServerContext& context) : context_(context) {}

  // The session stored in `connection`'s context, or null.
  static HttpSession* from(const ConnectionPtr& connection);

  // Message callback: new bytes are in `input`.
  void handle_input(const ConnectionPtr& connection, Buffer& input);
  // Peer-shutdown callback: the client half-closed; answer what it asked
  // for, then close.
  void handle_peer_finished(const ConnectionPtr& connection);
  // Write-complete callback: all queued output has been written.
  void handle_output_drained(const ConnectionPtr& connection);
  // The connection closed: release timers.
  void handle_closed(const ConnectionPtr& connection);
  // Graceful shutdown: no new requests; close once the current output is out.
  void begin_drain(const ConnectionPtr& connection);
  // The batch is handing this session's output over (OutputBatch).
  void release_output() { output_ = nullptr; }

  uint64_t requests_served() const { return requests_; }

 private:
  enum class Phase : uint8_t {
    kReadingHead,     // waiting for (more of) a request head
    kDiscardingBody,  // skipping the body of the last request
    kClosing,         // last response queued; nothing more is read
  };

  // This batch's output for the connection (acquired on first use).
  ResponseOutput& output(const ConnectionPtr& connection);
  // Hands what this batch has so far over to the connection right away.
  void flush_now(const ConnectionPtr& connection);
  void close_after_output(const ConnectionPtr& connection);
  void process(const ConnectionPtr& connection, Buffer& input);
  void serve_request(const ConnectionPtr& connection, Buffer& input);
  void refuse_stream(const ConnectionPtr& connection, Status status);
  void arm_header_timer(const ConnectionPtr& connection);
  void cancel_header_timer(EventLoop* loop);
  void handle_header_timeout(const ConnectionPtr& connection);
  void log(const ConnectionPtr& connection, const Request* request, const ResponseSummary& summary);

  ServerContext& context_;
  RequestParser parser_;
  Phase phase_ = Phase::kReadingHead;
  bool waiting_for_output_ = false;  // reading paused by pipelining backpressure
  uint64_t body_remaining_ = 0;
  uint64_t requests_ = 0;
  TimerId header_timer_ = 0;
  ResponseOutput* output_ = nullptr;    // borrowed from context_.batch
  std::string client_ip_;               // for the access log, computed on first use
  bool peer_is_trusted_proxy_ = false;  // with client_ip_: X-Forwarded-For is believed
};

}  // namespace reactor::http
