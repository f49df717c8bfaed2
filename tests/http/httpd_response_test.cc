// Integration tests for what shapes a response beyond the file itself
// (issue 12): timeouts counted from the connect, a cache that never pairs
// one version's head with another's bytes, precompressed siblings, added
// headers, the SPA fallback, Basic auth, dotfiles. The real reactor-httpd,
// real clients (raw sockets, curl).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "httpd_fixture.h"
#include "site_builder.h"
#include "temp_tree.h"
#include "tests/support/time_scale.h"

using namespace http_test;
using test_support::ClientSocket;
using Seconds = std::chrono::duration<double>;

namespace {

// How long the server takes to close a connection that never says a word.
Seconds time_until_silent_client_closed(int port) {
  const auto start = std::chrono::steady_clock::now();
  ClientSocket silent(port);
  const bool closed = silent.closed_by_peer(test_support::scaled(std::chrono::seconds(20)));
  const Seconds elapsed = std::chrono::steady_clock::now() - start;
  CHECK(closed);
  return elapsed;
}

// Rewrites `path` in place: same inode, new content (O_TRUNC, then write).
void rewrite_in_place(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
}

// GET and HEAD of `path` agree with `expected`, and the length announced
// is the length sent.
void check_serves_exactly(int port, const std::string& path, const std::string& expected) {
  CAPTURE(path);
  CAPTURE(expected.size());
  ClientSocket socket(port);
  REQUIRE(socket.send_all(get_request(path, "", "HEAD") + get_request(path)));
  std::string leftover;
  const HttpResponse head = read_response(socket, leftover, true);
  CHECK(head.status == 200);
  CHECK(head.field("content-length") == std::to_string(expected.size()));
  const HttpResponse get = read_response(socket, leftover);
  CHECK(get.complete);
  CHECK(get.status == 200);
  CHECK(get.field("content-length") == std::to_string(get.body.size()));
  CHECK((get.body == expected));  // not decomposed: no megabyte of output
  // Nothing past the announced length either.
  CHECK(leftover.empty());
  CHECK(socket.receive_some(std::chrono::milliseconds(50)).empty());
}

}  // namespace

TEST_CASE("timeouts: a client that never speaks is closed at --header-timeout from its connect") {
  TestSite site;
  SUBCASE("1 s: no deferred accept") {
    Httpd server(site.root(), {"--header-timeout", "1", "--idle-timeout", "30"});
    const Seconds elapsed = time_until_silent_client_closed(server.port());
    CHECK(elapsed.count() >= 0.9);
    CHECK(elapsed < Seconds(1.0) + test_support::scaled(std::chrono::milliseconds(900)));
  }
  SUBCASE("3 s: the kernel holds it 1 s, the first header timer makes up for that") {
    Httpd server(site.root(), {"--header-timeout", "3", "--idle-timeout", "30"});
    const Seconds elapsed = time_until_silent_client_closed(server.port());
    CHECK(elapsed.count() >= 2.9);
    CHECK(elapsed < Seconds(3.0) + test_support::scaled(std::chrono::milliseconds(900)));
  }
  SUBCASE("3 s, a partial head sent at once: the whole timeout, from the accept") {
    // The kernel handed it over as its bytes arrived, not after holding it
    // the deferred-accept second: the first timer must not be shortened.
    Httpd server(site.root(), {"--header-timeout", "3", "--idle-timeout", "30"});
    const auto start = std::chrono::steady_clock::now();
    ClientSocket client(server.port());
    REQUIRE(client.send_all("GET /small.txt HTTP/1.1\r\n"));
    const std::string answer =
        client.receive_until_close(test_support::scaled(std::chrono::seconds(20)));
    const Seconds elapsed = std::chrono::steady_clock::now() - start;
    CHECK(answer.starts_with("HTTP/1.1 408"));
    CHECK(elapsed.count() >= 2.9);
    CHECK(elapsed < Seconds(3.0) + test_support::scaled(std::chrono::milliseconds(900)));
  }
  SUBCASE("--idle-timeout shorter than the header timeout closes a silent client on time") {
    Httpd server(site.root(), {"--header-timeout", "10", "--idle-timeout", "1"});
    const Seconds elapsed = time_until_silent_client_closed(server.port());
    CHECK(elapsed < Seconds(1.0) + test_support::scaled(std::chrono::milliseconds(900)));
  }
}

