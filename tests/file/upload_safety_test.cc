// Uploads that must not corrupt or pin the server's disk, against the real
// reactor-fileserver and reactor-fileclient (docs/PROTOCOL.md, section 6):
// a resume proven by the held prefix's SHA-256 (version 2), the mtime a
// PUT2 gives the file, and the server's limits on size, free space and
// abandoned uploads.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "protocols/file/sha256.h"
#include "tests/file/rftp_test_support.h"
#include "tests/support/time_scale.h"

using namespace rftp_test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::scaled;

namespace {

int64_t mtime_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return static_cast<int64_t>(info.st_mtim.tv_sec);
}

void set_mtime(const std::string& path, int64_t seconds) {
  const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(seconds), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// Offsets of the PUTs of `path` the server logged at debug level.
std::vector<unsigned long long> logged_put_offsets(const std::string& log,
                                                   const std::string& path) {
  std::vector<unsigned long long> offsets;
  const std::string needle = " PUT " + path + " ";
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    const size_t from = log.find("from ", at + needle.size());
    if (from == std::string::npos || from > log.find('\n', at)) continue;
    offsets.push_back(std::stoull(log.substr(from + 5)));
  }
  return offsets;
}

// Leaves an unfinished upload of `remote` on the server: PUT2 of `content`
// with `mtime`, cut off after `sent` bytes, as a client killed mid-upload.
void abandon_upload(int port, const std::string& remote, const std::string& content, uint64_t sent,
                    int64_t mtime) {
  RawClient observer(port);
  observer.greet();
  {
    RawClient client(port);
    client.greet();
    REQUIRE(client.send(rf::Put2Request{remote, content.size(), 0, mtime}));
    REQUIRE(client.send_bytes(content.substr(0, sent)));
    // The bytes are on the server once another connection's STAT sees them.
    REQUIRE(wait_until([&] {
      if (!observer.send(rf::StatRequest{remote})) return false;
      auto reply = observer.receive(scaled(5s));
      return reply && std::holds_alternative<rf::StatOk>(*reply) &&
             std::get<rf::StatOk>(*reply).upload_offset == sent;
    }));
  }
  // Abandoned once the server has seen the close: until then (its loop may
  // be another than the next client's) RESUME says it is being uploaded.
  REQUIRE(wait_until([&] {
    if (!observer.send(rf::ResumeRequest{remote})) return false;
    auto reply = observer.receive(scaled(5s));
    return reply && std::holds_alternative<rf::ResumeOk>(*reply);
  }));
}

}  // namespace

TEST_CASE("a resume whose held prefix is not the local file's starts over and says so") {
  TempDir served;
  TempDir local;
  constexpr uint64_t kSize = 1 << 20;
  const std::string original = random_bytes(kSize, 1);
  const std::string replacement = random_bytes(kSize, 2);  // same size, other bytes
  Server server(served.path(), {"--log-level", "debug"});
  write_file(local / "up.bin", original);
  const int64_t mtime = mtime_of(local / "up.bin");
  abandon_upload(server.port(), "up.bin", original, kSize / 2, mtime);

  // Replaced with the same size and, as a fast rewrite would, the same
  // mtime: only the prefix's hash can tell.
  write_file(local / "up.bin", replacement);
  set_mtime(local / "up.bin", mtime);
  test_support::ChildProcess put(client_argv({server.endpoint(), "put", local / "up.bin"}));
  CHECK(put.wait_exit(scaled(30s)) == 0);
  CHECK(put.output().find("not resuming") != std::string::npos);
  CHECK(put.output().find("differ") != std::string::npos);
  // What `sha256sum up.bin` says, and the file's own mtime.
  CHECK(rf::to_hex(rf::sha256_of(read_file(served / "up.bin"))) ==
        rf::to_hex(rf::sha256_of(replacement)));
  CHECK(mtime_of(served / "up.bin") == mtime);
  CHECK(logged_put_offsets(server.process().output(), "up.bin").back() == 0);
}

TEST_CASE("a resume whose held prefix matches continues where it stopped") {
  TempDir served;
  TempDir local;
  constexpr uint64_t kSize = 1 << 20;
  const std::string content = random_bytes(kSize, 3);
  Server server(served.path(), {"--log-level", "debug"});
  write_file(local / "up.bin", content);
  set_mtime(local / "up.bin", 1600000000);
  abandon_upload(server.port(), "up.bin", content, kSize / 4, 1600000000);

  test_support::ChildProcess put(client_argv({server.endpoint(), "put", local / "up.bin"}));
  CHECK(put.wait_exit(scaled(30s)) == 0);
  CHECK(put.output().find("not resuming") == std::string::npos);
  CHECK(read_file(served / "up.bin") == content);
  CHECK(logged_put_offsets(server.process().output(), "up.bin").back() == kSize / 4);
  CHECK(mtime_of(served / "up.bin") == 1600000000);
}

