// Integration tests: malformed, hostile and unusual clients on raw sockets.
// Every case checks its status, that the connection ends when it must, and
// that the server goes on serving others.
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "httpd_fixture.h"
#include "site_builder.h"
#include "tests/support/time_scale.h"

using namespace http_test;
using test_support::ClientSocket;

namespace {

struct Served {
  Served() : server(site.root()) {}
  TestSite site;
  Httpd server;
};

// The server still answers a normal request on a new connection.
void check_still_serving(int port, const std::string& small) {
  const HttpResponse response = exchange(port, get_request("/small.txt"));
  CHECK(response.status == 200);
  CHECK(response.body == small);
}

// Sends `request`, expects `status`, and (if `closes`) the connection's end.
void check_refused(Served& s, const std::string& request, int status, bool closes = true) {
  CAPTURE(request.substr(0, 200));
  ClientSocket socket(s.server.port());
  REQUIRE(socket.send_all(request));
  std::string leftover;
  const HttpResponse response = read_response(socket, leftover);
  CHECK(response.complete);
  CHECK(response.status == status);
  CHECK(response.field("content-type") == "text/html; charset=utf-8");
  if (closes) {
    CHECK(response.field("connection") == "close");
    CHECK(socket.closed_by_peer());
  }
  check_still_serving(s.server.port(), s.site.small);
}

}  // namespace

