// http_embed: the HTTP module's static file handler inside a program of
// your own, next to a route the program answers itself.
//
//   build/examples/http_embed 8080 examples/site
//   curl http://127.0.0.1:8080/              the site's index.html (static handler)
//   curl http://127.0.0.1:8080/api/status    {"requests": ..., "connections": ...} (ours)
//
// reactor-httpd is protocols/http's HttpServer, which serves a directory
// with keep-alive, pipelining, header timeouts and an access log. It has no
// hook for routes of your own, so this program assembles the same parts
// itself: the incremental RequestParser, analyze_request(), and the
// StaticFileHandler with its ServedTree and FileCache. To stay short it
// answers one request per connection ("Connection: close"); HttpSession in
// protocols/http/http_session.cc is the full version of on_input() below.
#include <any>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

#include "protocols/common/served_tree.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/http_date.h"
#include "protocols/http/mime_types.h"
#include "protocols/http/request.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/response_head.h"
#include "protocols/http/response_output.h"
#include "protocols/http/static_file_handler.h"
#include "reactor/event_loop.h"
#include "reactor/tcp_server.h"

namespace http = reactor::http;
namespace protocols = reactor::protocols;

namespace {

// What the static handler needs, built once and shared by all connections
// (everything here runs on the loop thread). The members refer to each
// other, so the object stays where it was made.
struct StaticSite {
  explicit StaticSite(const std::string& directory)
      : root(directory),
        types(http::MimeTypes::with_system_types()),
        cache(root, types, http::FileCache::Options{}),
        handler(root, cache, http::StaticFileHandler::Options{}) {}

  protocols::ServedTree root;  // never opens anything outside `directory`
  http::MimeTypes types;
  http::FileCache cache;  // keeps hot files open between requests
  http::StaticFileHandler handler;
  http::DateCache dates;  // the Date header, formatted once a second
};

// Our own route: a small JSON document about the server.
void answer_status(const http::ResponseContext& context, uint64_t requests, size_t connections,
                   http::ResponseOutput& out) {
  std::string body = "{\"requests\": " + std::to_string(requests) +
                     ", \"connections\": " + std::to_string(connections) + "}\n";
  std::string& head = out.bytes();
  http::append_response_start(head, http::Status::kOk, context);
  http::append_field(head, "Content-Type", "application/json");
  http::append_field(head, "Cache-Control", "no-store");
  http::append_content_length(head, body.size());
  head += "\r\n";
  if (!context.head_only) head += body;
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 3 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [PORT [DIRECTORY]]   (defaults: any free port, .)\n", argv[0]);
    return 2;
  }
  std::string directory = argc > 2 ? argv[2] : ".";

  try {
    reactor::EventLoop loop;
    StaticSite site(directory);  // throws if the directory cannot be opened
    uint64_t requests = 0;

    reactor::TcpServer::Options options;
    // There is no header timeout here (HttpServer has one): a client that
    // connects and sends nothing is closed after ten quiet seconds.
    options.idle_timeout = std::chrono::seconds(10);
    reactor::TcpServer server(&loop, reactor::SocketAddress::loopback_v4(port), options);

    // Each connection's state is its parser, kept in the connection's
    // context: it goes away with the connection, no map to maintain.
    server.set_connection_callback([](const reactor::ConnectionPtr& connection) {
      if (connection->connected()) connection->context() = http::RequestParser();
    });

    auto on_input = [&](const reactor::ConnectionPtr& connection, reactor::Buffer& input) {
      auto* parser = std::any_cast<http::RequestParser>(&connection->context());
      if (parser == nullptr) return;  // already answered; the rest is ignored
      // The parser remembers how far it got, so a head that arrives in many
      // pieces is examined once, not once per piece. It also bounds the
      // head's size (414/431), so `input` cannot grow without limit.
      http::RequestParser::Result result = parser->parse(input.view());
      if (result == http::RequestParser::Result::kNeedMore) return;

      http::ResponseOutput out;
      if (result == http::RequestParser::Result::kError) {
        http::ResponseContext context{1, false, false, site.dates.http_date()};
        http::StaticFileHandler::respond_error(parser->error(), context, out);
      } else {
        std::array<http::HeaderField, http::RequestParser::kMaxFields> fields;
        http::RequestHead head = parser->head(input.view(), fields);
        http::Request request;  // views into `input`: use before retrieving it
        const auto analyzed = http::analyze_request(head, request);
        http::ResponseContext context{request.version_minor, /*keep_alive=*/false,
                                      request.method == http::Method::kHead,
                                      site.dates.http_date()};
        ++requests;
        if (!analyzed) {
          http::StaticFileHandler::respond_error(analyzed.error(), context, out);  // 400, 405, 501
        } else if (request.path == "/api/status") {
          answer_status(context, requests, server.connection_count(), out);
        } else {
          site.handler.respond(request, context, loop.now(), out);
        }
      }
      // Headers and small bodies go out as bytes, file bodies with
      // sendfile(); the close waits until all of it is delivered.
      out.flush_to(*connection);
      connection->context().reset();
      input.retrieve_all();
      connection->close_after_flush();
    };
    server.set_message_callback(on_input);

    loop.on_signal(SIGINT, [&loop] { loop.stop(); });
    loop.on_signal(SIGTERM, [&loop] { loop.stop(); });

    server.start();
    std::printf("serving %s\n", site.root.real_path().c_str());
    std::printf("listening on %s\n", server.listen_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "http_embed: %s\n", error.what());
    return 1;
  }
  return 0;
}
