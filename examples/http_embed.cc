// http_embed: the HTTP module inside a program of your own -- routes the
// program answers itself, next to the static files of a directory.
//
//   build/examples/http_embed 8080 examples/site
//   curl http://127.0.0.1:8080/                           the site's index.html (static files)
//   curl http://127.0.0.1:8080/api/status                 {"requests": ..., "connections": ...}
//   curl --data-binary 'hi there' http://127.0.0.1:8080/api/echo     hi there
//   curl 'http://127.0.0.1:8080/api/sum?n=1000000'        500000500000, computed on a worker
//
// Everything HttpServer gives reactor-httpd holds for the routes as well:
// keep-alive, pipelining (answers leave in request order even when a route
// answers later), the header timeout, HEAD, the limits on heads and bodies
// (a POST body above 1 MiB gets 413), and graceful shutdown on SIGTERM.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>

#include "protocols/http/http_server.h"
#include "reactor/event_loop.h"
#include "reactor/thread_pool.h"

namespace http = reactor::http;

namespace {

// "n=1000" -> 1000; 0 when absent or not a number.
uint64_t query_number(std::string_view query, std::string_view name) {
  const std::string key = std::string(name) + "=";
  const size_t at = query.find(key);
  if (at != 0 && (at == std::string_view::npos || query[at - 1] != '&')) return 0;
  return std::strtoull(std::string(query.substr(at + key.size())).c_str(), nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 0;
  if (argc > 3 || port < 0 || port > 65535) {
    std::fprintf(stderr, "usage: %s [PORT [DIRECTORY]]   (defaults: any free port, .)\n", argv[0]);
    return 2;
  }

  try {
    reactor::EventLoop loop;
    http::ServerOptions options;
    options.address = reactor::SocketAddress::loopback_v4(port);
    options.document_root = argc > 2 ? argv[2] : ".";
    options.server_name = "http_embed";  // in the Server field and on error pages
    options.max_body_size = 1024 * 1024;
    http::HttpServer server(&loop, options);  // binds; throws if it cannot
    uint64_t api_requests = 0;                // loop thread only, like every handler

    // SIGTERM: stop accepting, let open exchanges finish (at most 5 s),
    // then leave the loop. Signals are set up before any thread starts,
    // so the workers below inherit them blocked.
    auto shut_down = [&] {
      loop.run_after(std::chrono::seconds(5), [&loop] { loop.stop(); });
      server.drain([&loop] { loop.stop(); });
    };
    loop.on_signal(SIGINT, shut_down);
    loop.on_signal(SIGTERM, shut_down);
    // Work too slow for the loop thread goes here. Destroyed before the
    // loop, after finishing its jobs: their answers are posted to the loop.
    reactor::ThreadPool workers(2);

    // A JSON document about the server. Handlers run on the loop thread and
    // answer through their ResponseWriter.
    server.route("GET", "/api/status", [&](const http::RouteRequest&, http::ResponseWriter out) {
      ++api_requests;
      out.header("Content-Type", "application/json")
          .header("Cache-Control", "no-store")
          .send("{\"requests\": " + std::to_string(api_requests) +
                ", \"connections\": " + std::to_string(server.connection_count()) + "}\n");
    });

    // The request body comes whole (Content-Length or chunked), bounded by
    // max_body_size; the views in the request live as long as the call.
    server.route("POST", "/api/echo",
                 [&](const http::RouteRequest& request, http::ResponseWriter out) {
                   ++api_requests;
                   const std::string_view type = request.header("Content-Type");
                   out.header("Content-Type", type.empty() ? "application/octet-stream" : type)
                       .send(std::string(request.body));
                 });

    // An answer computed elsewhere: the writer is a copyable handle; the
    // worker completes it and the answer is delivered on the loop thread.
    // Requests pipelined behind this one wait for it, and if the client
    // hangs up meanwhile, the late answer is simply dropped.
    server.route("GET", "/api/sum",
                 [&](const http::RouteRequest& request, http::ResponseWriter out) {
                   ++api_requests;
                   const uint64_t n = query_number(request.query, "n");
                   workers.submit([out, n]() mutable {
                     uint64_t sum = 0;
                     for (uint64_t i = 1; i <= n; ++i) sum += i;
                     out.header("Content-Type", "text/plain").send(std::to_string(sum) + "\n");
                   });
                 });
    // Everything else: the files under the directory (the static handler
    // is the fallback; server.set_static_fallback(false) turns it off).

    server.start();
    std::printf("serving %s\n", options.document_root.c_str());
    std::printf("listening on %s\n", server.listen_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
  } catch (const std::system_error& error) {
    std::fprintf(stderr, "http_embed: %s\n", error.what());
    return 1;
  }
  return 0;
}