TEST_CASE("timeouts: a client that speaks late, but within the header timeout, is served") {
  TestSite site;
  Httpd server(site.root(), {"--header-timeout", "3"});
  ClientSocket late(server.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the lateness under test
  REQUIRE(late.send_all(get_request("/small.txt")));
  std::string leftover;
  const HttpResponse response = read_response(late, leftover);
  CHECK(response.status == 200);
  CHECK(response.body == site.small);
}

TEST_CASE("freshness: a file rewritten in place within the cache period is served whole") {
  TestSite site;
  SUBCASE("sent from the file: every hit sees the change at once") {
    Httpd server(site.root(), {"--cache-seconds", "60", "--inline-max", "4096"});
    const std::string path = site.tree / "site/sendfile.bin";
    const size_t base = 200 * 1024;
    const std::string original(base, 'o');
    const std::string grown(base + 700, 'g');
    const std::string shrunk(base / 2, 's');
    site.tree.write_file("site/sendfile.bin", original);
    check_serves_exactly(server.port(), "/sendfile.bin", original);
    rewrite_in_place(path, grown);
    check_serves_exactly(server.port(), "/sendfile.bin", grown);
    rewrite_in_place(path, shrunk);
    check_serves_exactly(server.port(), "/sendfile.bin", shrunk);
    // Same size, only the modification time tells: still caught.
    const std::string same_size(shrunk.size(), 'm');
    rewrite_in_place(path, same_size);
    site.tree.set_mtime("site/sendfile.bin", 1000000000);
    check_serves_exactly(server.port(), "/sendfile.bin", same_size);
  }
  SUBCASE("held in memory: the snapshot, whole, for GET and HEAD alike, until the period ends") {
    // One loop: each loop's cache takes its own snapshot.
    Httpd server(site.root(), {"--cache-seconds", "60", "--inline-max", "4096", "--threads", "1"});
    const std::string path = site.tree / "site/inline.txt";
    const std::string original(1000, 'o');
    site.tree.write_file("site/inline.txt", original);
    check_serves_exactly(server.port(), "/inline.txt", original);
    // Grown, shrunk, same size with another mtime: the length announced is
    // always the length of the bytes sent, and HEAD agrees with GET.
    rewrite_in_place(path, std::string(1700, 'g'));
    check_serves_exactly(server.port(), "/inline.txt", original);
    rewrite_in_place(path, std::string(500, 's'));
    check_serves_exactly(server.port(), "/inline.txt", original);
    rewrite_in_place(path, std::string(1000, 'm'));
    site.tree.set_mtime("site/inline.txt", 1000000000);
    check_serves_exactly(server.port(), "/inline.txt", original);
  }
  SUBCASE("held in memory: the change shows when the period ends") {
    Httpd server(site.root(), {"--cache-seconds", "1", "--inline-max", "4096"});
    const std::string path = site.tree / "site/inline.txt";
    site.tree.write_file("site/inline.txt", std::string(1000, 'o'));
    check_serves_exactly(server.port(), "/inline.txt", std::string(1000, 'o'));
    const std::string grown(1700, 'g');
    rewrite_in_place(path, grown);
    // Each loop (--threads) holds its own snapshot for its own period.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100) +
                                test_support::scaled(std::chrono::milliseconds(900)));
    for (int request = 0; request < 4; ++request) {
      check_serves_exactly(server.port(), "/inline.txt", grown);
    }
  }
}