TEST_CASE("raw: malformed request lines are 400 and close the connection") {
  Served s;
  check_refused(s, "GET  /small.txt HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  check_refused(s, "GET /small.txt HTTP/1.1 \r\nHost: h\r\n\r\n", 400);
  check_refused(s, "GET /small.txt\r\n\r\n", 400);
  check_refused(s, "GET /small.txt HTTX/1.1\r\nHost: h\r\n\r\n", 400);
  check_refused(s, "G@T /small.txt HTTP/1.1\r\nHost: h\r\n\r\n", 400);
  check_refused(s, std::string("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  check_refused(s, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400);  // TLS hello
}

TEST_CASE("raw: invalid header fields are 400") {
  Served s;
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400);
  static constexpr char kWithNul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
  check_refused(s, std::string(kWithNul, sizeof kWithNul - 1), 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n", 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400);
}

TEST_CASE("raw: Host, Content-Length and Transfer-Encoding rules are 400") {
  Served s;
  check_refused(s, "GET / HTTP/1.1\r\n\r\n", 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400);
  check_refused(s,
                "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
                "\r\n0\r\n\r\n",
                400);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
}

TEST_CASE("raw: methods and versions") {
  Served s;
  check_refused(s, "BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n", 501);
  check_refused(s, "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505);
  check_refused(s, "GET / HTTP/0.9\r\n\r\n", 505);
  // 405 keeps the connection: the request was well framed.
  ClientSocket socket(s.server.port());
  REQUIRE(
      socket.send_all("DELETE /small.txt HTTP/1.1\r\nHost: h\r\n\r\n" + get_request("/small.txt")));
  std::string leftover;
  const HttpResponse refused = read_response(socket, leftover);
  CHECK(refused.status == 405);
  CHECK(refused.field("allow") == "GET, HEAD");
  const HttpResponse next = read_response(socket, leftover);
  CHECK(next.status == 200);
  CHECK(next.body == s.site.small);
}

TEST_CASE("raw: size limits give 414 and 431") {
  Served s;
  check_refused(s, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n", 414);
  check_refused(s, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(17000, 'b') + "\r\n\r\n",
                431);
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  check_refused(s, many + "\r\n", 431);
  // Just under the limits is fine.
  const HttpResponse ok =
      exchange(s.server.port(), get_request("/small.txt?" + std::string(8000, 'q'),
                                            "X-Big: " + std::string(16000, 'b') + "\r\n"));
  CHECK(ok.status == 200);
}

TEST_CASE("raw: path attacks never leave the root") {
  Served s;
  const char* attacks[] = {
      "/../secret.txt",       "/../../../../etc/passwd", "/%2e%2e/secret.txt",
      "/%2e%2e%2fsecret.txt", "/..%2F..%2Fsecret.txt",   "/dir/../../secret.txt",
      "/..\\secret.txt",      "/..%5csecret.txt",        "//secret.txt",
      "/link-outside.txt",    "/link-absolute.txt",      "/link-up-dir/secret.txt",
      "/link-up-dir/",        "http://h/../secret.txt",
  };
  for (const char* path : attacks) {
    CAPTURE(path);
    const HttpResponse response = exchange(s.server.port(), get_request(path));
    CHECK(response.complete);
    CHECK(response.status == 404);
    CHECK(response.body.find(kSecret) == std::string::npos);
  }
  CHECK(exchange(s.server.port(), get_request("/small.txt%00.html")).status == 400);
  CHECK(exchange(s.server.port(), get_request("/bad%zzescape")).status == 400);
  // /etc/passwd stays unreachable through an absolute-form target too.
  CHECK(exchange(s.server.port(), get_request("http://127.0.0.1/etc/passwd")).status == 404);
  check_still_serving(s.server.port(), s.site.small);
}

TEST_CASE("raw: pipelined requests are answered in order") {
  Served s;
  ClientSocket socket(s.server.port());
  const std::string batch = get_request("/small.txt") + get_request("/nope") +
                            get_request("/dir/nested.txt", "", "HEAD") +
                            get_request("/dir/nested.txt") + get_request("/empty.txt");
  REQUIRE(socket.send_all(batch));
  std::string leftover;
  const HttpResponse a = read_response(socket, leftover);
  const HttpResponse b = read_response(socket, leftover);
  const HttpResponse c = read_response(socket, leftover, true);
  const HttpResponse d = read_response(socket, leftover);
  const HttpResponse e = read_response(socket, leftover);
  CHECK(a.status == 200);
  CHECK(a.body == s.site.small);
  CHECK(b.status == 404);
  CHECK(c.status == 200);
  CHECK(c.field("content-length") == "7");
  CHECK(d.body == "nested\n");
  CHECK(e.status == 200);
  CHECK(e.body.empty());
  CHECK(leftover.empty());
}

TEST_CASE("raw: a request trickled one byte at a time is served") {
  Served s;
  ClientSocket socket(s.server.port());
  const std::string request = get_request("/dir/nested.txt", "User-Agent: slow\r\n");
  for (char c : request) REQUIRE(socket.send_all(std::string(1, c)));
  std::string leftover;
  const HttpResponse response = read_response(socket, leftover);
  CHECK(response.status == 200);
  CHECK(response.body == "nested\n");
}

TEST_CASE("raw: a request body is skipped, never read as the next request") {
  Served s;
  ClientSocket socket(s.server.port());
  // The body looks like a request for the secret; it must not be one.
  const std::string smuggled = "GET /link-outside.txt HTTP/1.1\r\nHost: h\r\n\r\n";
  REQUIRE(socket.send_all(
      get_request("/small.txt", "Content-Length: " + std::to_string(smuggled.size()) + "\r\n") +
      smuggled + get_request("/dir/nested.txt")));
  std::string leftover;
  const HttpResponse first = read_response(socket, leftover);
  const HttpResponse second = read_response(socket, leftover);
  CHECK(first.status == 200);
  CHECK(first.body == s.site.small);
  CHECK(second.status == 200);
  CHECK(second.body == "nested\n");
  // Nothing else arrives: there was no third request. A request sent after
  // the smuggled bytes is answered next (positive control: a response to a
  // third request would have been seen here, in order, on this connection).
  CHECK(leftover.empty());
  REQUIRE(socket.send_all(get_request("/small.txt", "X-Control: 1\r\n")));
  const HttpResponse control = read_response(socket, leftover);
  CHECK(control.status == 200);
  CHECK(control.body == s.site.small);
  CHECK(leftover.empty());
}

TEST_CASE("raw: a body sent in pieces, and a 405 with a body, keep the connection") {
  Served s;
  ClientSocket socket(s.server.port());
  REQUIRE(
      socket.send_all("POST /small.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234"));
  std::string leftover;
  const HttpResponse refused = read_response(socket, leftover);
  CHECK(refused.status == 405);
  CHECK(refused.field("connection").empty());
  REQUIRE(socket.send_all("56789" + get_request("/small.txt")));
  const HttpResponse next = read_response(socket, leftover);
  CHECK(next.status == 200);
  CHECK(next.body == s.site.small);
}

TEST_CASE("raw: a chunked body ends the connection after the response") {
  Served s;
  ClientSocket socket(s.server.port());
  REQUIRE(socket.send_all(get_request("/small.txt", "Transfer-Encoding: chunked\r\n") +
                          "5\r\nhello\r\n0\r\n\r\n" + get_request("/small.txt")));
  std::string leftover;
  const HttpResponse response = read_response(socket, leftover);
  CHECK(response.status == 200);
  CHECK(response.field("connection") == "close");
  CHECK(socket.closed_by_peer());
}

TEST_CASE("raw: persistence rules for 1.0 and 1.1") {
  Served s;
  {  // 1.0 without keep-alive: one response, then EOF.
    ClientSocket socket(s.server.port());
    REQUIRE(socket.send_all("GET /small.txt HTTP/1.0\r\n\r\n"));
    bool closed = false;
    const std::string all =
        socket.receive_until_close(test_support::scaled(std::chrono::seconds(5)), &closed);
    CHECK(all.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(all.ends_with(s.site.small));
    CHECK(closed);  // EOF, not a timeout with the connection still open
  }
  {  // 1.0 with keep-alive: kept.
    ClientSocket socket(s.server.port());
    const std::string request = "GET /small.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    REQUIRE(socket.send_all(request + request));
    std::string leftover;
    const HttpResponse first = read_response(socket, leftover);
    CHECK(first.field("connection") == "keep-alive");
    CHECK(read_response(socket, leftover).status == 200);
  }
  {  // 1.1 with Connection: close.
    ClientSocket socket(s.server.port());
    REQUIRE(socket.send_all(get_request("/small.txt", "Connection: close\r\n")));
    std::string leftover;
    const HttpResponse response = read_response(socket, leftover);
    CHECK(response.field("connection") == "close");
    CHECK(socket.closed_by_peer());
  }
}

TEST_CASE("raw: empty lines before a request are ignored; absolute-form works") {
  Served s;
  const HttpResponse response =
      exchange(s.server.port(),
               "\r\n\r\nGET http://example.com/small.txt HTTP/1.1\r\nHost: example.com\r\n\r\n");
  CHECK(response.status == 200);
  CHECK(response.body == s.site.small);
}

TEST_CASE("raw: one connection's failure does not disturb another's download") {
  Served s;
  ClientSocket downloader(s.server.port());
  REQUIRE(downloader.send_all(get_request("/large.bin")));
  const std::string start = downloader.receive_some();
  CHECK(start.starts_with("HTTP/1.1 200 OK"));
  // Meanwhile: garbage, a reset mid-request, a reset mid-response.
  {
    ClientSocket garbage(s.server.port());
    garbage.send_all("\x01\x02\x03 not http at all\r\n\r\n");
    CHECK(garbage.closed_by_peer());
  }
  {
    ClientSocket half(s.server.port());
    half.send_all("GET /small.txt HTTP/1.1\r\nHo");
    half.reset();
  }
  {
    ClientSocket quitter(s.server.port());
    quitter.set_receive_buffer(4096);
    quitter.send_all(get_request("/large.bin"));
    quitter.receive_some();
    quitter.reset();
  }
  std::string rest = start;
  const size_t head_end = rest.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  std::string body = rest.substr(head_end + 4);
  body += downloader.receive_exactly(s.site.large.size() - body.size());
  CHECK(body.size() == s.site.large.size());
  CHECK(body == s.site.large);
  check_still_serving(s.server.port(), s.site.small);
}

TEST_CASE("raw: IPv6 loopback") {
  TestSite site;
  Httpd server(site.root(), {"--bind", "::1"});
  ClientSocket socket(server.port(), true);
  REQUIRE(socket.send_all(get_request("/small.txt")));
  std::string leftover;
  const HttpResponse response = read_response(socket, leftover);
  CHECK(response.status == 200);
  CHECK(response.body == site.small);
}

// A client that sends its request in pieces and half-closes right after the
// last one (`nc -N`, scripts) must get its answer every time: the FIN can
// arrive with the last bytes, and closing on it before handing the batched
// response over loses the answer. Repeated, because it is a race.
TEST_CASE("raw: a request split in pieces, then a half-close, is answered every time") {
  Served s;
  const std::string request = get_request("/small.txt");
  const size_t split = request.size() - 2;  // the final CRLF comes last
  constexpr int kRounds = 60;
  int answered = 0;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    ClientSocket socket(s.server.port());
    if (round % 3 == 2) {
      // One byte at a time, the hardest case.
      for (char c : request) REQUIRE(socket.send_all(std::string(1, c)));
    } else {
      REQUIRE(socket.send_all(request.substr(0, split)));
      if (round % 3 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      REQUIRE(socket.send_all(request.substr(split)));
    }
    socket.shutdown_write();
    std::string leftover;
    const HttpResponse response = read_response(socket, leftover);
    if (response.complete && response.status == 200 && response.body == s.site.small) ++answered;
    // And then the server closes its side too.
    CHECK(socket.closed_by_peer());
  }
  CHECK(answered == kRounds);
}

TEST_CASE("raw: symlinks are served only while every hop stays inside the root") {
  TempTree tree;
  tree.write_file("site/small.txt", "small\n");
  tree.write_file("site/dir/inner.txt", "inner\n");
  tree.write_file("secret.txt", kSecret);
  // Absolute links that point inside the root: served, like relative ones.
  tree.make_symlink("site/absolute-file.txt", tree / "site/small.txt");
  tree.make_symlink("site/absolute-dir", tree / "site/dir");
  // nested/up leads to the root's parent; from there "site" is the root
  // again, but the walk left the root on the way: refused.
  tree.make_directory("site/nested");
  tree.make_symlink("site/nested/up", "../..");
  Httpd server(tree / "site");

  HttpResponse file = exchange(server.port(), get_request("/absolute-file.txt"));
  CHECK(file.status == 200);
  CHECK(file.body == "small\n");
  HttpResponse inner = exchange(server.port(), get_request("/absolute-dir/inner.txt"));
  CHECK(inner.status == 200);
  CHECK(inner.body == "inner\n");
  const HttpResponse listing = exchange(server.port(), get_request("/"));
  CHECK(listing.status == 200);
  CHECK(listing.body.find("absolute-file.txt") != std::string::npos);
  CHECK(listing.body.find("absolute-dir/") != std::string::npos);

  for (const char* path : {"/nested/up/site/small.txt", "/nested/up/secret.txt", "/nested/up/"}) {
    CAPTURE(path);
    const HttpResponse refused = exchange(server.port(), get_request(path));
    CHECK(refused.complete);
    CHECK((refused.status == 404 || refused.status == 403));
    CHECK(refused.body.find(kSecret) == std::string::npos);
  }
  const HttpResponse nested = exchange(server.port(), get_request("/nested/"));
  CHECK(nested.status == 200);
  CHECK(nested.body.find("up/") == std::string::npos);
}

TEST_CASE("raw: a body over the discard limit is not read; the response closes the connection") {
  Served s;
  ClientSocket socket(s.server.port());
  // 2 MiB announced (the limit is 1 MiB); the server answers at once.
  REQUIRE(socket.send_all(get_request("/small.txt", "Content-Length: 2097152\r\n") +
                          std::string(1000, 'b')));
  std::string leftover;
  const HttpResponse response = read_response(socket, leftover);
  CHECK(response.status == 200);
  CHECK(response.body == s.site.small);
  CHECK(response.field("connection") == "close");
  CHECK(socket.closed_by_peer(test_support::scaled(std::chrono::seconds(5))));
  // Control: a body within the limit keeps the connection.
  ClientSocket kept(s.server.port());
  REQUIRE(kept.send_all(get_request("/small.txt", "Content-Length: 1000\r\n") +
                        std::string(1000, 'b') + get_request("/small.txt")));
  std::string kept_leftover;
  CHECK(read_response(kept, kept_leftover).field("connection").empty());
  CHECK(read_response(kept, kept_leftover).status == 200);
}

TEST_CASE("raw: Expect: 100-continue gets the final response, no 100, and the connection ends") {
  Served s;
  ClientSocket socket(s.server.port());
  REQUIRE(
      socket.send_all(get_request("/small.txt", "Expect: 100-continue\r\nContent-Length: 10\r\n")));
  bool closed = false;
  const std::string all =
      socket.receive_until_close(test_support::scaled(std::chrono::seconds(5)), &closed);
  CHECK(all.starts_with("HTTP/1.1 200 OK\r\n"));  // not "HTTP/1.1 100 Continue"
  CHECK(all.find("Connection: close\r\n") != std::string::npos);
  CHECK(all.ends_with(s.site.small));
  CHECK(closed);
}

TEST_CASE("raw: a body that stops arriving is cut off after --header-timeout") {
  // The request was complete and answered; only its body is being skipped.
  // (http_session.h says "408, then close"; the code closes without a 408
  // after a response already sent: reported, not decided here.)
  TestSite site;
  Httpd server(site.root(), {"--header-timeout", "1", "--idle-timeout", "30"});
  ClientSocket socket(server.port());
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(socket.send_all(get_request("/small.txt", "Content-Length: 100\r\n") + "only ten.."));
  std::string leftover;
  const HttpResponse answered = read_response(socket, leftover);
  CHECK(answered.status == 200);  // the request itself was complete
  CHECK(socket.closed_by_peer(test_support::scaled(std::chrono::seconds(5))));
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(900));
  // Control: with the body complete, the connection stays for the next.
  ClientSocket complete(server.port());
  REQUIRE(complete.send_all(get_request("/small.txt", "Content-Length: 10\r\n") + "all ten..." +
                            get_request("/small.txt")));
  std::string complete_leftover;
  CHECK(read_response(complete, complete_leftover).status == 200);
  CHECK(read_response(complete, complete_leftover).status == 200);
}

// reactor-fileserver keeps its unfinished uploads in ROOT/.rftp-uploads;
// an httpd serving the same tree must not publish them.
TEST_CASE("raw: the file server's upload area is never served or listed, even through a link") {
  TempTree tree;
  tree.write_file("site/small.txt", "small\n");
  tree.write_file("site/.rftp-uploads/0123.part", kSecret);
  tree.make_symlink("site/uploads-link", ".rftp-uploads");
  tree.make_symlink("site/uploads-absolute", tree / "site/.rftp-uploads");
  Httpd server(tree / "site");
  for (const char* path : {"/.rftp-uploads/0123.part", "/.rftp-uploads/", "/uploads-link/0123.part",
                           "/uploads-absolute/0123.part", "/%2erftp-uploads/0123.part"}) {
    CAPTURE(path);
    const HttpResponse refused = exchange(server.port(), get_request(path));
    CHECK(refused.complete);
    CHECK((refused.status == 404 || refused.status == 403));
    CHECK(refused.body.find(kSecret) == std::string::npos);
  }
  const HttpResponse listing = exchange(server.port(), get_request("/"));
  CHECK(listing.status == 200);
  CHECK(listing.body.find("small.txt") != std::string::npos);  // control
  CHECK(listing.body.find(".rftp-uploads") == std::string::npos);
}
