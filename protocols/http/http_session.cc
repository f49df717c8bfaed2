#include "protocols/http/http_session.h"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

#include "protocols/http/error_page.h"
#include "protocols/http/request.h"
#include "protocols/http/static_file_handler.h"
#include "reactor/session.h"

namespace reactor::http {

std::chrono::seconds deferred_accept_period(const ServerOptions& options) {
  const std::chrono::milliseconds header = options.header_timeout;
  if (header.count() <= 0) return std::chrono::seconds(0);
  if (options.idle_timeout.count() > 0 && options.idle_timeout < header) {
    return std::chrono::seconds(0);
  }
  std::chrono::seconds period(0);
  for (std::chrono::seconds next(1); 2 * next <= header;
       next = 2 * next + std::chrono::seconds(1)) {
    period = next;
  }
  return period;
}

void HttpSession::start(const ConnectionPtr& connection) {
  const std::chrono::milliseconds header = context_.options.header_timeout;
  if (header.count() <= 0) return;
  const std::chrono::seconds deferred = deferred_accept_period(context_.options);
  first_timer_shortened_ = deferred.count() > 0;
  accepted_at_ = Clock::now();
  arm_header_timer(connection, header - deferred);
}

void HttpSession::handle_input(const ConnectionPtr& connection, Buffer& input) {
  if (first_timer_shortened_) {
    first_timer_shortened_ = false;
    // The kernel hands over a deferred connection when its first bytes
    // arrive or when the period runs out. Bytes that come well after the
    // accept mean the latter: the whole period was spent, and the short
    // first timer is right. Bytes that came with the accept may have been
    // held for any part of the period; the connect time is not known, so
    // such a client gets the whole header timeout from the accept.
    constexpr auto kCameWithAccept = std::chrono::milliseconds(200);
    const auto since_accept = Clock::now() - accepted_at_;
    if (since_accept < kCameWithAccept && header_timer_ != 0) {
      cancel_header_timer(connection->loop());
      arm_header_timer(connection,
                       context_.options.header_timeout -
                           std::chrono::duration_cast<std::chrono::milliseconds>(since_accept));
    }
  }
  try {
    process(connection, input);
  } catch (const std::exception& error) {
    // Whatever went wrong concerns this connection alone.
    spdlog::error("connection {}: {}; closing it", connection->id(), error.what());
    if (output_ != nullptr) output_->clear();
    connection->close();
  }
}

void HttpSession::handle_peer_finished(const ConnectionPtr& connection) {
  // Every complete request that came before the FIN has been answered (in
  // this batch's output, perhaps). What is left -- part of a head, part of
  // a body -- can never complete. Hand the answers over now: closing
  // first would drop them. A route still answering is waited for, and the
  // complete requests behind it with it.
  cancel_header_timer(connection->loop());
  if (route_pending_) {
    peer_finished_ = true;
    return;
  }
  close_after_output(connection);
}

ResponseOutput& HttpSession::output(const ConnectionPtr& connection) {
  if (output_ == nullptr) output_ = context_.batch.acquire(connection);
  return *output_;
}

void HttpSession::flush_now(const ConnectionPtr& connection) {
  // The (now empty) output stays registered with the batch until its end.
  if (output_ != nullptr && !output_->empty()) output_->flush_to(*connection);
}

void HttpSession::close_after_output(const ConnectionPtr& connection) {
  phase_ = Phase::kClosing;
  flush_now(connection);
  connection->close_after_flush();
}

void HttpSession::process(const ConnectionPtr& connection, Buffer& input) {
  // can_send(): a send error inside this loop closes the connection, and
  // the rest of the input is then not worth parsing.
  while (phase_ != Phase::kClosing && !input.empty() && connection->can_send()) {
    if (phase_ == Phase::kDiscardingBody) {
      const uint64_t skip = std::min<uint64_t>(body_remaining_, input.readable_bytes());
      input.retrieve(static_cast<size_t>(skip));
      body_remaining_ -= skip;
      if (body_remaining_ > 0) {
        arm_header_timer(connection, context_.options.header_timeout);
        break;
      }
      cancel_header_timer(connection->loop());
      phase_ = Phase::kReadingHead;
      continue;
    }
    if (phase_ == Phase::kReadingBody) {
      if (!read_body(connection, input)) break;
      continue;
    }
    if (waiting_for_output_ || route_pending_) break;

    const RequestParser::Result result = parser_.parse(input.view());
    if (result == RequestParser::Result::kNeedMore) {
      arm_header_timer(connection, context_.options.header_timeout);
      break;
    }
    cancel_header_timer(connection->loop());
    if (result == RequestParser::Result::kError) {
      refuse_stream(connection, parser_.error());
      break;
    }
    serve_request(connection, input);
    const size_t limit = context_.options.pipeline_output_limit;
    const size_t collected = output_ != nullptr ? output_->total_size() : 0;
    if (phase_ != Phase::kClosing && !route_pending_ &&
        connection->queued_output_bytes() + collected > limit) {
      // Hand the output over first: the socket may well take it all at once
      // (and then no write-complete callback would ever come to wake us).
      flush_now(connection);
      if (connection->queued_output_bytes() > limit) {
        // The client is not keeping up (or pipelines hard): answer the rest
        // once this has drained, and stop reading meanwhile.
        waiting_for_output_ = true;
        connection->stop_reading();
        break;
      }
    }
  }
  // Otherwise the output leaves at the end of the epoll batch. A pending
  // route closes the connection once it has answered.
  if (phase_ == Phase::kClosing && !route_pending_) close_after_output(connection);
}

void HttpSession::serve_request(const ConnectionPtr& connection, Buffer& input) {
  const RequestHead head = parser_.head(input.view(), context_.fields);
  Request request;
  const protocols::Result<void, Status> analyzed = analyze_request(head, request);
  Refusal refusal;
  if ((!context_.router.empty() || !context_.static_fallback) &&
      route_request(connection, input, head, request, analyzed ? Status::kOk : analyzed.error(),
                    refusal)) {
    return;
  }

  bool keep_alive = request.keep_alive && !context_.draining;
  if (!analyzed && status_closes_connection(analyzed.error())) keep_alive = false;
  // Bodies we cannot (or will not) skip exactly end the connection.
  if (request.chunked || request.content_length > context_.options.max_discarded_body ||
      (request.expects_continue && request.content_length > 0)) {
    keep_alive = false;
  }

  const ResponseContext response_context{
      request.version_minor,           keep_alive,
      request.method == Method::kHead, context_.dates.http_date(),
      context_.options.server_name,    context_.added_fields};
  ResponseSummary summary;
  if (refusal.status != Status::kOk) {
    summary.status = refusal.status;
    summary.body_bytes = append_error_response(output(connection).bytes(), refusal.status,
                                               response_context, refusal.fields);
  } else if (!analyzed) {
    summary = context_.handler.respond_refused(analyzed.error(), request, response_context,
                                               output(connection));
  } else {
    summary = context_.handler.respond(request, response_context, connection->loop()->now(),
                                       output(connection));
  }
  if (context_.access_log) log(connection, &request, summary);

  // Only now: `request` points into the input buffer.
  input.retrieve(head.length);
  parser_.reset();
  ++requests_;
  if (!keep_alive) {
    phase_ = Phase::kClosing;
    // Body bytes may still be on their way; closing on them would reset
    // the connection under the response.
    if (request.chunked || request.content_length > 0) connection->linger_on_close();
  } else if (request.content_length > 0) {
    phase_ = Phase::kDiscardingBody;
    body_remaining_ = request.content_length;
  }
}

void HttpSession::refuse_stream(const ConnectionPtr& connection, Status status) {
  const ResponseContext response_context{1,
                                         false,
                                         false,
                                         context_.dates.http_date(),
                                         context_.options.server_name,
                                         context_.added_fields};
  const ResponseSummary summary =
      StaticFileHandler::respond_error(status, response_context, output(connection));
  if (context_.access_log) log(connection, nullptr, summary);
  phase_ = Phase::kClosing;
  connection->linger_on_close();  // the rest of what the client sends is unknown
}

void HttpSession::handle_output_drained(const ConnectionPtr& connection) {
  if (!waiting_for_output_ || phase_ == Phase::kClosing) return;
  waiting_for_output_ = false;
  if (route_pending_) return;  // reading resumes with the route's answer
  connection->start_reading();
  handle_input(connection, connection->input());
}

void HttpSession::handle_closed(const ConnectionPtr& connection) {
  cancel_header_timer(connection->loop());
}

void HttpSession::begin_drain(const ConnectionPtr& connection) {
  cancel_header_timer(connection->loop());
  if (route_pending_) {
    // Its answer is on the way; the connection closes behind it.
    phase_ = Phase::kClosing;
    return;
  }
  close_after_output(connection);
}

void HttpSession::arm_header_timer(const ConnectionPtr& connection,
                                   std::chrono::milliseconds timeout) {
  if (header_timer_ != 0 || timeout.count() <= 0) return;
  header_timer_ =
      connection->loop()->run_after(timeout, [weak = std::weak_ptr<Connection>(connection)] {
        const ConnectionPtr alive = weak.lock();
        if (!alive || !alive->connected()) return;
        if (HttpSession* session = session_of<HttpSession>(alive)) {
          session->header_timer_ = 0;
          session->handle_header_timeout(alive);
        }
      });
}

void HttpSession::cancel_header_timer(EventLoop* loop) {
  if (header_timer_ == 0) return;
  loop->cancel(header_timer_);
  header_timer_ = 0;
}

void HttpSession::handle_header_timeout(const ConnectionPtr& connection) {
  if (phase_ == Phase::kClosing || waiting_for_output_ || route_pending_) return;
  spdlog::debug("connection {}: request head not complete after {} ms, closing", connection->id(),
                context_.options.header_timeout.count());
  if ((phase_ == Phase::kReadingHead && parser_.started()) || phase_ == Phase::kReadingBody) {
    refuse_stream(connection, Status::kRequestTimeout);
  }
  close_after_output(connection);
}

void HttpSession::log(const ConnectionPtr& connection, const Request* request,
                      const ResponseSummary& summary) {
  if (client_ip_.empty()) {
    client_ip_ = connection->peer_address().ip();
    peer_is_trusted_proxy_ = context_.trusted_proxies.trusts(connection->peer_address());
  }
  AccessLog::Entry entry;
  entry.client = client_ip_;
  if (peer_is_trusted_proxy_ && request != nullptr) {
    entry.client = context_.trusted_proxies.client(client_ip_, request->fields);
  }
  entry.time = context_.dates.log_time();
  if (request != nullptr) {
    entry.method = request->method_name;
    entry.target = request->target;
    entry.version_minor = request->version_minor;
    entry.referer = request->referer;
    entry.user_agent = request->user_agent;
  }
  entry.status = summary.status;
  entry.body_bytes = summary.body_bytes;
  context_.access_log->append(entry);
}

bool HttpSession::route_request(const ConnectionPtr& connection, Buffer& input,
                                const RequestHead& head, const Request& request, Status analysis,
                                Refusal& refusal) {
  // Of the checks analyze_request makes, only the method's may be
  // overruled: a route may take any method.
  if (analysis != Status::kOk && analysis != Status::kMethodNotAllowed &&
      analysis != Status::kNotImplemented) {
    return false;
  }
  if (request.path.empty() || request.path.front() != '/') return false;
  // A malformed path is the static handler's 400.
  if (!decode_request_path(request.path, decoded_)) return false;
  route_path_ = "/";
  route_path_ += decoded_.relative;
  if (decoded_.trailing_slash && !decoded_.relative.empty()) route_path_ += '/';

  Router::Match match = context_.router.find(request.method_name, route_path_);
  if (match.route == nullptr) {
    if (!match.allow.empty()) {
      refusal.status = Status::kMethodNotAllowed;
      refusal.fields = "Allow: " + match.allow + "\r\n";
    } else if (!context_.static_fallback) {
      refusal.status = Status::kNotFound;
    }
    return false;
  }
  if (!request.chunked && request.content_length > context_.options.max_body_size) {
    // Framed like any refused request: a body small enough is skipped and
    // the connection kept, a larger one ends it (after a lingering close,
    // so the client reads the 413 instead of a reset).
    refusal.status = Status::kContentTooLarge;
    return false;
  }

  const bool keep_alive = request.keep_alive && !context_.draining;
  const bool has_body = request.chunked || request.content_length > 0;
  const size_t available = input.readable_bytes() - head.length;
  if (!has_body || (!request.chunked && request.content_length <= available)) {
    // All there: the body is handed over in place, no copy.
    const auto body_length = static_cast<size_t>(request.content_length);
    dispatch_route(connection, *match.route, request, input.view().substr(head.length, body_length),
                   keep_alive);
    input.retrieve(head.length + body_length);
    parser_.reset();
    ++requests_;
    if (!keep_alive) phase_ = Phase::kClosing;
    return true;
  }

  // The body is on its way. Its head is kept aside (the input moves on
  // while the body is consumed), to be seen again once it is complete.
  if (request.expects_continue && request.version_minor == 1) {
    output(connection).bytes() += "HTTP/1.1 100 Continue\r\n\r\n";
    flush_now(connection);  // the client waits for it before it sends
  }
  body_head_.assign(input.view().substr(0, head.length));
  input.retrieve(head.length);
  body_route_ = std::move(match.route);
  body_.clear();
  body_chunked_ = request.chunked;
  body_remaining_ = request.content_length;
  body_keep_alive_ = keep_alive;
  chunked_.reset();
  phase_ = Phase::kReadingBody;
  arm_header_timer(connection, context_.options.header_timeout);  // the body must start, too
  return true;
}

bool HttpSession::read_body(const ConnectionPtr& connection, Buffer& input) {
  bool complete = false;
  if (body_chunked_) {
    size_t consumed = 0;
    const ChunkedDecoder::Result result =
        chunked_.decode(input.view(), body_, consumed, context_.options.max_body_size);
    input.retrieve(consumed);
    if (result == ChunkedDecoder::Result::kError) {
      cancel_header_timer(connection->loop());
      body_route_.reset();
      refuse_stream(connection, chunked_.error());
      return false;
    }
    complete = result == ChunkedDecoder::Result::kComplete;
  } else {
    const auto take =
        static_cast<size_t>(std::min<uint64_t>(body_remaining_, input.readable_bytes()));
    body_.append(input.view().data(), take);
    input.retrieve(take);
    body_remaining_ -= take;
    complete = body_remaining_ == 0;
  }
  // A body must keep arriving: the header timeout runs from the last
  // progress, so a slow but steady upload is not cut off.
  cancel_header_timer(connection->loop());
  if (!complete) {
    arm_header_timer(connection, context_.options.header_timeout);
    return false;
  }

  const RequestHead head = parser_.head(body_head_, context_.fields);
  Request request;
  (void)analyze_request(head, request);  // it passed before the body was read
  const std::shared_ptr<const Route> route = std::move(body_route_);
  dispatch_route(connection, *route, request, body_, body_keep_alive_);
  parser_.reset();
  ++requests_;
  // Do not keep a large body's storage around for the next request.
  if (body_.capacity() > 64 * 1024) {
    std::string().swap(body_);
  } else {
    body_.clear();
  }
  phase_ = body_keep_alive_ ? Phase::kReadingHead : Phase::kClosing;
  return true;
}

void HttpSession::dispatch_route(const ConnectionPtr& connection, const Route& route,
                                 const Request& request, std::string_view body, bool keep_alive) {
  RouteRequest view;
  view.method = request.method_name;
  view.path = route_path_;
  const size_t query = request.target.find('?');
  if (query != std::string_view::npos) view.query = request.target.substr(query + 1);
  view.target = request.target;
  view.version_minor = request.version_minor;
  view.headers = request.fields;
  view.body = body;
  view.peer = &connection->peer_address();

  exchange_.sequence = ++route_sequence_;
  exchange_.version_minor = request.version_minor;
  exchange_.keep_alive = keep_alive;
  exchange_.head_only = request.method == Method::kHead;
  route_pending_ = true;
  in_handler_ = true;
  handler_request_ = &request;
  try {
    route.handler(view, ResponseWriter::make(connection, exchange_.sequence));
  } catch (const std::exception& error) {
    spdlog::error("connection {}: route {} {} failed: {}", connection->id(), route.method,
                  route.path, error.what());
  } catch (...) {
    spdlog::error("connection {}: route {} {} failed", connection->id(), route.method, route.path);
  }
  if (route_pending_ && !connection->can_send()) route_pending_ = false;
  in_handler_ = false;
  if (!route_pending_) {
    handler_request_ = nullptr;
    return;
  }
  // The handler kept its writer: answer later. Nothing more is read or
  // answered meanwhile, so the answers keep the order of the requests.
  if (context_.access_log) {
    exchange_.method.assign(request.method_name);
    exchange_.target.assign(request.target);
    exchange_.referer.assign(request.referer);
    exchange_.user_agent.assign(request.user_agent);
  }
  handler_request_ = nullptr;
  connection->stop_reading();
}

void HttpSession::finish_route(const ConnectionPtr& connection, uint64_t sequence,
                               RouteAnswer& answer) {
  if (!route_pending_ || sequence != exchange_.sequence) return;
  route_pending_ = false;
  write_route_answer(connection, answer);
  if (in_handler_) return;  // answered at once: serve_request carries on
  // Later, after the embedder's own call has returned: resuming runs
  // other handlers, which must not run inside it.
  connection->loop()->defer([weak = std::weak_ptr<Connection>(connection)] {
    const ConnectionPtr alive = weak.lock();
    if (!alive || !alive->can_send()) return;
    if (HttpSession* session = session_of<HttpSession>(alive)) session->resume_after_route(alive);
  });
}

void HttpSession::resume_after_route(const ConnectionPtr& connection) {
  if (route_pending_) return;
  if (phase_ == Phase::kClosing) {
    close_after_output(connection);
    return;
  }
  if (!waiting_for_output_) connection->start_reading();
  handle_input(connection, connection->input());
  if (peer_finished_ && !route_pending_ && phase_ != Phase::kClosing) {
    close_after_output(connection);
  }
}

void HttpSession::write_route_answer(const ConnectionPtr& connection, RouteAnswer& answer) {
  const ResponseContext context{exchange_.version_minor,      exchange_.keep_alive,
                                exchange_.head_only,          context_.dates.http_date(),
                                context_.options.server_name, context_.added_fields};
  ResponseOutput& out = output(connection);
  ResponseSummary summary;
  if (answer.internal_error) {
    summary = StaticFileHandler::respond_error(Status::kInternalServerError, context, out);
  } else {
    std::string& bytes = out.bytes();
    bytes += "HTTP/1.1 ";
    append_decimal(bytes, static_cast<uint64_t>(answer.status));
    bytes += ' ';
    bytes += route_reason_phrase(answer.status);
    bytes += "\r\n";
    append_common_fields(bytes, context);
    if (answer.status < 500) bytes += context.added_fields;  // the operator's --header, --cors
    bytes += answer.fields;
    if (!answer.has_content_type && answer.file != nullptr && !answer.file_name.empty()) {
      append_field(bytes, "Content-Type", context_.mime_types.content_type_for(answer.file_name));
    }
    // 204 and 304 have no body, and so no length either.
    const bool bodiless = answer.status == 204 || answer.status == 304;
    const uint64_t length = answer.file != nullptr ? answer.file_length : answer.body.size();
    if (!bodiless) append_content_length(bytes, length);
    bytes += "\r\n";
    summary.status = static_cast<Status>(answer.status);
    if (!bodiless && !context.head_only) {
      if (answer.file != nullptr) {
        out.append_file(std::move(answer.file), static_cast<off_t>(answer.file_offset),
                        static_cast<size_t>(length));
      } else {
        bytes += answer.body;
      }
      summary.body_bytes = length;
    }
  }
  if (!context_.access_log) return;
  if (handler_request_ != nullptr) {
    log(connection, handler_request_, summary);
  } else {
    log_route(connection, summary);
  }
}

void HttpSession::log_route(const ConnectionPtr& connection, const ResponseSummary& summary) {
  if (client_ip_.empty()) client_ip_ = connection->peer_address().ip();
  AccessLog::Entry entry;
  entry.client = client_ip_;
  entry.time = context_.dates.log_time();
  entry.method = exchange_.method;
  entry.target = exchange_.target;
  entry.version_minor = exchange_.version_minor;
  entry.referer = exchange_.referer;
  entry.user_agent = exchange_.user_agent;
  entry.status = summary.status;
  entry.body_bytes = summary.body_bytes;
  context_.access_log->append(entry);
}

}  // namespace reactor::http
