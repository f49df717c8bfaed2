// The route API of HttpServer (protocols/http/router.h), driven by real
// clients -- raw sockets and curl -- against a server running in this
// process on a loop thread of its own, with routes the tests define:
// synchronous and asynchronous answers (a timer, a thread-pool job),
// request bodies (Content-Length, chunked, 100-continue, over the limit),
// HEAD, pipelining order next to static files, and answers that arrive
// after their client has gone.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "protocols/http/http_server.h"
#include "reactor/event_loop.h"
#include "reactor/thread_pool.h"
#include "tests/http/httpd_fixture.h"
#include "tests/http/temp_tree.h"
#include "tests/support/net.h"
#include "tests/support/time_scale.h"
#include "tests/support/wait.h"

using namespace std::chrono_literals;
using http_test::HttpResponse;
using http_test::read_response;
using reactor::http::HttpServer;
using reactor::http::ResponseWriter;
using reactor::http::RouteRequest;
using reactor::http::ServerOptions;
using test_support::ClientSocket;
using test_support::scaled;

namespace {

// An HttpServer on a loop thread of its own; `setup` registers routes on
// that thread before the server starts.
class RouteServer {
 public:
  using Setup = std::function<void(reactor::EventLoop&, HttpServer&)>;

  RouteServer(ServerOptions options, Setup setup) {
    std::promise<int> port;
    std::future<int> started = port.get_future();
    thread_ = std::thread(
        [this, options = std::move(options), setup = std::move(setup), &port]() mutable {
          try {
            reactor::EventLoop loop;
            options.address = reactor::SocketAddress::loopback_v4(0);
            HttpServer server(&loop, options);
            setup(loop, server);
            server.start();
            loop_ = &loop;
            port.set_value(server.listen_address().port());
            loop.run();
          } catch (...) {
            port.set_exception(std::current_exception());
          }
        });
    try {
      port_ = started.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~RouteServer() {
    loop_.load()->stop();
    thread_.join();
  }
  RouteServer(const RouteServer&) = delete;
  RouteServer& operator=(const RouteServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  std::thread thread_;
  std::atomic<reactor::EventLoop*> loop_{nullptr};
  int port_ = 0;
};

std::string request(const std::string& method, const std::string& target,
                    const std::string& extra = "", const std::string& body = "") {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra;
  if (!body.empty()) text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return text + "\r\n" + body;
}

// What the test routes share with the test thread.
struct Counters {
  std::atomic<int> late_answers{0};  // asynchronous answers given (client there or not)
  std::atomic<int> pool_answers{0};
};

// The routes most tests use, beside the static files of `site`.
void install_routes(reactor::EventLoop& loop, HttpServer& server, reactor::ThreadPool* pool,
                    Counters* counters) {
  server.route("GET", "/hello", [](const RouteRequest&, ResponseWriter response) {
    response.header("Content-Type", "text/plain").send("hello\n");
  });
  server.route("GET", "/json", [](const RouteRequest& request, ResponseWriter response) {
    response.header("Content-Type", "application/json")
        .send("{\"path\": \"" + std::string(request.path) + "\", \"query\": \"" +
              std::string(request.query) + "\"}\n");
  });
  server.route("POST", "/echo", [](const RouteRequest& request, ResponseWriter response) {
    response.status(201)
        .header("Content-Type", std::string(request.header("content-type")))
        .header("X-Body-Length", std::to_string(request.body.size()))
        .send(std::string(request.body));
  });
  // Answers after `ms` milliseconds from a timer: asynchronous.
  server.route(
      "GET", "/slow", [&loop, counters](const RouteRequest& request, ResponseWriter response) {
        const int ms = request.query.starts_with("ms=")
                           ? std::stoi(std::string(request.query.substr(3)))
                           : 100;
        loop.run_after(std::chrono::milliseconds(ms), [response, ms, counters]() mutable {
          response.header("Content-Type", "text/plain").send("slow " + std::to_string(ms) + "\n");
          counters->late_answers.fetch_add(1);
        });
      });
  // Answers from a worker thread (send() posts to the loop).
  server.route("GET", "/pool", [pool, counters](const RouteRequest&, ResponseWriter response) {
    pool->submit([response, counters]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      response.send("from the pool\n");
      counters->pool_answers.fetch_add(1);
    });
  });
  server.route("GET", "/forget", [](const RouteRequest&, ResponseWriter) {});
  server.route("GET", "/throw", [](const RouteRequest&, ResponseWriter) {
    throw std::runtime_error("handler failure");
  });
  server.route("GET", "/bad-header", [](const RouteRequest&, ResponseWriter response) {
    response.header("X-Injected", "a\r\nSet-Cookie: b").send("never");
  });
  server.route_prefix("GET", "/api/", [](const RouteRequest& request, ResponseWriter response) {
    response.send("prefix " + std::string(request.path) + "\n");
  });
  server.route("GET", "/api/exact",
               [](const RouteRequest&, ResponseWriter response) { response.send("exact\n"); });
  server.route("DELETE", "/api/exact",
               [](const RouteRequest&, ResponseWriter response) { response.status(204).send(); });
}

ServerOptions options_for(const http_test::TempTree& site) {
  ServerOptions options;
  options.document_root = site.path();
  options.header_timeout = std::chrono::milliseconds(2000);
  return options;
}

// A site plus the test routes on a running server.
struct Fixture {
  Fixture(std::function<void(ServerOptions&)> adjust = {}) {
    site.write_file("static.txt", "a static file\n");
    site.write_file("big.bin", std::string(200 * 1024, 'b'));
    ServerOptions options = options_for(site);
    if (adjust) adjust(options);
    server =
        std::make_unique<RouteServer>(options, [this](reactor::EventLoop& loop, HttpServer& http) {
          install_routes(loop, http, &pool, &counters);
        });
  }
  http_test::TempTree site;
  Counters counters;
  reactor::ThreadPool pool{1};
  std::unique_ptr<RouteServer> server;
};

std::string chunked(const std::vector<std::string>& pieces, const std::string& trailer = "") {
  std::string out;
  char size[32];
  for (const std::string& piece : pieces) {
    std::snprintf(size, sizeof size, "%zx", piece.size());
    out += size;
    out += "\r\n" + piece + "\r\n";
  }
  return out + "0\r\n" + trailer + "\r\n";
}

}  // namespace

TEST_CASE("routes: an async answer holds back the pipelined static file and route behind it") {
  Fixture fixture;
  ClientSocket client(fixture.server->port());
  // One write: an answer that comes 150 ms later, then a static file, a
  // synchronous route, a HEAD on it, a POST with a body, a large file.
  REQUIRE(client.send_all(request("GET", "/slow?ms=150") + request("GET", "/static.txt") +
                          request("GET", "/hello") + request("HEAD", "/hello") +
                          request("POST", "/echo", "Content-Type: text/x-test\r\n", "body!") +
                          request("GET", "/big.bin")));
  std::string leftover;
  const HttpResponse slow = read_response(client, leftover);
  CHECK(slow.status == 200);
  CHECK(slow.body == "slow 150\n");
  const HttpResponse file = read_response(client, leftover);
  CHECK(file.status == 200);
  CHECK(file.body == "a static file\n");
  const HttpResponse hello = read_response(client, leftover);
  CHECK(hello.body == "hello\n");
  CHECK(hello.field("content-type") == "text/plain");
  const HttpResponse head = read_response(client, leftover, true);
  CHECK(head.status == 200);
  CHECK(head.field("content-length") == "6");
  const HttpResponse echo = read_response(client, leftover);
  CHECK(echo.status == 201);
  CHECK(echo.status_line == "HTTP/1.1 201 Created");
  CHECK(echo.body == "body!");
  CHECK(echo.field("x-body-length") == "5");
  CHECK(echo.field("content-type") == "text/x-test");
  const HttpResponse big = read_response(client, leftover);
  CHECK(big.body.size() == 200 * 1024);
  // Nothing more came (a HEAD with a body would have shifted everything),
  // and the connection is still open for more.
  CHECK(leftover.empty());
  REQUIRE(client.send_all(request("GET", "/pool")));
  const HttpResponse pooled = read_response(client, leftover);
  CHECK(pooled.body == "from the pool\n");
  CHECK(!pooled.has("connection"));
}

TEST_CASE("routes: HEAD gets the head and length without the body, with curl too") {
  Fixture fixture;
  int status = -1;
  const std::string head = http_test::curl({"-I", fixture.server->url("/json?x=1")}, &status);
  CHECK(status == 0);
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(head.find("Content-Type: application/json\r\n") != std::string::npos);
  const std::string body = http_test::curl({fixture.server->url("/json?x=1")}, &status);
  CHECK(body == "{\"path\": \"/json\", \"query\": \"x=1\"}\n");
  CHECK(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
  // The server sent no body: the next response on the connection parses.
  ClientSocket client(fixture.server->port());
  REQUIRE(client.send_all(request("HEAD", "/slow?ms=20") + request("GET", "/hello")));
  std::string leftover;
  const HttpResponse slow = read_response(client, leftover, true);
  CHECK(slow.field("content-length") == "8");
  CHECK(read_response(client, leftover).body == "hello\n");
}

TEST_CASE("routes: exact beats prefix, paths are decoded, other methods get 405 with Allow") {
  Fixture fixture;
  CHECK(http_test::exchange(fixture.server->port(), request("GET", "/api/exact")).body ==
        "exact\n");
  CHECK(http_test::exchange(fixture.server->port(), request("GET", "/api/a%20b/../c")).body ==
        "prefix /api/c\n");
  const HttpResponse removed =
      http_test::exchange(fixture.server->port(), request("DELETE", "/api/exact"));
  CHECK(removed.status == 204);
  CHECK(!removed.has("content-length"));
  const HttpResponse refused =
      http_test::exchange(fixture.server->port(), request("PUT", "/api/exact"));
  CHECK(refused.status == 405);
  CHECK(refused.field("allow") == "DELETE, GET, HEAD");
  // No route: the static handler, which refuses a POST as before.
  CHECK(
      http_test::exchange(fixture.server->port(), request("POST", "/static.txt", "", "x")).status ==
      405);
}

TEST_CASE("routes: chunked POSTs are decoded and echoed, by curl and split on a raw socket") {
  Fixture fixture;
  http_test::TempTree upload;
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += "line " + std::to_string(i) + "\n";
  upload.write_file("payload.txt", payload);
  int status = -1;
  const std::string echoed = http_test::curl(
      {"-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain", "--data-binary",
       "@" + (upload / "payload.txt"), fixture.server->url("/echo")},
      &status);
  CHECK(status == 0);
  CHECK(echoed.size() == payload.size());
  CHECK(echoed == payload);

  // Extensions and trailers are skipped; the stream, sent a few bytes at a
  // time, stays in step: the request behind it is answered on the same
  // connection.
  ClientSocket client(fixture.server->port());
  const std::string with_extension =
      request("POST", "/echo", "Transfer-Encoding: chunked\r\n") +
      "7\r\nHello, \r\n7;name=value\r\nchunked\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n";
  for (size_t at = 0; at < with_extension.size(); at += 7) {
    REQUIRE(client.send_all(with_extension.substr(at, 7)));
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(client.send_all(request("GET", "/hello")));
  std::string leftover;
  const HttpResponse echo = read_response(client, leftover);
  CHECK(echo.status == 201);
  CHECK(echo.body == "Hello, chunked world");
  CHECK(read_response(client, leftover).body == "hello\n");

  // A malformed chunk size is a 400, and the connection ends.
  ClientSocket broken(fixture.server->port());
  REQUIRE(broken.send_all(request("POST", "/echo", "Transfer-Encoding: chunked\r\n") +
                          "zz\r\nxx\r\n0\r\n\r\n"));
  leftover.clear();
  CHECK(read_response(broken, leftover).status == 400);
  CHECK(broken.closed_by_peer(scaled(5s)));
}

TEST_CASE("routes: a 10 MiB POST over the limit gets 413, then a clean close; the server goes on") {
  Fixture fixture;  // max_body_size: 1 MiB by default
  const std::string body(10 * 1024 * 1024, 'x');
  {
    ClientSocket client(fixture.server->port());
    bool sent = false;
    std::thread sender([&] { sent = client.send_all(request("POST", "/echo", "", body)); });
    std::string leftover;
    const HttpResponse refused = read_response(client, leftover);
    sender.join();
    CHECK(sent);
    CHECK(refused.status == 413);
    CHECK(refused.field("connection") == "close");
    CHECK(refused.body.find("<h1>413 Content Too Large</h1>") != std::string::npos);
    // A FIN after the answer (the server read the rest of the body
    // instead of resetting the connection under it).
    bool closed = false;
    client.receive_until_close(scaled(5s), &closed);
    CHECK(closed);
  }
  // curl announces the body with Expect: 100-continue and gets the 413
  // without sending it.
  http_test::TempTree upload;
  upload.write_file("big", body);
  int status = -1;
  const std::string code =
      http_test::curl({"-o", "/dev/null", "-w", "%{http_code}", "--data-binary",
                       "@" + (upload / "big"), fixture.server->url("/echo")},
                      &status);
  CHECK(code == "413");
  // A body at the limit is taken whole.
  const std::string at_limit(1024 * 1024, 'y');
  ClientSocket client(fixture.server->port());
  REQUIRE(client.send_all(request("POST", "/echo", "", at_limit)));
  std::string leftover;
  const HttpResponse echo = read_response(client, leftover);
  CHECK(echo.status == 201);
  CHECK(echo.body == at_limit);
}

TEST_CASE("routes: a small body over the limit is skipped and the connection kept") {
  Fixture fixture([](ServerOptions& options) { options.max_body_size = 1000; });
  ClientSocket client(fixture.server->port());
  REQUIRE(client.send_all(request("POST", "/echo", "", std::string(5000, 'z')) +
                          request("POST", "/echo", "", "fits")));
  std::string leftover;
  const HttpResponse refused = read_response(client, leftover);
  CHECK(refused.status == 413);
  CHECK(!refused.has("connection"));
  CHECK(read_response(client, leftover).body == "fits");
  // Chunked: the limit applies to the decoded size; the stream is then
  // unknown, so the connection ends after the 413.
  ClientSocket chunky(fixture.server->port());
  REQUIRE(chunky.send_all(request("POST", "/echo", "Transfer-Encoding: chunked\r\n") +
                          chunked({std::string(600, 'a'), std::string(600, 'b')})));
  leftover.clear();
  CHECK(read_response(chunky, leftover).status == 413);
  CHECK(chunky.closed_by_peer(scaled(5s)));
}

TEST_CASE("routes: Expect: 100-continue gets 100 first, then the answer") {
  Fixture fixture;
  ClientSocket client(fixture.server->port());
  REQUIRE(
      client.send_all(request("POST", "/echo", "Expect: 100-continue\r\nContent-Length: 6\r\n")));
  std::string leftover;
  const HttpResponse go_on = read_response(client, leftover);
  CHECK(go_on.status_line == "HTTP/1.1 100 Continue");
  REQUIRE(client.send_all("abcdef"));
  CHECK(read_response(client, leftover).body == "abcdef");
}

TEST_CASE("routes: an async answer after the client closed does no harm") {
  Fixture fixture;
  {
    ClientSocket client(fixture.server->port());
    REQUIRE(client.send_all(request("GET", "/slow?ms=100") + request("GET", "/static.txt")));
  }  // closed before the answer
  {
    ClientSocket client(fixture.server->port());
    REQUIRE(client.send_all(request("GET", "/pool")));
    client.reset();  // RST
  }
  CHECK(test_support::wait_until([&] { return fixture.counters.late_answers.load() == 1; }));
  CHECK(test_support::wait_until([&] { return fixture.counters.pool_answers.load() == 1; }));
  // The server is unharmed.
  CHECK(http_test::exchange(fixture.server->port(), request("GET", "/hello")).body == "hello\n");
}

TEST_CASE("routes: a dropped writer or a throwing handler is a 500, and the connection goes on") {
  Fixture fixture;
  ClientSocket client(fixture.server->port());
  REQUIRE(client.send_all(request("GET", "/forget") + request("GET", "/throw") +
                          request("GET", "/bad-header") + request("GET", "/hello")));
  std::string leftover;
  CHECK(read_response(client, leftover).status == 500);
  CHECK(read_response(client, leftover).status == 500);
  const HttpResponse injected = read_response(client, leftover);
  CHECK(injected.status == 500);
  CHECK(!injected.has("set-cookie"));
  CHECK(read_response(client, leftover).body == "hello\n");
}

TEST_CASE("routes: a body that never comes or stops arriving gets 408 after the header timeout") {
  Fixture fixture([](ServerOptions& options) { options.header_timeout = 300ms; });
  for (const std::string& sent : {std::string(), std::string("12345")}) {
    CAPTURE(sent);
    ClientSocket client(fixture.server->port());
    REQUIRE(client.send_all(request("POST", "/echo", "Content-Length: 10\r\n") + sent));
    std::string leftover;
    const HttpResponse timed_out = read_response(client, leftover, false, scaled(5s));
    CHECK(timed_out.status == 408);
    CHECK(client.closed_by_peer(scaled(5s)));
  }
}

TEST_CASE("routes: the server name is configurable, or left out; the static fallback can be off") {
  Fixture named([](ServerOptions& options) { options.server_name = "my-app/1.0"; });
  const HttpResponse missing =
      http_test::exchange(named.server->port(), request("GET", "/missing"));
  CHECK(missing.status == 404);
  CHECK(missing.field("server") == "my-app/1.0");
  CHECK(missing.body.find("<p>my-app/1.0</p>") != std::string::npos);
  CHECK(missing.body.find("reactor-httpd") == std::string::npos);
  CHECK(http_test::exchange(named.server->port(), request("GET", "/hello")).field("server") ==
        "my-app/1.0");

  Fixture anonymous([](ServerOptions& options) { options.server_name.clear(); });
  const HttpResponse plain =
      http_test::exchange(anonymous.server->port(), request("GET", "/missing"));
  CHECK(plain.status == 404);
  CHECK(!plain.has("server"));
  CHECK(plain.body.find("<hr>") == std::string::npos);

  http_test::TempTree site;
  site.write_file("static.txt", "a static file\n");
  RouteServer routes_only(options_for(site), [](reactor::EventLoop&, HttpServer& server) {
    server.route("GET", "/hello",
                 [](const RouteRequest&, ResponseWriter response) { response.send("hello\n"); });
    server.set_static_fallback(false);
  });
  CHECK(http_test::exchange(routes_only.port(), request("GET", "/static.txt")).status == 404);
  CHECK(http_test::exchange(routes_only.port(), request("GET", "/hello")).body == "hello\n");
}

TEST_CASE("routes: the access log records route answers, async ones included, in order") {
  http_test::TempTree logs;
  const std::string log_path = logs / "access.log";
  {
    Fixture fixture([&](ServerOptions& options) { options.access_log = log_path; });
    ClientSocket client(fixture.server->port());
    REQUIRE(client.send_all(request("GET", "/slow?ms=50") + request("POST", "/echo", "", "12345")));
    std::string leftover;
    CHECK(read_response(client, leftover).status == 200);
    CHECK(read_response(client, leftover).status == 201);
  }  // the server flushes its log when it is destroyed
  const std::string log = http_test::read_file(log_path);
  INFO(log);
  const size_t slow = log.find("\"GET /slow?ms=50 HTTP/1.1\" 200 8 ");
  const size_t echo = log.find("\"POST /echo HTTP/1.1\" 201 5 ");
  CHECK(slow != std::string::npos);
  CHECK(echo != std::string::npos);
  CHECK(slow < echo);
}