TEST_CASE("freshness: a file replaced by rename is served old and whole, then new, never mixed") {
  TestSite site;
  Httpd server(site.root(), {"--cache-seconds", "1"});
  const std::string old_content(50 * 1024, 'o');
  const std::string new_content(80 * 1024, 'n');
  site.tree.write_file("site/deploy.js", old_content);
  check_serves_exactly(server.port(), "/deploy.js", old_content);
  site.tree.write_file("site/deploy.js.tmp", new_content);
  REQUIRE(::rename((site.tree / "site/deploy.js.tmp").c_str(),
                   (site.tree / "site/deploy.js").c_str()) == 0);
  const auto renamed = std::chrono::steady_clock::now();
  std::string body;
  while (body != new_content && std::chrono::steady_clock::now() - renamed <
                                    test_support::scaled(std::chrono::seconds(5))) {
    const HttpResponse response = exchange(server.port(), get_request("/deploy.js"));
    body = response.body;
    CHECK((body == old_content || body == new_content));
    CHECK(response.field("content-length") == std::to_string(body.size()));
    if (body != new_content) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(body == new_content);
  // Within the cache period (plus one housekeeping tick of slack).
  CHECK(std::chrono::steady_clock::now() - renamed <
        std::chrono::seconds(1) + test_support::scaled(std::chrono::milliseconds(900)));
}

namespace {

// A site with a 100 KiB script and its .br and .gz siblings made by the
// real tools, plus the traps a sibling lookup must not fall into.
struct CompressedSite {
  CompressedSite() {
    for (int i = 0; script.size() < 100 * 1024; ++i) {
      script += "function f" + std::to_string(i) + "(a, b) { return a * " + std::to_string(i) +
                " + b; }\n";
    }
    site.tree.write_file("site/app.js", script);
    compress("site/app.js");
    brotli = read_file(site.tree / "site/app.js.br");
    gzip = read_file(site.tree / "site/app.js.gz");
    // A sibling older than its file is left from a previous build.
    site.tree.write_file("site/stale.css", "body { color: red; }\n");
    compress("site/stale.css");
    site.tree.set_mtime("site/stale.css", 2000000000);
    site.tree.set_mtime("site/stale.css.br", 1000000000);
    site.tree.set_mtime("site/stale.css.gz", 1000000000);
    // A sibling that is a link out of the root is no sibling.
    site.tree.write_file("site/escape.txt", "inside\n");
    site.tree.write_file("escape.txt.gz", kSecret);
    site.tree.make_symlink("site/escape.txt.gz", "../escape.txt.gz");
  }

  void compress(const std::string& relative) {
    const std::string path = site.tree / relative;
    REQUIRE(test_support::run_command({"brotli", "-k", "-f", path}).status == 0);
    REQUIRE(test_support::run_command({"gzip", "-k", "-f", path}).status == 0);
  }

  TestSite site;
  std::string script, brotli, gzip;
};

HttpResponse get_with(int port, const std::string& path, const std::string& fields,
                      const std::string& method = "GET") {
  return exchange(port, get_request(path, fields, method), method == "HEAD");
}

}  // namespace

TEST_CASE("precompressed: curl --compressed gets the .br bytes and the same content decoded") {
  CompressedSite c;
  Httpd server(c.site.root(), {"--precompressed"});
  REQUIRE(c.brotli.size() < c.script.size() / 3);
  const std::string head_path = c.site.tree / "head.txt";
  int status = -1;
  const std::string decoded =
      curl({"--compressed", "-D", head_path, server.url("/app.js")}, &status);
  CHECK(status == 0);
  CHECK(decoded == c.script);
  const std::string head = read_file(head_path);
  CHECK(head.find("\r\nContent-Encoding: br\r\n") != std::string::npos);
  CHECK(head.find("\r\nVary: Accept-Encoding\r\n") != std::string::npos);
  CHECK(head.find("\r\nContent-Type: text/javascript") != std::string::npos);
  CHECK(head.find("\r\nContent-Length: " + std::to_string(c.brotli.size()) + "\r\n") !=
        std::string::npos);
  // A client that only takes gzip gets the .gz bytes as they are.
  curl({"-H", "Accept-Encoding: gzip", "-o", c.site.tree / "raw.gz", server.url("/app.js")});
  CHECK(read_file(c.site.tree / "raw.gz") == c.gzip);
}

TEST_CASE("precompressed: Accept-Encoding weights choose the representation") {
  CompressedSite c;
  Httpd server(c.site.root(), {"--precompressed"});
  const int port = server.port();
  struct Case {
    std::string accept_encoding;
    std::string coding;  // "" for identity, "406" for Not Acceptable
  };
  for (const Case& item : {
           Case{"", ""},                                 // no field at all
           Case{"Accept-Encoding: gzip, br\r\n", "br"},  // equal weights: br
           Case{"Accept-Encoding: gzip;q=1, br;q=0.999\r\n", "gzip"},
           Case{"Accept-Encoding: br;q=0.5, gzip;q=0.8\r\n", "gzip"},
           Case{"Accept-Encoding: br;q=0, gzip\r\n", "gzip"},
           Case{"Accept-Encoding: br;q=0, gzip;q=0\r\n", ""},
           Case{"Accept-Encoding: gzip;q=0.5, identity\r\n", ""},  // identity weighs more
           Case{"Accept-Encoding: x-gzip\r\n", "gzip"},
           Case{"Accept-Encoding: *\r\n", "br"},
           Case{"Accept-Encoding: *;q=0.3, br;q=0.2\r\n", "gzip"},
           Case{"Accept-Encoding: BR ; Q=1\r\n", "br"},
           Case{"Accept-Encoding: br;q=2\r\n", ""},  // not a weight: ignored
           Case{"Accept-Encoding: identity;q=0\r\n", "406"},
           Case{"Accept-Encoding: *;q=0\r\n", "406"},
           Case{"Accept-Encoding: identity;q=0, gzip;q=0.1\r\n", "gzip"},
           Case{"Accept-Encoding: gzip;q=0.1\r\nAccept-Encoding: br;q=0.2\r\n", "br"},
       }) {
    CAPTURE(item.accept_encoding);
    const HttpResponse response = get_with(port, "/app.js", item.accept_encoding);
    CHECK(response.complete);
    const std::string& coding = item.coding;
    if (coding == "406") {
      CHECK(response.status == 406);
      continue;
    }
    CHECK(response.status == 200);
    CHECK(response.field("vary") == "Accept-Encoding");
    CHECK(response.field("content-type").starts_with("text/javascript"));
    CHECK(response.field("content-encoding") == coding);
    CHECK(response.body == (coding == "br" ? c.brotli : coding == "gzip" ? c.gzip : c.script));
  }
  // identity;q=0 for a file without siblings: nothing acceptable exists.
  CHECK(get_with(port, "/small.txt", "Accept-Encoding: identity;q=0\r\n").status == 406);
  const HttpResponse plain = get_with(port, "/small.txt", "Accept-Encoding: br, gzip\r\n");
  CHECK(plain.body == c.site.small);
  CHECK_FALSE(plain.has("vary"));
  CHECK_FALSE(plain.has("content-encoding"));
}

TEST_CASE("precompressed: each representation has its own ETag; Range is over compressed bytes") {
  CompressedSite c;
  Httpd server(c.site.root(), {"--precompressed"});
  const int port = server.port();
  const HttpResponse identity = get_with(port, "/app.js", "");
  const HttpResponse brotli = get_with(port, "/app.js", "Accept-Encoding: br\r\n");
  const HttpResponse gzip = get_with(port, "/app.js", "Accept-Encoding: gzip\r\n");
  CHECK(identity.field("etag") != brotli.field("etag"));
  CHECK(identity.field("etag") != gzip.field("etag"));
  CHECK(brotli.field("etag") != gzip.field("etag"));
  // Revalidation is per representation.
  const HttpResponse not_modified = get_with(
      port, "/app.js", "Accept-Encoding: br\r\nIf-None-Match: " + brotli.field("etag") + "\r\n");
  CHECK(not_modified.status == 304);
  CHECK(not_modified.field("vary") == "Accept-Encoding");
  CHECK(get_with(port, "/app.js",
                 "Accept-Encoding: gzip\r\nIf-None-Match: " + brotli.field("etag") + "\r\n")
            .status == 200);

  const HttpResponse range =
      get_with(port, "/app.js", "Accept-Encoding: br\r\nRange: bytes=10-99\r\n");
  CHECK(range.status == 206);
  CHECK(range.field("content-encoding") == "br");
  CHECK(range.field("content-range") == "bytes 10-99/" + std::to_string(c.brotli.size()));
  CHECK(range.body == c.brotli.substr(10, 90));
  const HttpResponse suffix =
      get_with(port, "/app.js", "Accept-Encoding: gzip\r\nRange: bytes=-20\r\n");
  CHECK(suffix.body == c.gzip.substr(c.gzip.size() - 20));
  const HttpResponse head = get_with(port, "/app.js", "Accept-Encoding: br\r\n", "HEAD");
  CHECK(head.field("content-length") == std::to_string(c.brotli.size()));
  CHECK(head.field("content-encoding") == "br");
}

TEST_CASE("precompressed: stale siblings, siblings outside the root, and the option off") {
  CompressedSite c;
  {
    Httpd server(c.site.root(), {"--precompressed"});
    const HttpResponse stale =
        get_with(server.port(), "/stale.css", "Accept-Encoding: br, gzip\r\n");
    CHECK(stale.body == "body { color: red; }\n");
    CHECK_FALSE(stale.has("content-encoding"));
    const HttpResponse escape = get_with(server.port(), "/escape.txt", "Accept-Encoding: gzip\r\n");
    CHECK(escape.body == "inside\n");
    CHECK_FALSE(escape.has("content-encoding"));
  }
  {
    Httpd server(c.site.root());  // off by default
    const HttpResponse response = get_with(server.port(), "/app.js", "Accept-Encoding: br\r\n");
    CHECK(response.body == c.script);
    CHECK_FALSE(response.has("content-encoding"));
    CHECK_FALSE(response.has("vary"));
  }
}

TEST_CASE("--header: added to every 2xx, 3xx and 4xx answer, not to 5xx") {
  TestSite site;
  Httpd server(site.root(), {"--header", "X-Frame-Options: DENY", "--header",
                             "Permissions-Policy:  camera=(), microphone=()  "});
  const int port = server.port();
  const HttpResponse ok = get_with(port, "/small.txt", "");
  const std::string etag = ok.field("etag");
  for (const HttpResponse& response : {
           ok,
           get_with(port, "/small.txt", "", "HEAD"),
           get_with(port, "/small.txt", "Range: bytes=0-3\r\n"),
           get_with(port, "/small.txt", "If-None-Match: " + etag + "\r\n"),
           get_with(port, "/dir", ""),
           get_with(port, "/missing", ""),
           get_with(port, "/small.txt", "Range: bytes=900-\r\n"),
           get_with(port, "/small.txt", "", "DELETE"),
       }) {
    CAPTURE(response.status_line);
    CHECK(response.complete);
    CHECK(response.field("x-frame-options") == "DENY");
    CHECK(response.field("permissions-policy") == "camera=(), microphone=()");
  }
  const HttpResponse version = exchange(port, "GET / HTTP/1.2\r\nHost: x\r\n\r\n");
  CHECK(version.status == 505);
  CHECK_FALSE(version.has("x-frame-options"));

  const std::string head = curl({"-sI", server.url("/index.html")});
  CHECK(head.find("\r\nX-Frame-Options: DENY\r\n") != std::string::npos);
}

TEST_CASE("--header: fields that are not valid or that the server owns refuse to start") {
  TestSite site;
  for (const std::string bad :
       {"Content-Length: 5", "Transfer-Encoding: chunked", "Bad Name: x", "NoColon", ": empty",
        "X-Ok: line\x01"
        "break",
        "etag: \"x\"", "Cache-Control: no-store",
        // Written by the server on some answers: two fields would contradict.
        "Accept-Ranges: none", "WWW-Authenticate: Basic", "Allow: GET", "vary: Cookie"}) {
    CAPTURE(bad);
    const test_support::CommandResult result =
        test_support::run_command({test_support::program_from_env("REACTOR_HTTPD"), "0",
                                   site.root(), "--bind", "127.0.0.1", "--header", bad});
    CHECK(result.status == 2);
  }
  // --cors sends its own Allow-Origin; two make browsers refuse both.
  const test_support::CommandResult both = test_support::run_command(
      {test_support::program_from_env("REACTOR_HTTPD"), "0", site.root(), "--bind", "127.0.0.1",
       "--cors", "--header", "Access-Control-Allow-Origin: https://app.example"});
  CHECK(both.status == 2);
}

TEST_CASE("--cors: Allow-Origin on answers, and preflights get 204 with the Allow-* fields") {
  TestSite site;
  {
    Httpd server(site.root(), {"--cors"});
    const int port = server.port();
    CHECK(get_with(port, "/small.txt", "Origin: http://a.example\r\n")
              .field("access-control-allow-origin") == "*");
    CHECK(get_with(port, "/missing", "").field("access-control-allow-origin") == "*");

    const std::string preflight =
        curl({"-s", "-D", "-", "-o", "/dev/null", "-X", "OPTIONS", "-H", "Origin: http://a.example",
              "-H", "Access-Control-Request-Method: GET", "-H",
              "Access-Control-Request-Headers: x-requested-with, content-type",
              server.url("/small.txt")});
    CHECK(preflight.starts_with("HTTP/1.1 204 No Content\r\n"));
    CHECK(preflight.find("\r\nAccess-Control-Allow-Origin: *\r\n") != std::string::npos);
    CHECK(preflight.find("\r\nAccess-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n") !=
          std::string::npos);
    CHECK(preflight.find("\r\nAccess-Control-Allow-Headers: x-requested-with, content-type\r\n") !=
          std::string::npos);
    CHECK(preflight.find("\r\nAccess-Control-Max-Age: 7200\r\n") != std::string::npos);
    CHECK(preflight.find("Content-Length") == std::string::npos);  // 204 has none

    // A plain OPTIONS, kept alive: the connection carries the next request.
    ClientSocket socket(port);
    REQUIRE(socket.send_all(get_request("/", "", "OPTIONS") + get_request("/small.txt")));
    std::string leftover;
    const HttpResponse options = read_response(socket, leftover, true);
    CHECK(options.status == 204);
    CHECK(options.field("allow") == "GET, HEAD, OPTIONS");
    CHECK_FALSE(options.has("access-control-allow-methods"));
    CHECK(read_response(socket, leftover).body == site.small);

    const HttpResponse post = get_with(port, "/small.txt", "", "POST");
    CHECK(post.status == 405);
    CHECK(post.field("allow") == "GET, HEAD, OPTIONS");
  }
  {
    Httpd server(site.root());
    const HttpResponse options = get_with(server.port(), "/", "", "OPTIONS");
    CHECK(options.status == 405);
    CHECK_FALSE(options.has("access-control-allow-origin"));
  }
}

TEST_CASE("--cache-control: the default policy, a value of one's own, and off") {
  TestSite site;
  {
    Httpd server(site.root());
    const int port = server.port();
    CHECK(get_with(port, "/index.html", "").field("cache-control") == "no-cache");
    CHECK(get_with(port, "/", "").field("cache-control") == "no-cache");
    CHECK(get_with(port, "/dir/", "").field("cache-control") == "no-cache");  // a listing
    const HttpResponse css = get_with(port, "/style.css", "");
    CHECK(css.field("cache-control") == "max-age=300");
    CHECK(get_with(port, "/style.css", "If-None-Match: " + css.field("etag") + "\r\n")
              .field("cache-control") == "max-age=300");  // 304 too
    CHECK(get_with(port, "/style.css", "Range: bytes=1-2\r\n").field("cache-control") ==
          "max-age=300");
    CHECK_FALSE(get_with(port, "/missing.css", "").has("cache-control"));
  }
  {
    Httpd server(site.root(), {"--cache-control", "public, max-age=31536000, immutable"});
    CHECK(get_with(server.port(), "/index.html", "").field("cache-control") ==
          "public, max-age=31536000, immutable");
    CHECK(get_with(server.port(), "/dir/", "").field("cache-control") ==
          "public, max-age=31536000, immutable");
    CHECK(get_with(server.port(), "/small.txt", "").field("cache-control") ==
          "public, max-age=31536000, immutable");
  }
  {
    Httpd server(site.root(), {"--cache-control", "off"});
    CHECK_FALSE(get_with(server.port(), "/index.html", "").has("cache-control"));
    CHECK_FALSE(get_with(server.port(), "/dir/", "").has("cache-control"));
    CHECK_FALSE(get_with(server.port(), "/small.txt", "").has("cache-control"));
  }
}

TEST_CASE("--fallback: client-side routes get the app; files, traversal and escapes do not") {
  TestSite site;
  site.tree.write_file("site/app/index.html", "<title>the app</title>\n");
  site.tree.write_file("elsewhere.html", kSecret);
  site.tree.make_symlink("site/gone", "no-such-file");
  site.tree.make_symlink("site/out", "../elsewhere.html");
  Httpd server(site.root(), {"--fallback", "app/index.html"});
  const int port = server.port();
  for (const std::string route : {"/users/42", "/app/settings", "/deep/er/route/", "/v1.2/users"}) {
    CAPTURE(route);
    const HttpResponse response = get_with(port, route, "");
    CHECK(response.status == 200);
    CHECK(response.body == "<title>the app</title>\n");
    CHECK(response.field("content-type") == "text/html; charset=utf-8");
    const HttpResponse head = get_with(port, route, "", "HEAD");
    CHECK(head.status == 200);
    CHECK(head.field("content-length") == "23");
  }
  // What exists is served as ever.
  CHECK(get_with(port, "/small.txt", "").body == site.small);
  for (const std::string not_routes : {
           "/missing.js", "/img/logo.png", "/users/42.json",                // look like files
           "/../elsewhere", "/%2e%2e/elsewhere", "/users/../../elsewhere",  // traversal
           "/a/%2E%2E/%2e%2E/x",                                            // traversal, encoded
           "/out", "/link-outside.txt",                                     // links out of the root
       }) {
    CAPTURE(not_routes);
    const HttpResponse response = get_with(port, not_routes, "");
    CHECK(response.status == 404);
    CHECK(response.body.find("the app") == std::string::npos);
    CHECK(response.body.find(kSecret) == std::string::npos);
  }
  CHECK(get_with(port, "/users/42", "", "DELETE").status == 405);
  // A dangling link inside the root is just a missing file.
  CHECK(get_with(port, "/gone", "").status == 200);
}

TEST_CASE("--fallback: a file outside the root, a directory or nothing refuses to start") {
  TestSite site;
  site.tree.write_file("site/.git/config", "[core] secret\n");
  site.tree.write_file("site/.env", "TOKEN=secret\n");
  for (const std::string bad : {"../secret.txt", "/../secret.txt", "link-outside.txt", "dir",
                                "nope.html", "/", ".git/config", ".env"}) {
    CAPTURE(bad);
    const test_support::CommandResult result =
        test_support::run_command({test_support::program_from_env("REACTOR_HTTPD"), "0",
                                   site.root(), "--bind", "127.0.0.1", "--fallback", bad});
    CHECK(result.status == 2);
  }
  // A dotfile the operator chose to serve may be the fallback too.
  Httpd allowed(site.root(), {"--dotfiles", "allow", "--fallback", ".env"});
  CHECK(get_with(allowed.port(), "/some/route", "").body == "TOKEN=secret\n");
}

namespace {

// `reactor-httpd --hash-password USER` with the password on stdin.
std::string hash_password_line(const std::string& user, const std::string& password) {
  const test_support::CommandResult result = test_support::run_command(
      {"sh", "-c", "printf '%s\\n' \"$1\" | \"$0\" --hash-password \"$2\"",
       test_support::program_from_env("REACTOR_HTTPD"), password, user});
  REQUIRE(result.status == 0);
  return result.out;
}

std::string basic(const std::string& credentials) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < credentials.size(); i += 3) {
    uint32_t group = static_cast<unsigned char>(credentials[i]) << 16;
    if (i + 1 < credentials.size()) group |= static_cast<unsigned char>(credentials[i + 1]) << 8;
    if (i + 2 < credentials.size()) group |= static_cast<unsigned char>(credentials[i + 2]);
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += i + 1 < credentials.size() ? kAlphabet[(group >> 6) & 63] : '=';
    out += i + 2 < credentials.size() ? kAlphabet[group & 63] : '=';
  }
  return "Authorization: Basic " + out + "\r\n";
}

}  // namespace

