// Integration tests for what shapes a response beyond the file itself
// (issue 12): timeouts counted from the connect, a cache that never pairs
// one version's head with another's bytes, precompressed siblings, added
// headers, the SPA fallback, Basic auth, dotfiles. The real reactor-httpd,
// real clients (raw sockets, curl).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  Httpd server(site.root(), {"--cache-seconds", "60", "--inline-max", "4096"});
  const std::string inline_path = site.tree / "site/inline.txt";
  const std::string sendfile_path = site.tree / "site/sendfile.bin";
  struct Case {
    std::string path;
    std::string url;
    size_t base;
  };
  for (const Case& file :
       {Case{inline_path, "/inline.txt", 1000}, Case{sendfile_path, "/sendfile.bin", 200 * 1024}}) {
    CAPTURE(file.url);
    const std::string original(file.base, 'o');
    const std::string grown(file.base + 700, 'g');
    const std::string shrunk(file.base / 2, 's');
    site.tree.write_file(file.path.substr(site.tree.path().size() + 1), original);
    check_serves_exactly(server.port(), file.url, original);
    rewrite_in_place(file.path, grown);
    check_serves_exactly(server.port(), file.url, grown);
    rewrite_in_place(file.path, shrunk);
    check_serves_exactly(server.port(), file.url, shrunk);
    // Same size, only the modification time tells: still caught.
    const std::string same_size(shrunk.size(), 'm');
    rewrite_in_place(file.path, same_size);
    site.tree.set_mtime(file.path.substr(site.tree.path().size() + 1), 1000000000);
    check_serves_exactly(server.port(), file.url, same_size);
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
