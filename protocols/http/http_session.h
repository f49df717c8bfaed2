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
//  - Bodies: a request for a route (router.h) has its body read, chunked
//    or not, up to max_body_size (413 beyond); for the static handler a
//    Content-Length body is skipped byte-exactly (never parsed as the next
//    request), and a chunked, oversized or Expect: 100-continue body
//    makes this the last exchange on the connection.
//  - Routes may answer later (ResponseWriter): until they do, the session
//    reads and answers nothing further on the connection, so pipelined
//    answers keep their order.
//  - Errors in the request stream (400, 414, 431, 505...) are answered and
//    the connection closed with a lingering close (the core's
//    close_after_flush), so the client sees the answer, not a reset.
//  - Timeouts: the first head must complete within header_timeout of the
//    accept (a silent client is closed, a partial head gets 408); a later
//    head, and any body being skipped, within header_timeout of the read
//    that left it incomplete;
//    idle connections and clients that stop reading are the core's idle
//    timeout's business.
//
// Attached to its connection with reactor::attach_session() by HttpServer
// when the connection comes up; the connection's callbacks never re-enter
// it (see connection.h), so it needs no guard of its own.
//
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "protocols/http/request.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/router.h"
#include "protocols/http/server_context.h"
#include "protocols/http/static_file_handler.h"
#include "reactor/connection.h"

namespace reactor::http {

// How long the kernel may hold a new connection until its first bytes
// arrive (TCP_DEFER_ACCEPT), 0 for not at all. The kernel counts the wait
// in SYN-ACK retransmissions, 1 s apart and doubling, and hands a silent
// client over once they are spent: after 1, 3, 7, 15... s, a period it
// cannot be asked to shorten. So the period is one of those, at most half
// the header timeout, and the first header timer runs for the rest: a
// silent client is closed at the header timeout counted from its connect,
// and a client whose first bytes came with the accept (held by the kernel
// for an unknown part of the period) gets the whole header timeout from
// the accept instead: a little more than it was owed, never less.
// None with no header timeout, nor with an idle timeout shorter than it:
// the core's idle timer starts at the accept and cannot make up for it.
std::chrono::seconds deferred_accept_period(const ServerOptions& options);

class HttpSession {
 public:
  explicit HttpSession(ServerContext& context) : context_(context) {}

  // The session stored in `connection`'s context, or null.
  static HttpSession* from(const ConnectionPtr& connection);

  // The connection is up: the first request head is due within the header
  // timeout of the connect, so a client that never speaks is closed too.
  void start(const ConnectionPtr& connection);
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
  // A route's answer to request number `sequence` (ResponseWriter), on
  // the loop thread; ignored unless that request is the one waiting.
  void finish_route(const ConnectionPtr& connection, uint64_t sequence, RouteAnswer& answer);

  uint64_t requests_served() const { return requests_; }

 private:
  enum class Phase : uint8_t {
    kReadingHead,     // waiting for (more of) a request head
    kDiscardingBody,  // skipping the body of the last request
    kReadingBody,     // collecting the body of a request for a route
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
  void arm_header_timer(const ConnectionPtr& connection, std::chrono::milliseconds timeout);
  void cancel_header_timer(EventLoop* loop);
  void handle_header_timeout(const ConnectionPtr& connection);
  void log(const ConnectionPtr& connection, const Request* request, const ResponseSummary& summary);

  // Routes. route_request() answers or starts answering `request` when a
  // route (or the lack of a static fallback) concerns it; false leaves it
  // to the static handler, with `refusal` set if it must be refused
  // instead (405 of a route, 404 without fallback, 413).
  struct Refusal {
    Status status = Status::kOk;
    std::string fields;
  };
  bool route_request(const ConnectionPtr& connection, Buffer& input, const RequestHead& head,
                     const Request& request, Status analysis, Refusal& refusal);
  bool read_body(const ConnectionPtr& connection, Buffer& input);
  void dispatch_route(const ConnectionPtr& connection, const Route& route, const Request& request,
                      std::string_view body, bool keep_alive);
  void write_route_answer(const ConnectionPtr& connection, RouteAnswer& answer);
  void resume_after_route(const ConnectionPtr& connection);
  void log_route(const ConnectionPtr& connection, const ResponseSummary& summary);

  // The exchange a route is answering (kept while its answer is pending).
  struct RouteExchange {
    uint64_t sequence = 0;
    int version_minor = 1;
    bool keep_alive = true;
    bool head_only = false;
    // For the access log once the request's bytes are gone.
    std::string method, target, referer, user_agent;
  };

  ServerContext& context_;
  RequestParser parser_;
  Phase phase_ = Phase::kReadingHead;
  bool waiting_for_output_ = false;  // reading paused by pipelining backpressure
  uint64_t body_remaining_ = 0;
  uint64_t requests_ = 0;
  TimerId header_timer_ = 0;
  // The first header timer was shortened by the deferred-accept period
  // (start()); the first input decides whether that was right.
  bool first_timer_shortened_ = false;
  Clock::time_point accepted_at_;
  ResponseOutput* output_ = nullptr;    // borrowed from context_.batch
  std::string client_ip_;               // for the access log, computed on first use
  bool peer_is_trusted_proxy_ = false;  // with client_ip_: X-Forwarded-For is believed

  // Routes.
  bool route_pending_ = false;  // a route has not answered yet
  bool in_handler_ = false;     // a route handler is running
  bool peer_finished_ = false;  // FIN seen while a route was pending
  uint64_t route_sequence_ = 0;
  RouteExchange exchange_;
  const Request* handler_request_ = nullptr;  // while the handler runs
  std::string route_path_;                    // the decoded path routes match
  DecodedPath decoded_;
  // A body being read: the head's bytes (copied: the input moves on), the
  // route, the body so far and its framing.
  std::string body_head_;
  std::shared_ptr<const Route> body_route_;
  std::string body_;
  bool body_chunked_ = false;
  bool body_keep_alive_ = true;
  ChunkedDecoder chunked_;
};

}  // namespace reactor::http