TEST_CASE("--auth-file: 401 with WWW-Authenticate until curl -u gives the right password") {
  TestSite site;
  const std::string alice = hash_password_line("alice", "s3cret pass");
  CHECK(alice.starts_with("alice:$pbkdf2-sha256$"));
  CHECK(alice.find("s3cret") == std::string::npos);
  site.tree.write_file("users",
                       "# who may read\n" + alice + "\n" + hash_password_line("bob", "other"));
  const std::string log_path = site.tree / "access.log";
  Httpd server(site.root(), {"--auth-file", site.tree / "users", "--access-log", log_path});
  const int port = server.port();

  const HttpResponse anonymous = get_with(port, "/small.txt", "");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.field("www-authenticate") == "Basic realm=\"reactor-httpd\", charset=\"UTF-8\"");
  CHECK(anonymous.body.find(site.small) == std::string::npos);
  for (const std::string wrong : {"alice:wrong", "alice:", "mallory:s3cret pass", "alice",
                                  "bob:s3cret pass", ":s3cret pass"}) {
    CAPTURE(wrong);
    CHECK(get_with(port, "/small.txt", basic(wrong)).status == 401);
  }
  CHECK(get_with(port, "/small.txt", "Authorization: Bearer abc\r\n").status == 401);
  CHECK(get_with(port, "/small.txt", "Authorization: Basic !!!!\r\n").status == 401);
  CHECK(get_with(port, "/", "").status == 401);         // listings and indexes too
  CHECK(get_with(port, "/missing", "").status == 401);  // existence is not revealed either

  int status = -1;
  CHECK(curl({"-u", "alice:s3cret pass", server.url("/small.txt")}, &status) == site.small);
  CHECK(status == 0);
  CHECK(curl({"-u", "bob:other", server.url("/small.txt")}) == site.small);
  // Remembered credentials are still checked exactly.
  CHECK(get_with(port, "/small.txt", basic("alice:s3cret pass")).status == 200);
  CHECK(get_with(port, "/small.txt", basic("alice:s3cret pasS")).status == 401);
  CHECK(curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:nope",
              server.url("/small.txt")}) == "401");

  CHECK(server.stop() == 0);
  const std::string logged = read_file(log_path);
  CHECK(logged.find("s3cret") == std::string::npos);
  CHECK(logged.find("\" 401 ") != std::string::npos);
}

