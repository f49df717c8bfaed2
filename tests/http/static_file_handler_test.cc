// Unit tests of StaticFileHandler: the complete responses it assembles
// (head, inline bytes and file segments), without a socket.
#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <map>
#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/mime_types.h"
#include "protocols/http/request.h"
#include "protocols/http/request_parser.h"
#include "protocols/http/static_file_handler.h"
#include "temp_tree.h"

using namespace reactor::http;
using http_test::TempTree;

namespace {

struct Response {
  std::string status_line;
  std::map<std::string, std::string> fields;  // lower-case names
  std::string field(const std::string& name) const {
    const auto found = fields.find(name);
    return found == fields.end() ? "<absent>" : found->second;
  }
  std::string body;
  ResponseSummary summary;
  size_t file_segments = 0;
};

// Turns a ResponseOutput into the bytes that would go on the wire, reading
// the file segments from their descriptors.
std::string materialize(const ResponseOutput& out) {
  std::string wire;
  size_t position = 0;
  for (const auto& segment : out.file_segments()) {
    wire.append(out.bytes(), position, segment.position - position);
    position = segment.position;
    std::string chunk(segment.length, '\0');
    REQUIRE(::pread(segment.file->get(), chunk.data(), chunk.size(), segment.offset) ==
            static_cast<ssize_t>(chunk.size()));
    wire += chunk;
  }
  wire.append(out.bytes(), position);
  return wire;
}

Response split_response(const std::string& wire) {
  Response response;
  const size_t head_end = wire.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  const std::string head = wire.substr(0, head_end + 2);
  response.body = wire.substr(head_end + 4);
  size_t line_end = head.find("\r\n");
  response.status_line = head.substr(0, line_end);
  size_t line = line_end + 2;
  while (line < head.size()) {
    line_end = head.find("\r\n", line);
    const std::string field = head.substr(line, line_end - line);
    const size_t colon = field.find(':');
    std::string name = field.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.fields[name] = field.substr(colon + 2);
    line = line_end + 2;
  }
  return response;
}

struct Site {
  Site() {
    tree.write_file("site/index.html", "<h1>home</h1>");
    tree.write_file("site/small.txt", "0123456789abcdefghij");  // 20 bytes
    std::string big(100000, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    tree.write_file("site/big.bin", big);
    tree.write_file("site/docs/readme.md", "# readme");
    tree.write_file("site/empty.txt", "");
    tree.set_mtime("site/small.txt", 784111777);
  }
  TempTree tree;
};

struct Harness {
  explicit Harness(const Site& site, bool listing = true, size_t inline_limit = 16 * 1024)
      : root(site.tree / "site"),
        cache(root, types, FileCache::Options{std::chrono::milliseconds(1000), 64, inline_limit}),
        handler(root, cache, StaticFileHandler::Options{listing}) {}

  Response get(const std::string& target, const std::string& fields = "",
               const std::string& method = "GET") {
    const std::string bytes = method + " " + target + " HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n";
    RequestParser parser;
    REQUIRE(parser.parse(bytes) == RequestParser::Result::kComplete);
    std::array<HeaderField, RequestParser::kMaxFields> storage;
    Request request;
    REQUIRE(analyze_request(parser.head(bytes, storage), request).ok());
    ResponseOutput out;
    const ResponseContext context{1, true, request.method == Method::kHead,
                                  "Sun, 06 Nov 1994 08:49:37 GMT"};
    const ResponseSummary summary = handler.respond(request, context, reactor::Clock::now(), out);
    Response response = split_response(materialize(out));
    response.summary = summary;
    response.file_segments = out.file_segments().size();
    return response;
  }

  MimeTypes types;
  reactor::protocols::ServedTree root;
  FileCache cache;
  StaticFileHandler handler;
};

}  // namespace

TEST_CASE("handler: a small file is one inline response with all the fields") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/small.txt");
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.body == "0123456789abcdefghij");
  CHECK(r.file_segments == 0);
  CHECK(r.field("content-type") == "text/plain; charset=utf-8");
  CHECK(r.field("content-length") == "20");
  CHECK(r.field("last-modified") == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(r.field("etag").starts_with("\""));
  CHECK(r.field("accept-ranges") == "bytes");
  CHECK(r.field("server") == "reactor-httpd");
  CHECK(r.field("date") == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(r.fields.count("connection") == 0);
  CHECK(r.summary.body_bytes == 20);
}

TEST_CASE("handler: a large file body is a sendfile segment") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/big.bin");
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.file_segments == 1);
  CHECK(r.body.size() == 100000);
  CHECK(r.body.substr(0, 5) == "abcde");
  CHECK(r.field("content-type") == "application/octet-stream");
  // With inlining off, even small files go out as segments.
  Harness no_inline(site, true, 0);
  const Response small = no_inline.get("/small.txt");
  CHECK(small.file_segments == 1);
  CHECK(small.body == "0123456789abcdefghij");
}

