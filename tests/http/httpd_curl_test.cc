// Integration tests: the real reactor-httpd driven by real curl and wget.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "httpd_fixture.h"
#include "protocols/http/http_date.h"
#include "site_builder.h"
#include "temp_tree.h"
#include "tests/support/time_scale.h"

using namespace http_test;

namespace {

// Everything the tests need, once: the site and the server serving it.
struct Served {
  Served() : server(site.root(), {"--access-log", site.tree / "access.log"}) {}
  TestSite site;
  Httpd server;
};

// curl -D - (head) followed by the body, split apart.
struct CurlResult {
  std::string head;
  std::string body;
  int status = 0;
};

CurlResult curl_with_head(std::vector<std::string> args) {
  args.insert(args.begin(), {"-D", "-"});
  CurlResult result;
  std::string out = curl(args, &result.status);
  const size_t end = out.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  result.head = out.substr(0, end + 2);
  result.body = out.substr(end + 4);
  return result;
}

bool has_line(const std::string& head, const std::string& line) {
  return head.find(line + "\r\n") != std::string::npos;
}

}  // namespace

TEST_CASE("curl: GET of small and large files returns them byte for byte") {
  Served s;
  const CurlResult small = curl_with_head({s.server.url("/small.txt")});
  CHECK(small.status == 0);
  CHECK(small.head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(small.body == s.site.small);
  CHECK(has_line(small.head, "Content-Type: text/plain; charset=utf-8"));
  CHECK(has_line(small.head, "Content-Length: " + std::to_string(s.site.small.size())));
  CHECK(has_line(small.head, "Accept-Ranges: bytes"));
  CHECK(has_line(small.head, "Server: reactor-httpd"));
  CHECK(small.head.find("\r\nETag: \"") != std::string::npos);
  CHECK(small.head.find("\r\nLast-Modified: ") != std::string::npos);
  CHECK(small.head.find("\r\nDate: ") != std::string::npos);

  const std::string large_path = s.site.tree / "large.out";
  int status = -1;
  curl({"-o", large_path, s.server.url("/large.bin")}, &status);
  CHECK(status == 0);
  CHECK(read_file(large_path) == s.site.large);
}

TEST_CASE("curl: HEAD has the headers of GET and no body") {
  Served s;
  const std::string head = curl({"-I", s.server.url("/large.bin")});
  CHECK(head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(has_line(head, "Content-Length: " + std::to_string(s.site.large.size())));
  CHECK(head.ends_with("\r\n\r\n"));
  // curl -I never reads a body, so whether one was sent is checked on the
  // wire: a GET pipelined behind the HEAD must be answered by the very next
  // bytes after the HEAD's head. A body sent for the HEAD would come first.
  test_support::ClientSocket socket(s.server.port());
  REQUIRE(socket.send_all(get_request("/large.bin", "", "HEAD") + get_request("/small.txt")));
  std::string received;
  for (int i = 0; i < 100 && received.find("\r\n\r\nHTTP/1.1 ") == std::string::npos; ++i) {
    const std::string more = socket.receive_some(test_support::scaled(std::chrono::seconds(5)));
    if (more.empty()) break;
    received += more;
  }
  const size_t head_end = received.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  CHECK(received.substr(head_end + 4, 17) == "HTTP/1.1 200 OK\r\n");
}

TEST_CASE("curl: names with spaces and UTF-8, nested paths, symlinks inside") {
  Served s;
  CHECK(curl({s.server.url("/with%20space.txt")}) == "spaces\n");
  CHECK(curl({s.server.url("/caf%C3%A9.txt")}) == "utf-8 name\n");
  CHECK(curl({s.server.url("/dir/nested.txt")}) == "nested\n");
  CHECK(curl({s.server.url("/dir%2Fnested.txt")}) == "nested\n");
  CHECK(curl({s.server.url("/dir/deeper/../nested.txt?query=ignored")}) == "nested\n");
  CHECK(curl({s.server.url("/link-inside.txt")}) == s.site.small);
}

TEST_CASE("curl: -r byte ranges") {
  Served s;
  const CurlResult first = curl_with_head({"-r", "0-99", s.server.url("/large.bin")});
  CHECK(first.head.starts_with("HTTP/1.1 206 Partial Content\r\n"));
  CHECK(first.body == s.site.large.substr(0, 100));
  CHECK(has_line(first.head, "Content-Range: bytes 0-99/" + std::to_string(s.site.large.size())));
  CHECK(curl({"-r", "-50", s.server.url("/large.bin")}) ==
        s.site.large.substr(s.site.large.size() - 50));
  CHECK(curl({"-r", "3000000-", s.server.url("/large.bin")}) == s.site.large.substr(3000000));
  CHECK(curl({"-r", "7-11", s.server.url("/small.txt")}) == s.site.small.substr(7, 5));

  const CurlResult multi = curl_with_head({"-r", "0-4,10-14", s.server.url("/small.txt")});
  CHECK(multi.head.starts_with("HTTP/1.1 206 Partial Content\r\n"));
  CHECK(multi.head.find("Content-Type: multipart/byteranges; boundary=") != std::string::npos);
  CHECK(multi.body.find("Content-Range: bytes 0-4/20\r\n\r\nHello") != std::string::npos);
  CHECK(multi.body.find("Content-Range: bytes 10-14/20\r\n\r\nll wo") != std::string::npos);

  const CurlResult unsatisfiable = curl_with_head({"-r", "5000000-", s.server.url("/large.bin")});
  CHECK(unsatisfiable.head.starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"));
  CHECK(has_line(unsatisfiable.head,
                 "Content-Range: bytes */" + std::to_string(s.site.large.size())));
}

TEST_CASE("curl: -z conditional requests and If-None-Match") {
  Served s;
  const std::string future = reactor::http::format_http_date(::time(nullptr) + 3600);
  const std::string past = "Sun, 06 Nov 1994 08:49:37 GMT";
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}", "-z", future, s.server.url("/small.txt")}) ==
        "304");
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}", "-z", past, s.server.url("/small.txt")}) ==
        "200");
  // -z with a leading '-' sends If-Unmodified-Since.
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}", "-z", "-" + past,
              s.server.url("/small.txt")}) == "412");

  const CurlResult plain = curl_with_head({s.server.url("/small.txt")});
  const size_t tag_at = plain.head.find("ETag: ");
  REQUIRE(tag_at != std::string::npos);
  const std::string tag =
      plain.head.substr(tag_at + 6, plain.head.find("\r\n", tag_at) - tag_at - 6);
  const CurlResult revalidated =
      curl_with_head({"-H", "If-None-Match: " + tag, s.server.url("/small.txt")});
  CHECK(revalidated.head.starts_with("HTTP/1.1 304 Not Modified\r\n"));
  CHECK(revalidated.body.empty());
  CHECK(has_line(revalidated.head, "ETag: " + tag));
}

