// Routes: request handlers an embedder registers on HttpServer, next to
// (or instead of) the static file handler.
//
//   server.route("GET", "/api/status", [](const RouteRequest& request, ResponseWriter response) {
//     response.header("Content-Type", "application/json").send("{\"ok\": true}\n");
//   });
//   server.route("POST", "/api/echo", [](const RouteRequest& request, ResponseWriter response) {
//     response.send(std::string(request.body));
//   });
//   server.route_prefix("GET", "/reports/", [&pool, &loop](const RouteRequest& request,
//                                                         ResponseWriter response) {
//     pool.submit([response, name = std::string(request.path)]() mutable {
//       response.send(build_report(name));  // from the worker: delivered on the loop
//     });
//   });
//
// A handler runs on the loop thread and must not block it. It answers
// through its ResponseWriter, at once or later: the writer is a cheap
// copyable handle that may be kept (in a timer, a thread-pool job) and
// completed afterwards. Until it is, later requests pipelined on the same
// connection wait, so answers always leave in request order. Completing a
// writer whose client has gone is harmless (the answer is dropped), and a
// writer whose last copy is destroyed without an answer answers 500, so a
// forgotten writer cannot hang a connection.
//
// Threading: route registration and RouteRequest: loop thread only.
// ResponseWriter: status()/header() from the one thread holding the writer
// at the time; send()/send_file() from any thread (from another thread the
// answer is posted to the loop, which must then still be running).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/http/request_parser.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"

namespace reactor::http {

// The request a route handler sees. Every view is valid only during the
// handler call: copy what an asynchronous answer needs.
struct RouteRequest {
  std::string_view method;  // as received: "GET", "POST"... ("HEAD" for HEAD)
  // Percent-decoded, dot segments resolved and clamped at "/", a trailing
  // slash kept: "/api/a b/" for "/api/x/../a%20b/".
  std::string_view path;
  std::string_view query;   // after '?', still percent-encoded; empty if none
  std::string_view target;  // the request target as received
  int version_minor = 1;    // HTTP/1.x
  std::span<const HeaderField> headers;
  // The whole body (Content-Length or chunked, decoded); at most
  // ServerOptions::max_body_size bytes.
  std::string_view body;
  const SocketAddress* peer = nullptr;

  // The first field named `name` (case-insensitive), or "" if none.
  std::string_view header(std::string_view name) const;
};

// What a route answered, as handed from the writer to the connection's
// session. Internal; public for the session.
struct RouteAnswer {
  int status = 200;
  std::string fields;  // "Name: value\r\n" lines
  bool has_content_type = false;
  bool internal_error = false;  // the writer was dropped unanswered, or the handler threw
  std::string body;
  SharedFile file;  // instead of `body` when set
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  std::string file_name;  // for the Content-Type when none was set
};

class ResponseWriter {
 public:
  // The status code, 200 by default. Throws std::invalid_argument outside
  // 200-599 (1xx would change the framing; the session sends 100 Continue
  // itself).
  ResponseWriter& status(int code);
  // Adds a field. Throws std::invalid_argument for a name that is not a
  // token or a value with CR, LF or other control characters (a header
  // injection). Content-Length, Transfer-Encoding, Connection, Date and
  // Server are the server's and are refused the same way.
  ResponseWriter& header(std::string_view name, std::string_view value);

  // Completes the response with `body` (Content-Length is set; HEAD
  // requests get the head only). Only the first completion counts.
  void send(std::string body = {});
  // Completes the response with `length` bytes of `file` from `offset`,
  // sent with sendfile(). The file must hold them: a file shorter than
  // promised ends the connection.
  void send_file(SharedFile file, uint64_t offset, uint64_t length);
  // Opens `path` (any path: it is not confined to the document root) and
  // sends it whole; without a Content-Type of yours, the one its extension
  // maps to. False, with nothing sent, when it is not a readable regular
  // file: answer something else then.
  bool send_file(const std::string& path);

  // True once send()/send_file() completed this response.
  bool completed() const;

 private:
  friend class HttpSession;
  struct State;
  explicit ResponseWriter(std::shared_ptr<State> state) : state_(std::move(state)) {}
  // The writer for request number `sequence` on `connection`.
  static ResponseWriter make(const ConnectionPtr& connection, uint64_t sequence);
  void complete(RouteAnswer answer);

  std::shared_ptr<State> state_;
};

using RouteHandler = std::function<void(const RouteRequest&, ResponseWriter)>;

struct Route {
  std::string method;  // "" for any method
  std::string path;
  bool prefix = false;
  RouteHandler handler;
};

// The registered routes, matched on the decoded path: an exact route
// first, then the longest matching prefix. A GET route answers HEAD too.
class Router {
 public:
  void add(std::string method, std::string path, bool prefix, RouteHandler handler);
  bool empty() const { return routes_.empty(); }

  struct Match {
    std::shared_ptr<const Route> route;  // null: no route for this method and path
    // When routes exist for the path but not for the method: the methods
    // that have one, for a 405's Allow field ("GET, HEAD, POST").
    std::string allow;
  };
  Match find(std::string_view method, std::string_view path) const;

 private:
  std::vector<std::shared_ptr<const Route>> routes_;
};

// The reason phrase sent with a route's status ("Created" for 201; "" for
// a code without a well-known one).
std::string_view route_reason_phrase(int status);

}  // namespace reactor::http
