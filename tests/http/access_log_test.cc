// Unit tests of the Combined Log Format access log.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "protocols/http/access_log.h"
#include "temp_tree.h"

using http_test::read_file;
using http_test::TempTree;
using reactor::http::AccessLog;
using reactor::http::Status;

TEST_CASE("access log: combined format, buffered until flush") {
  TempTree tree;
  const std::string path = tree / "access.log";
  AccessLog log(path);
  AccessLog::Entry entry;
  entry.client = "127.0.0.1";
  entry.time = "10/Oct/2000:13:55:36 -0700";
  entry.method = "GET";
  entry.target = "/apache_pb.gif";
  entry.version_minor = 0;
  entry.status = Status::kOk;
  entry.body_bytes = 2326;
  entry.referer = "http://www.example.com/start.html";
  entry.user_agent = "Mozilla/4.08";
  log.append(entry);
  CHECK(read_file(path).empty());  // not one write() per request
  log.flush();
  CHECK(read_file(path) ==
        "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 "
        "\"http://www.example.com/start.html\" \"Mozilla/4.08\"\n");
}

TEST_CASE("access log: missing parts are dashes, hostile bytes are escaped") {
  TempTree tree;
  const std::string path = tree / "access.log";
  {
    AccessLog log(path);
    AccessLog::Entry entry;
    entry.client = "::1";
    entry.time = "t";
    entry.status = Status::kBadRequest;
    log.append(entry);  // no request line, no body, no referer or agent
    entry.method = "GET";
    entry.target = "/a\"b\\c";
    entry.status = Status::kNotFound;
    entry.body_bytes = 5;
    entry.user_agent = "evil\"\n::1 - - [forged] \"GET / HTTP/1.1\" 200";
    log.append(entry);
  }  // the destructor flushes
  const std::string text = read_file(path);
  CHECK(text.starts_with("::1 - - [t] \"-\" 400 - \"-\" \"-\"\n"));
  CHECK(text.find("\"GET /a\\x22b\\x5Cc HTTP/1.1\" 404 5 \"-\" \"evil\\x22\\x0A::1") !=
        std::string::npos);
  // Exactly two lines: the injected newline did not make a third.
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("access log: large volumes are written in blocks") {
  TempTree tree;
  const std::string path = tree / "access.log";
  AccessLog log(path);
  AccessLog::Entry entry;
  entry.client = "127.0.0.1";
  entry.time = "t";
  entry.method = "GET";
  const std::string target = "/" + std::string(200, 'x');
  entry.target = target;
  int lines = 0;
  while (log.buffered_bytes() + 300 < AccessLog::kFlushThreshold) {
    log.append(entry);
    ++lines;
  }
  CHECK(read_file(path).empty());
  for (int i = 0; i < 10; ++i) log.append(entry);  // crosses the threshold
  CHECK_FALSE(read_file(path).empty());
  log.flush();
  const std::string text = read_file(path);
  CHECK(std::count(text.begin(), text.end(), '\n') == lines + 10);
}

TEST_CASE("access log: an unopenable path throws") {
  CHECK_THROWS(AccessLog("/nonexistent-dir/for/sure/access.log"));
}
