#include "protocols/http/http_session.h"

#include <algorithm>
#include <exception>

#include <spdlog/spdlog.h>

#include "protocols/http/request.h"
#include "protocols/http/static_file_handler.h"
#include "reactor/session.h"

namespace reactor::http {

void HttpSession::handle_input(const ConnectionPtr& connection, Buffer& input) {
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
  // first would drop them.
  cancel_header_timer(connection->loop());
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
        arm_header_timer(connection);
        break;
      }
      cancel_header_timer(connection->loop());
      phase_ = Phase::kReadingHead;
      continue;
    }
    if (waiting_for_output_) break;

    const RequestParser::Result result = parser_.parse(input.view());
    if (result == RequestParser::Result::kNeedMore) {
      arm_header_timer(connection);
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
    if (phase_ != Phase::kClosing && connection->queued_output_bytes() + collected > limit) {
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
  // Otherwise the output leaves at the end of the epoll batch.
  if (phase_ == Phase::kClosing) close_after_output(connection);
}

void HttpSession::serve_request(const ConnectionPtr& connection, Buffer& input) {
  const RequestHead head = parser_.head(input.view(), context_.fields);
  Request request;
  const protocols::Result<void, Status> analyzed = analyze_request(head, request);

  bool keep_alive = request.keep_alive && !context_.draining;
  if (!analyzed && status_closes_connection(analyzed.error())) keep_alive = false;
  // Bodies we cannot (or will not) skip exactly end the connection.
  if (request.chunked || request.content_length > context_.options.max_discarded_body ||
      (request.expects_continue && request.content_length > 0)) {
    keep_alive = false;
  }

  const ResponseContext response_context{
      request.version_minor, keep_alive, request.method == Method::kHead,
      context_.dates.http_date(), context_.options.server_header};
  const ResponseSummary summary =
      !analyzed
          ? StaticFileHandler::respond_error(analyzed.error(), response_context, output(connection))
          : context_.handler.respond(request, response_context, connection->loop()->now(),
                                     output(connection));
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
  const ResponseContext response_context{1, false, false, context_.dates.http_date(),
                                         context_.options.server_header};
  const ResponseSummary summary =
      StaticFileHandler::respond_error(status, response_context, output(connection));
  if (context_.access_log) log(connection, nullptr, summary);
  phase_ = Phase::kClosing;
  connection->linger_on_close();  // the rest of what the client sends is unknown
}

void HttpSession::handle_output_drained(const ConnectionPtr& connection) {
  if (!waiting_for_output_ || phase_ == Phase::kClosing) return;
  waiting_for_output_ = false;
  connection->start_reading();
  handle_input(connection, connection->input());
}

void HttpSession::handle_closed(const ConnectionPtr& connection) {
  cancel_header_timer(connection->loop());
}

void HttpSession::begin_drain(const ConnectionPtr& connection) {
  cancel_header_timer(connection->loop());
  close_after_output(connection);
}

void HttpSession::arm_header_timer(const ConnectionPtr& connection) {
  if (header_timer_ != 0 || context_.options.header_timeout.count() <= 0) return;
  header_timer_ = connection->loop()->run_after(
      context_.options.header_timeout, [weak = std::weak_ptr<Connection>(connection)] {
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
  if (phase_ == Phase::kClosing || waiting_for_output_) return;
  spdlog::debug("connection {}: request head not complete after {} ms, closing", connection->id(),
                context_.options.header_timeout.count());
  if (phase_ == Phase::kReadingHead && parser_.started()) {
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

}  // namespace reactor::http
