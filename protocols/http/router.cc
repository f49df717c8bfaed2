#include "protocols/http/router.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

#include "protocols/http/char_class.h"
#include "protocols/http/header_text.h"
#include "protocols/http/http_session.h"
#include "reactor/session.h"
#include "reactor/unique_fd.h"

namespace reactor::http {

std::string_view RouteRequest::header(std::string_view name) const {
  for (const HeaderField& field : headers) {
    if (field.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = to_lower_ascii(field.name[i]) == to_lower_ascii(name[i]);
    }
    if (same) return field.value;
  }
  return {};
}

// Shared by every copy of one writer. `answer` is built by the thread that
// holds the writer; `completed` is the one field two threads may touch (a
// worker completing while the loop drops its copy).
struct ResponseWriter::State {
  State(EventLoop* event_loop, std::weak_ptr<Connection> weak, uint64_t number)
      : loop(event_loop), connection(std::move(weak)), sequence(number) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  // Unanswered: a 500, so the connection's later requests are not held
  // back forever by a writer nobody will complete.
  ~State() {
    if (completed.exchange(true)) return;
    RouteAnswer failure;
    failure.internal_error = true;
    deliver(std::move(failure));
  }

  void deliver(RouteAnswer finished) {
    auto finish = [weak = connection, number = sequence](RouteAnswer& done) {
      const ConnectionPtr alive = weak.lock();
      // A closed connection (gone, or abandoned by a server being
      // destroyed) takes no answer; its session is not touched.
      if (!alive || !alive->can_send()) return;
      if (HttpSession* session = session_of<HttpSession>(alive)) {
        session->finish_route(alive, number, done);
      }
    };
    if (loop->in_loop_thread()) {
      finish(finished);
    } else {
      loop->post([finish, answer = std::move(finished)]() mutable { finish(answer); });
    }
  }

  EventLoop* const loop;
  const std::weak_ptr<Connection> connection;
  const uint64_t sequence;
  RouteAnswer answer;
  std::atomic<bool> completed{false};
};

namespace {

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return is_token_char(static_cast<unsigned char>(c)); });
}

bool is_safe_value(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte == '\t' || (byte >= 0x20 && byte != 0x7f);
  });
}

bool is_framing_field(std::string_view name) {
  for (std::string_view reserved :
       {"content-length", "transfer-encoding", "connection", "date", "server"}) {
    if (equals_lower(name, reserved)) return true;
  }
  return false;
}

}  // namespace

ResponseWriter ResponseWriter::make(const ConnectionPtr& connection, uint64_t sequence) {
  return ResponseWriter(std::make_shared<State>(connection->loop(), connection, sequence));
}

ResponseWriter& ResponseWriter::status(int code) {
  if (code < 200 || code > 599) {
    throw std::invalid_argument("route status must be 200-599, not " + std::to_string(code));
  }
  state_->answer.status = code;
  return *this;
}

ResponseWriter& ResponseWriter::header(std::string_view name, std::string_view value) {
  if (!is_token(name) || !is_safe_value(value) || is_framing_field(name)) {
    throw std::invalid_argument("refused response field: " + std::string(name));
  }
  if (equals_lower(name, "content-type")) state_->answer.has_content_type = true;
  std::string& fields = state_->answer.fields;
  fields += name;
  fields += ": ";
  fields += trim_ows(value);
  fields += "\r\n";
  return *this;
}

void ResponseWriter::send(std::string body) {
  RouteAnswer answer = std::move(state_->answer);
  answer.body = std::move(body);
  complete(std::move(answer));
}

void ResponseWriter::send_file(SharedFile file, uint64_t offset, uint64_t length) {
  RouteAnswer answer = std::move(state_->answer);
  answer.file = std::move(file);
  answer.file_offset = offset;
  answer.file_length = length;
  complete(std::move(answer));
}

bool ResponseWriter::send_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) return false;
  RouteAnswer answer = std::move(state_->answer);
  answer.file = std::make_shared<const UniqueFd>(std::move(fd));
  answer.file_length = static_cast<uint64_t>(info.st_size);
  answer.file_name = path;
  complete(std::move(answer));
  return true;
}

bool ResponseWriter::completed() const {
  return state_->completed.load();
}

void ResponseWriter::complete(RouteAnswer answer) {
  if (state_->completed.exchange(true)) return;
  state_->deliver(std::move(answer));
}

void Router::add(std::string method, std::string path, bool prefix, RouteHandler handler) {
  if (path.empty() || path.front() != '/') {
    throw std::invalid_argument("a route path starts with '/': " + path);
  }
  if (!method.empty() && !is_token(method)) {
    throw std::invalid_argument("not a method name: " + method);
  }
  routes_.push_back(std::make_shared<const Route>(
      Route{std::move(method), std::move(path), prefix, std::move(handler)}));
}

Router::Match Router::find(std::string_view method, std::string_view path) const {
  Match match;
  const Route* best = nullptr;
  std::vector<std::string_view> allowed;
  for (const std::shared_ptr<const Route>& route : routes_) {
    const bool path_matches = route->prefix ? path.starts_with(route->path) : path == route->path;
    if (!path_matches) continue;
    const bool method_matches = route->method.empty() || route->method == method ||
                                (route->method == "GET" && method == "HEAD");
    if (!method_matches) {
      allowed.push_back(route->method);
      if (route->method == "GET") allowed.push_back("HEAD");
      continue;
    }
    // An exact route beats any prefix; a longer prefix beats a shorter one;
    // among equals the first registered wins.
    const bool better = best == nullptr || (!route->prefix && best->prefix) ||
                        (route->prefix && best->prefix && route->path.size() > best->path.size());
    if (better) {
      best = route.get();
      match.route = route;
    }
  }
  if (match.route == nullptr && !allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    for (std::string_view name : allowed) {
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += name;
    }
  }
  return match;
}

std::string_view route_reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return {};
  }
}

}  // namespace reactor::http