TEST_CASE("handler: HEAD has the GET head and no body") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/big.bin", "", "HEAD");
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.field("content-length") == "100000");
  CHECK(r.body.empty());
  CHECK(r.file_segments == 0);
  CHECK(r.summary.body_bytes == 0);
}

TEST_CASE("handler: directories") {
  Site site;
  Harness harness(site);
  const Response redirect = harness.get("/docs?x=1");
  CHECK(redirect.status_line == "HTTP/1.1 301 Moved Permanently");
  CHECK(redirect.field("location") == "/docs/?x=1");
  const Response index = harness.get("/");
  CHECK(index.status_line == "HTTP/1.1 200 OK");
  CHECK(index.body == "<h1>home</h1>");
  CHECK(index.field("content-type") == "text/html; charset=utf-8");
  const Response listing = harness.get("/docs/");
  CHECK(listing.status_line == "HTTP/1.1 200 OK");
  CHECK(listing.body.find("readme.md") != std::string::npos);
  CHECK(listing.field("content-length") == std::to_string(listing.body.size()));
  Harness no_listing(site, false);
  CHECK(no_listing.get("/docs/").status_line == "HTTP/1.1 403 Forbidden");
  CHECK(no_listing.get("/").status_line == "HTTP/1.1 200 OK");  // index still served
}

TEST_CASE("handler: errors") {
  Site site;
  Harness harness(site);
  CHECK(harness.get("/missing").status_line == "HTTP/1.1 404 Not Found");
  CHECK(harness.get("/small.txt/").status_line == "HTTP/1.1 404 Not Found");
  CHECK(harness.get("/bad%zz").status_line == "HTTP/1.1 400 Bad Request");
  CHECK(harness.get("/nul%00").status_line == "HTTP/1.1 400 Bad Request");
  const Response missing = harness.get("/missing");
  CHECK(missing.field("content-type") == "text/html; charset=utf-8");
  CHECK(missing.body.find("404 Not Found") != std::string::npos);
}

TEST_CASE("handler: conditional requests") {
  Site site;
  Harness harness(site);
  const std::string tag = harness.get("/small.txt").field("etag");
  const Response by_tag = harness.get("/small.txt", "If-None-Match: " + tag + "\r\n");
  CHECK(by_tag.status_line == "HTTP/1.1 304 Not Modified");
  CHECK(by_tag.body.empty());
  CHECK(by_tag.field("etag") == tag);
  CHECK(by_tag.fields.count("content-length") == 0);
  CHECK(harness.get("/small.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
            .status_line == "HTTP/1.1 304 Not Modified");
  CHECK(harness.get("/small.txt", "If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT\r\n")
            .status_line == "HTTP/1.1 200 OK");
  CHECK(harness.get("/small.txt", "If-Match: \"nope\"\r\n").status_line ==
        "HTTP/1.1 412 Precondition Failed");
}

TEST_CASE("handler: single ranges") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/small.txt", "Range: bytes=5-9\r\n");
  CHECK(r.status_line == "HTTP/1.1 206 Partial Content");
  CHECK(r.body == "56789");
  CHECK(r.field("content-range") == "bytes 5-9/20");
  CHECK(r.field("content-length") == "5");
  CHECK(harness.get("/small.txt", "Range: bytes=-3\r\n").body == "hij");
  CHECK(harness.get("/small.txt", "Range: bytes=17-\r\n").body == "hij");
  const Response big = harness.get("/big.bin", "Range: bytes=99990-\r\n");
  std::string tail;
  for (size_t i = 99990; i < 100000; ++i) tail += static_cast<char>('a' + i % 26);
  CHECK(big.body == tail);
  CHECK(big.file_segments == 1);
}