TEST_CASE("RESUME answers the held prefix's SHA-256; PUT2 must resume with the recorded mtime") {
  TempDir served;
  const std::string content = random_bytes(10000, 4);
  Server server(served.path());
  abandon_upload(server.port(), "dir/f.bin", content, 4000, 1234567890);
  RawClient client(server.port());
  client.greet();
  REQUIRE(client.send(rf::ResumeRequest{"./dir//f.bin"}));
  const auto held = expect_reply<rf::ResumeOk>(client);
  CHECK(held.path == "./dir//f.bin");
  CHECK(held.size == 10000);
  CHECK(held.mtime == 1234567890);
  CHECK(held.held == 4000);
  CHECK(held.prefix_digest == rf::sha256_of(content.substr(0, 4000)));

  REQUIRE(client.send(rf::ResumeRequest{"dir/other.bin"}));
  CHECK(client.receive_error_code() == 2);
  // Same size and offset, another mtime: not the file that started it.
  REQUIRE(client.send(rf::Put2Request{"dir/f.bin", 10000, 4000, 1234567891}));
  REQUIRE(client.send_bytes(content.substr(4000)));
  CHECK(client.receive_error_code() == 4);
  REQUIRE(client.send(rf::Put2Request{"dir/f.bin", 10000, 4000, 1234567890}));
  REQUIRE(client.send_bytes(content.substr(4000)));
  CHECK(expect_reply<rf::PutOk>(client).size == 10000);
  CHECK(read_file(served / "dir/f.bin") == content);
  CHECK(mtime_of(served / "dir/f.bin") == 1234567890);
  // A version-1 connection knows neither frame.
  RawClient old(server.port());
  REQUIRE(old.send(rf::Hello{1}));
  expect_reply<rf::HelloOk>(old);
  REQUIRE(old.send(rf::ResumeRequest{"dir/f.bin"}));
  CHECK(old.receive_error_code() == 1);
  CHECK(old.closed_by_server());
}

TEST_CASE("MKDIR creates a directory and its parents; what it may not create is refused") {
  TempDir served;
  write_file(served / "file.txt", "x");
  {
    Server server(served.path());
    RawClient client(server.port());
    client.greet();
    REQUIRE(client.send(rf::MkdirRequest{"./a//b/c"}));
    CHECK(expect_reply<rf::MkdirOk>(client).path == "./a//b/c");
    CHECK(fs::is_directory(served / "a/b/c"));
    // One that exists is no error.
    REQUIRE(client.send(rf::MkdirRequest{"a/b"}));
    CHECK(expect_reply<rf::MkdirOk>(client).path == "a/b");
    // A file in the way, a climb above the root, the server's upload area.
    REQUIRE(client.send(rf::MkdirRequest{"file.txt/sub"}));
    CHECK(client.receive_error_code() == 9);
    REQUIRE(client.send(rf::MkdirRequest{"a/../../outside"}));
    CHECK(client.receive_error_code() == 3);
    REQUIRE(client.send(rf::MkdirRequest{".rftp-uploads/x"}));
    CHECK(client.receive_error_code() == 3);
    CHECK(client.ping());  // refusals leave the connection usable
    CHECK(!fs::exists(served / "../outside"));
    CHECK(!fs::exists(served / ".rftp-uploads/x"));
    // Version 1 has no MKDIR.
    RawClient old(server.port());
    REQUIRE(old.send(rf::Hello{1}));
    expect_reply<rf::HelloOk>(old);
    REQUIRE(old.send(rf::MkdirRequest{"v1"}));
    CHECK(old.receive_error_code() == 1);
    CHECK(old.closed_by_server());
    CHECK(!fs::exists(served / "v1"));
  }
  Server read_only(served.path(), {"--read-only"});
  RawClient client(read_only.port());
  client.greet();
  REQUIRE(client.send(rf::MkdirRequest{"new"}));
  CHECK(client.receive_error_code() == 3);
  CHECK(!fs::exists(served / "new"));
}

TEST_CASE("the per-transfer log line escapes a client's name: no forged or split lines") {
  TempDir served;
  Server server(served.path());
  RawClient client(server.port());
  client.greet();
  const std::string name = "e\x1b[31mred\nforged line";
  REQUIRE(client.send(rf::Put2Request{name, 1, 0, 1600000000}));
  REQUIRE(client.send_bytes("Z"));
  CHECK(expect_reply<rf::PutOk>(client).size == 1);
  REQUIRE(server.process().wait_for_output("red\\nforged line: 1 bytes"));
  const std::string& log = server.process().output();
  CHECK(log.find("PUT e\\x1b[31mred\\nforged line: 1 bytes") != std::string::npos);
  CHECK(log.find('\x1b') == std::string::npos);
  CHECK(log.find("\nforged line") == std::string::npos);
}

