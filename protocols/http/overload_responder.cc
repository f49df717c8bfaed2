#include "protocols/http/overload_responder.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "protocols/http/error_page.h"
#include "protocols/http/http_date.h"

namespace reactor::http {

namespace {

void drain(int fd) {
  char sink[4096];
  while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
  }
}

}  // namespace

OverloadResponder::~OverloadResponder() {
  if (timer_ != 0) loop_->cancel(timer_);
}

void OverloadResponder::refuse(int fd) {
  ++refused_;
  std::string response;
  const std::string date = format_http_date(::time(nullptr));
  const ResponseContext context{1, false, false, date};
  append_error_response(response, Status::kServiceUnavailable, context, "Retry-After: 1\r\n");
  // Best effort: a fresh socket's send buffer takes a few hundred bytes.
  (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);

  if (lingering_.size() >= kMaxLingering) return;
  UniqueFd duplicate(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!duplicate) return;
  lingering_.push_back(Lingering{std::move(duplicate), loop_->now() + kLinger});
  if (timer_ == 0) {
    timer_ = loop_->run_after(kLinger, [this] {
      timer_ = 0;
      close_expired();
    });
  }
}

void OverloadResponder::close_expired() {
  const Clock::time_point now = Clock::now();
  while (!lingering_.empty() && lingering_.front().until <= now) {
    drain(lingering_.front().fd.get());
    lingering_.pop_front();
  }
  if (!lingering_.empty()) {
    timer_ = loop_->run_at(lingering_.front().until, [this] {
      timer_ = 0;
      close_expired();
    });
  }
}

}  // namespace reactor::http