TEST_CASE("handler: unsatisfiable range is 416 with the size") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/small.txt", "Range: bytes=20-\r\n");
  CHECK(r.status_line == "HTTP/1.1 416 Range Not Satisfiable");
  CHECK(r.field("content-range") == "bytes */20");
  CHECK(harness.get("/empty.txt", "Range: bytes=0-\r\n").field("content-range") == "bytes */0");
}

TEST_CASE("handler: If-Range decides between 206 and 200") {
  Site site;
  Harness harness(site);
  const std::string tag = harness.get("/small.txt").field("etag");
  CHECK(harness.get("/small.txt", "Range: bytes=0-1\r\nIf-Range: " + tag + "\r\n").status_line ==
        "HTTP/1.1 206 Partial Content");
  const Response stale = harness.get("/small.txt", "Range: bytes=0-1\r\nIf-Range: \"old\"\r\n");
  CHECK(stale.status_line == "HTTP/1.1 200 OK");
  CHECK(stale.body.size() == 20);
  CHECK(harness.get("/small.txt", "Range: bytes=0-1\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
            .status_line == "HTTP/1.1 206 Partial Content");
}

TEST_CASE("handler: several ranges are a correct multipart/byteranges body") {
  Site site;
  for (size_t inline_limit : {size_t{0}, size_t{16 * 1024}}) {
    Harness harness(site, true, inline_limit);
    const Response r = harness.get("/small.txt", "Range: bytes=0-2,10-11,-2\r\n");
    CHECK(r.status_line == "HTTP/1.1 206 Partial Content");
    const std::string& boundary = harness.handler.boundary();
    CHECK(r.field("content-type") == "multipart/byteranges; boundary=" + boundary);
    const std::string part_type = "Content-Type: text/plain; charset=utf-8\r\n";
    const std::string expected =
        "\r\n--" + boundary + "\r\n" + part_type + "Content-Range: bytes 0-2/20\r\n\r\n012" +
        "\r\n--" + boundary + "\r\n" + part_type + "Content-Range: bytes 10-11/20\r\n\r\nab" +
        "\r\n--" + boundary + "\r\n" + part_type + "Content-Range: bytes 18-19/20\r\n\r\nij" +
        "\r\n--" + boundary + "--\r\n";
    CHECK(r.body == expected);
    CHECK(r.field("content-length") == std::to_string(expected.size()));
    CHECK(r.summary.body_bytes == expected.size());
  }
}

TEST_CASE("handler: overlapping ranges get the whole file") {
  Site site;
  Harness harness(site);
  const Response r = harness.get("/small.txt", "Range: bytes=0-5,3-8\r\n");
  CHECK(r.status_line == "HTTP/1.1 200 OK");
  CHECK(r.body.size() == 20);
}

TEST_CASE(
    "handler: the cache notices a replaced file: sent from disk at once, inline after the TTL") {
  Site site;
  MimeTypes types;
  reactor::protocols::ServedTree root(site.tree / "site");
  // small.txt (20 bytes) is held inline with a limit of 1024, sent from
  // its descriptor with a limit of 0.
  FileCache sent_from_disk(root, types, FileCache::Options{std::chrono::milliseconds(50), 64, 0});
  FileCache cache(root, types, FileCache::Options{std::chrono::milliseconds(50), 64, 1024});
  const auto now = reactor::Clock::now();
  REQUIRE(sent_from_disk.lookup("small.txt", now).ok());
  auto first = cache.lookup("small.txt", now);
  REQUIRE(first.ok());
  const std::string original = first.value()->content;
  site.tree.write_file("site/small.txt.new", "replaced!");
  REQUIRE(::rename((site.tree / "site/small.txt.new").c_str(),
                   (site.tree / "site/small.txt").c_str()) == 0);
  // The old file lost its name, which moved its ctime: the fstat() of a
  // hit on a descriptor sees that, so the new file shows before the TTL
  // is out.
  CHECK(sent_from_disk.lookup("small.txt", now).value()->info.st_size == 9);
  // Inline content is a snapshot, served whole until the TTL is out.
  CHECK(cache.lookup("small.txt", now).value()->content == original);
  auto later = cache.lookup("small.txt", now + std::chrono::milliseconds(60));
  REQUIRE(later.ok());
  CHECK(later.value()->content == "replaced!");
  // Unchanged files keep their entry on revalidation.
  auto again = cache.lookup("small.txt", now + std::chrono::milliseconds(200));
  CHECK(again.value() == later.value());
  cache.purge_expired(now + std::chrono::seconds(10));
  CHECK(cache.size() == 0);
}