TEST_CASE("--max-file-size refuses a larger PUT before writing anything") {
  TempDir served;
  Server server(served.path(), {"--max-file-size", "1k"});
  RawClient client(server.port());
  client.greet();
  REQUIRE(client.send(rf::Put2Request{"big.bin", 1025, 0, 0}));
  REQUIRE(client.send_bytes(std::string(1025, 'x')));  // drained, never kept
  CHECK(client.receive_error_code() == 6);
  REQUIRE(client.send(rf::StatRequest{"big.bin"}));
  CHECK(client.receive_error_code() == 2);  // no unfinished upload either
  REQUIRE(client.send(rf::Put2Request{"fits.bin", 1024, 0, 0}));
  REQUIRE(client.send_bytes(std::string(1024, 'y')));
  CHECK(expect_reply<rf::PutOk>(client).size == 1024);
}

TEST_CASE("an abandoned upload expires, and then a PUT that needed its space succeeds") {
  TempDir base;
  const std::string root = base / "root";
  Tmpfs disk(root, 4 << 20);
  // Leaves at most 256 KiB of the 4 MiB free: a 2 MiB PUT needs the 3 MiB
  // the abandoned upload holds.
  Server server(root, {"--upload-expiry", "2s", "--min-free-space", "256k"});
  const std::string abandoned = random_bytes(3 << 20, 5);
  abandon_upload(server.port(), "abandoned.bin", abandoned + "more", abandoned.size(), 0);

  RawClient client(server.port());
  client.greet();
  const std::string wanted = random_bytes(2 << 20, 6);
  REQUIRE(client.send(rf::Put2Request{"wanted.bin", wanted.size(), 0, 0}));
  REQUIRE(client.send_bytes(wanted));
  const auto refused = client.receive(scaled(10s));
  REQUIRE(refused.has_value());
  REQUIRE(std::holds_alternative<rf::ErrorReply>(*refused));
  CHECK(std::get<rf::ErrorReply>(*refused).code == 6);
  CHECK(std::get<rf::ErrorReply>(*refused).message.find("free") != std::string::npos);
  REQUIRE(client.send(rf::StatRequest{"wanted.bin"}));
  CHECK(client.receive_error_code() == 2);  // refused before a byte was written

  // The sweep removes the abandoned upload once it has been idle for 2 s.
  CHECK(wait_until(
      [&] {
        if (!client.send(rf::StatRequest{"abandoned.bin"})) return false;
        return client.receive_error_code() == 2;
      },
      scaled(15s)));
  CHECK(files_with_suffix(root + "/.rftp-uploads", ".part").empty());
  REQUIRE(client.send(rf::Put2Request{"wanted.bin", wanted.size(), 0, 0}));
  REQUIRE(client.send_bytes(wanted));
  CHECK(expect_reply<rf::PutOk>(client).size == wanted.size());
  CHECK(read_file(root + "/wanted.bin") == wanted);
  CHECK(server.stop() == 0);
}

TEST_CASE("leftovers of a crash are swept at start; a resumable upload is kept") {
  TempDir served;
  const std::string area = served / ".rftp-uploads";
  {
    Server first(served.path());
    abandon_upload(first.port(), "kept.bin", std::string(100, 'k'), 60, 0);
    CHECK(first.stop() == 0);
  }
  const auto kept_parts = files_with_suffix(area, ".part");
  REQUIRE(kept_parts.size() == 1);
  write_file(area + "/0123.meta.tmp", "rftp-upload 2\n");
  write_file(area + "/4567.part", "");  // empty, with a record
  write_file(area + "/4567.meta", "rftp-upload 2\n10\n-\nempty.bin\n");
  write_file(area + "/89ab.part", "no record");

  Server second(served.path());
  CHECK(!exists(area + "/0123.meta.tmp"));
  CHECK(!exists(area + "/4567.part"));
  CHECK(!exists(area + "/4567.meta"));
  CHECK(!exists(area + "/89ab.part"));
  CHECK(files_with_suffix(area, ".part") == kept_parts);
  RawClient client(second.port());
  client.greet();
  REQUIRE(client.send(rf::StatRequest{"kept.bin"}));
  CHECK(expect_reply<rf::StatOk>(client).upload_offset == 60);
  CHECK(second.stop() == 0);
}

TEST_CASE("modification times survive put and get (a protocol field, not the local clock)") {
  TempDir served;
  TempDir local;
  Server server(served.path());
  write_file(local / "old.txt", "written long ago\n");
  set_mtime(local / "old.txt", 1000000000);  // 2001
  const auto put = run_client({server.endpoint(), "put", local / "old.txt", "--to", "d"});
  REQUIRE(put.status == 0);
  CHECK(mtime_of(served / "d/old.txt") == 1000000000);

  write_file(served / "server.txt", "made on the server\n");
  set_mtime(served / "server.txt", 1200000000);
  const auto got = run_client({server.endpoint(), "get", "server.txt", local / "copy.txt"});
  REQUIRE(got.status == 0);
  CHECK(read_file(local / "copy.txt") == "made on the server\n");
  CHECK(mtime_of(local / "copy.txt") == 1200000000);
  const auto verified =
      run_client({server.endpoint(), "get", "--verify", "d/old.txt", local / "again.txt"});
  REQUIRE(verified.status == 0);
  CHECK(mtime_of(local / "again.txt") == 1000000000);
}