TEST_CASE("--auth-file: a wrong password costs as long for an unknown user as for a known one") {
  TestSite site;
  site.tree.write_file("users", hash_password_line("alice", "right"));
  Httpd server(site.root(), {"--auth-file", site.tree / "users"});
  const int port = server.port();
  auto median_seconds = [](std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
  };
  auto timed = [&](const std::string& credentials) {
    ClientSocket socket(port);  // connected first: only the answer is timed
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(socket.send_all(get_request("/small.txt", basic(credentials))));
    std::string leftover;
    CHECK(read_response(socket, leftover).status == 401);
    return Seconds(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<double> known, unknown;
  for (int i = 0; i < 15; ++i) {  // interleaved, so load changes hit both alike
    known.push_back(timed("alice:wrong" + std::to_string(i)));
    unknown.push_back(timed("nobody" + std::to_string(i) + ":wrong"));
  }
  const double ratio = median_seconds(unknown) / median_seconds(known);
  CAPTURE(median_seconds(known));
  CAPTURE(median_seconds(unknown));
  CHECK(ratio > 0.5);
  CHECK(ratio < 2.0);
}

TEST_CASE("--auth-file: an unreadable or malformed file refuses to start") {
  TestSite site;
  site.tree.write_file("plain", "alice:secret\n");
  site.tree.write_file("empty", "# nobody\n");
  for (const std::string& file : {site.tree / "plain", site.tree / "empty", site.tree / "none"}) {
    CAPTURE(file);
    const test_support::CommandResult result =
        test_support::run_command({test_support::program_from_env("REACTOR_HTTPD"), "0",
                                   site.root(), "--bind", "127.0.0.1", "--auth-file", file});
    CHECK(result.status == 2);
  }
}

TEST_CASE(
    "--dotfiles: denied by default (404, not listed) but for /.well-known/; allow serves them") {
  TestSite site;
  site.tree.write_file("site/.env", "PASSWORD=hunter2\n");
  site.tree.write_file("site/.git/config", "[core]\n");
  site.tree.write_file("site/dir/.hidden.txt", "hidden\n");
  site.tree.write_file("site/.well-known/security.txt", "Contact: mailto:a@example.org\n");
  site.tree.write_file("site/.well-known/.private", "no\n");
  {
    Httpd server(site.root(), {"--fallback", "index.html"});
    const int port = server.port();
    for (const std::string path :
         {"/.env", "/.git/config", "/.git/", "/.git", "/dir/.hidden.txt", "/%2eenv",
          "/dir/%2Ehidden.txt", "/.well-known/.private", "/.well-knownx", "/dir/./.hidden.txt"}) {
      CAPTURE(path);
      const HttpResponse response = get_with(port, path, "");
      CHECK(response.status == 404);  // and not the fallback either
      CHECK(response.body.find("hunter2") == std::string::npos);
    }
    CHECK(get_with(port, "/.well-known/security.txt", "").body ==
          "Contact: mailto:a@example.org\n");
    const std::string root_listing = get_with(port, "/dir/", "").body;
    CHECK(root_listing.find("nested.txt") != std::string::npos);
    CHECK(root_listing.find("hidden") == std::string::npos);
    site.tree.write_file("site/listed/.env", "x");
    site.tree.write_file("site/listed/visible.txt", "x");
    const std::string listing = get_with(port, "/listed/", "").body;
    CHECK(listing.find("visible.txt") != std::string::npos);
    CHECK(listing.find(".env") == std::string::npos);
  }
  {
    Httpd server(site.root(), {"--dotfiles", "allow"});
    CHECK(get_with(server.port(), "/.env", "").body == "PASSWORD=hunter2\n");
    CHECK(get_with(server.port(), "/dir/", "").body.find(".hidden.txt") != std::string::npos);
  }
}

TEST_CASE("--mime-types, --default-type, and index.htm") {
  TestSite site;
  // The third line's type holds a control character: skipped, with a
  // warning, rather than sent in Content-Type.
  site.tree.write_file("types",
                       "# extra\napplication/x-reactor-test rtest\ntext/x\x01evil zz\n"
                       "text/x-custom txt\n");
  site.tree.write_file("site/a.zz", "z");
  site.tree.write_file("site/a.rtest", "x");
  site.tree.write_file("site/README", "no extension\n");
  site.tree.write_file("site/old/index.htm", "<p>htm index</p>\n");
  site.tree.write_file("site/both/index.html", "<p>html index</p>\n");
  site.tree.write_file("site/both/index.htm", "<p>htm index</p>\n");
  {
    Httpd server(site.root(), {"--mime-types", site.tree / "types", "--default-type",
                               "text/plain; charset=utf-8"});
    const int port = server.port();
    CHECK(get_with(port, "/a.rtest", "").field("content-type") == "application/x-reactor-test");
    CHECK(get_with(port, "/a.zz", "").field("content-type") == "text/plain; charset=utf-8");
    CHECK(server.process().output().find("not a media type") != std::string::npos);
    CHECK(get_with(port, "/small.txt", "").field("content-type").starts_with("text/x-custom"));
    CHECK(get_with(port, "/README", "").field("content-type") == "text/plain; charset=utf-8");
    CHECK(get_with(port, "/old/", "").body == "<p>htm index</p>\n");
    CHECK(get_with(port, "/both/", "").body == "<p>html index</p>\n");
  }
  {
    Httpd server(site.root());
    CHECK(get_with(server.port(), "/README", "").field("content-type") ==
          "application/octet-stream");
  }
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--mime-types", site.tree / "none"},
        std::vector<std::string>{"--default-type", "plain"},
        std::vector<std::string>{"--dotfiles", "maybe"}}) {
    CAPTURE(bad[0]);
    std::vector<std::string> argv = {test_support::program_from_env("REACTOR_HTTPD"), "0",
                                     site.root(), "--bind", "127.0.0.1"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    CHECK(test_support::run_command(argv).status == 2);
  }
}