TEST_CASE("curl: keep-alive reuses one connection for several URLs") {
  Served s;
  const std::string out =
      curl({"-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w",
            "%{num_connects} %{http_code}\\n", s.server.url("/small.txt"),
            s.server.url("/large.bin"), s.server.url("/nope"), s.server.url("/dir/nested.txt")});
  CHECK(out == "1 200\n0 200\n0 404\n0 200\n");
}

TEST_CASE("curl: --http1.0 gets one response per connection unless it asks") {
  Served s;
  const CurlResult one = curl_with_head({"--http1.0", s.server.url("/small.txt")});
  CHECK(one.head.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(one.body == s.site.small);
  const std::string twice =
      curl({"--http1.0", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects}\\n",
            s.server.url("/small.txt"), s.server.url("/small.txt")});
  CHECK(twice == "1\n1\n");
  const std::string kept =
      curl({"--http1.0", "-H", "Connection: keep-alive", "-o", "/dev/null", "-o", "/dev/null", "-w",
            "%{num_connects}\\n", s.server.url("/small.txt"), s.server.url("/small.txt")});
  CHECK(kept == "1\n0\n");
}

TEST_CASE("curl: directories redirect, index and listing") {
  Served s;
  const CurlResult redirect = curl_with_head({s.server.url("/dir?x=1")});
  CHECK(redirect.head.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
  CHECK(has_line(redirect.head, "Location: /dir/?x=1"));
  const std::string listing = curl({"-L", s.server.url("/dir")});
  CHECK(listing.find("<title>Index of /dir/</title>") != std::string::npos);
  CHECK(listing.find("href=\"nested.txt\"") != std::string::npos);
  CHECK(listing.find("href=\"deeper/\"") != std::string::npos);
  CHECK(curl({s.server.url("/withindex/")}) == "<h1>sub index</h1>\n");
  const std::string root = curl({s.server.url("/")});
  CHECK(root.find("<h1>home</h1>") != std::string::npos);
}

TEST_CASE("curl: errors have status and a small HTML body") {
  Served s;
  const CurlResult missing = curl_with_head({s.server.url("/does-not-exist")});
  CHECK(missing.head.starts_with("HTTP/1.1 404 Not Found\r\n"));
  CHECK(has_line(missing.head, "Content-Type: text/html; charset=utf-8"));
  CHECK(missing.body.find("404 Not Found") != std::string::npos);
  const CurlResult post = curl_with_head({"-X", "POST", "-d", "x=1", s.server.url("/small.txt")});
  CHECK(post.head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(has_line(post.head, "Allow: GET, HEAD"));
  CHECK(curl({"-o", "/dev/null", "-w", "%{http_code}", "-X", "BREW", s.server.url("/")}) == "501");
}

TEST_CASE("curl: nothing outside the root, whatever the path") {
  Served s;
  const char* hostile[] = {"/../secret.txt",          "/%2e%2e/secret.txt",
                           "/%2E%2E%2Fsecret.txt",    "/dir/..%2F..%2Fsecret.txt",
                           "/link-outside.txt",       "/link-absolute.txt",
                           "/link-up-dir/secret.txt", "/..%5Csecret.txt"};
  for (const char* path : hostile) {
    CAPTURE(path);
    // --path-as-is: curl must not clean up the dots itself.
    const std::string out = curl({"--path-as-is", "-w", "\\n%{http_code}", s.server.url(path)});
    CHECK(out.find(kSecret) == std::string::npos);
    CHECK(out.ends_with("\n404"));
  }
  const std::string listing = curl({s.server.url("/")});
  CHECK(listing.find(kSecret) == std::string::npos);
}

TEST_CASE("wget: mirrors a file") {
  Served s;
  const std::string target = s.site.tree / "wget.out";
  const test_support::CommandResult result = test_support::run_command(
      {"wget", "-q", "--no-proxy", "-T", "10", "-O", target, s.server.url("/large.bin")},
      std::chrono::seconds(30));
  CHECK(result.status == 0);
  CHECK(read_file(target) == s.site.large);
}

TEST_CASE("curl: the access log records every request in Combined Log Format") {
  TestSite site;
  const std::string log_path = site.tree / "access.log";
  {
    Httpd server(site.root(), {"--access-log", log_path});
    curl({"-o", "/dev/null", "-A", "agent/1.0", "-e", "http://ref/", server.url("/small.txt")});
    curl({"-o", "/dev/null", server.url("/nope")});
    curl({"-o", "/dev/null", "-r", "0-1", server.url("/small.txt")});
    CHECK(server.stop() == 0);  // flushes the log
  }
  const std::string log = read_file(log_path);
  CHECK(log.find("127.0.0.1 - - [") == 0);
  CHECK(log.find("] \"GET /small.txt HTTP/1.1\" 200 20 \"http://ref/\" \"agent/1.0\"\n") !=
        std::string::npos);
  CHECK(log.find("\"GET /nope HTTP/1.1\" 404 ") != std::string::npos);
  CHECK(log.find("\"GET /small.txt HTTP/1.1\" 206 2 ") != std::string::npos);
  CHECK(std::count(log.begin(), log.end(), '\n') == 3);
}
