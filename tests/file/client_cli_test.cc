// reactor-fileclient as a user meets it: what each command prints, the
// exit codes the issue fixes, where get puts its file, and the rules for
// resuming (or refusing to resume) a .part.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "protocols/file/sha256.h"
#include "tests/file/rftp_test_support.h"

using namespace rftp_test;
namespace rf = reactor::file;

namespace {

struct Setup {
  TempDir served;
  TempDir local;
  std::unique_ptr<Server> server;

  Setup() {
    write_file(served / "notes.txt", "some notes\n");
    make_directories(served / "docs/deeper");
    write_file(served / "docs/a b.txt", "spaced");
    server = std::make_unique<Server>(served.path());
  }
  test_support::CommandResult client(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), server->endpoint());
    return run_client(arguments, local.path());
  }
};

void set_mtime(const std::string& path, time_t seconds) {
  timeval times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimes(path.c_str(), times) == 0);
}

}  // namespace

TEST_CASE("ls prints kind, size, UTC time and the name last, one entry per line") {
  Setup setup;
  set_mtime(setup.served / "notes.txt", 1700000000);
  auto ls = setup.client({"ls"});
  REQUIRE(ls.status == 0);
  CHECK(ls.out.find("d            0  ") != std::string::npos);
  CHECK(ls.out.find("-           11  2023-11-14T22:13:20Z  notes.txt\n") != std::string::npos);
  CHECK(ls.out.find('\r') == std::string::npos);
  auto docs = setup.client({"ls", "docs"});
  REQUIRE(docs.status == 0);
  CHECK(docs.out.find("  a b.txt\n") != std::string::npos);
  CHECK(docs.out.find("  deeper\n") != std::string::npos);
}

TEST_CASE("stat and hash print readable lines") {
  Setup setup;
  auto stat = setup.client({"stat", "notes.txt"});
  REQUIRE(stat.status == 0);
  CHECK(stat.out.find("kind: file\n") != std::string::npos);
  CHECK(stat.out.find("size: 11\n") != std::string::npos);
  auto hash = setup.client({"hash", "notes.txt"});
  REQUIRE(hash.status == 0);
  CHECK(hash.out == rf::to_hex(rf::sha256_of("some notes\n")) + "  notes.txt\n");
  auto ping = setup.client({"ping"});
  CHECK(ping.status == 0);
  CHECK(ping.out.find("pong from 127.0.0.1:") == 0);
}

TEST_CASE("exit codes") {
  Setup setup;
  SUBCASE("1: the server answered with an error") {
    CHECK(setup.client({"stat", "missing"}).status == 1);
    CHECK(setup.client({"ls", "notes.txt"}).status == 1);
    CHECK(setup.client({"get", "../outside"}).status == 1);
    CHECK(setup.client({"hash", "docs"}).status == 1);
  }
  SUBCASE("2: usage") {
    CHECK(run_client({}).status == 2);
    CHECK(run_client({setup.server->endpoint()}).status == 2);
    CHECK(run_client({"no-port-here", "ping"}).status == 2);
    CHECK(run_client({"127.0.0.1:99999", "ping"}).status == 2);
    CHECK(setup.client({"frobnicate"}).status == 2);
    CHECK(setup.client({"stat"}).status == 2);
    CHECK(setup.client({"put"}).status == 2);
    CHECK(setup.client({"put", setup.local / "x", "--watch", setup.local.path()}).status == 2);
    CHECK(setup.client({"get", "docs/.."}).status == 2);
    CHECK(run_client({"--help"}).status == 0);
  }
  SUBCASE("3: nothing listening, or not an RFTP server") {
    TempDir spare;
    Server stopped(spare.path());
    std::string endpoint = stopped.endpoint();
    REQUIRE(stopped.stop() == 0);
    auto refused = run_client({endpoint, "ping"});
    CHECK(refused.status == 3);
  }
  SUBCASE("4: local I/O") {
    CHECK(setup.client({"put", setup.local / "does-not-exist"}).status == 4);
    make_directories(setup.local / "readonly");
    ::chmod((setup.local / "readonly").c_str(), 0500);
    if (::geteuid() != 0) {  // root writes anywhere
      CHECK(setup.client({"get", "notes.txt", setup.local / "readonly/x"}).status == 4);
    }
    CHECK(setup.client({"get", "notes.txt", setup.local / "no/such/dir/x"}).status == 4);
  }
}

TEST_CASE("get: default name, directory targets, and no trace when complete") {
  Setup setup;
  REQUIRE(setup.client({"get", "notes.txt"}).status == 0);
  CHECK(read_file(setup.local / "notes.txt") == "some notes\n");
  make_directories(setup.local / "into");
  REQUIRE(setup.client({"get", "docs/a b.txt", "into"}).status == 0);
  CHECK(read_file(setup.local / "into/a b.txt") == "spaced");
  REQUIRE(setup.client({"get", "notes.txt", "renamed.txt"}).status == 0);
  CHECK(read_file(setup.local / "renamed.txt") == "some notes\n");
  CHECK(files_with_suffix(setup.local.path(), ".part").empty());
  CHECK(files_with_suffix(setup.local.path(), ".info").empty());
}

TEST_CASE("get removes a stale .part when the server says the file is gone") {
  Setup setup;
  write_file(setup.local / "gone.txt.part", "half");
  write_file(setup.local / "gone.txt.part.info", "anything");
  CHECK(setup.client({"get", "gone.txt"}).status == 1);
  CHECK_FALSE(exists(setup.local / "gone.txt.part"));
  CHECK_FALSE(exists(setup.local / "gone.txt.part.info"));
  CHECK_FALSE(exists(setup.local / "gone.txt"));
}

TEST_CASE("a .part is resumed only while the remote size and mtime are unchanged") {
  Setup setup;
  std::string content = random_bytes(100000, 5);
  write_file(setup.served / "data.bin", content);
  set_mtime(setup.served / "data.bin", 1600000000);
  // A .part that holds a wrong prefix, recorded as belonging to data.bin.
  std::string junk(40000, 'J');
  auto plant_partial = [&](uint64_t size, int64_t mtime) {
    write_file(setup.local / "data.bin.part", junk);
    write_file(setup.local / "data.bin.part.info", "rftp-partial 1\nsize " + std::to_string(size) +
                                                       "\nmtime " + std::to_string(mtime) +
                                                       "\nremote data.bin\n");
  };

  SUBCASE("a different mtime: start over, never splice") {
    plant_partial(content.size(), 1600000001);
    REQUIRE(setup.client({"get", "data.bin"}).status == 0);
    CHECK(read_file(setup.local / "data.bin") == content);
  }
  SUBCASE("a different size: start over") {
    plant_partial(content.size() + 1, 1600000000);
    REQUIRE(setup.client({"get", "data.bin"}).status == 0);
    CHECK(read_file(setup.local / "data.bin") == content);
  }
  SUBCASE("a matching record is trusted; --verify catches the bad prefix") {
    plant_partial(content.size(), 1600000000);
    auto verified = setup.client({"get", "data.bin", "--verify"});
    CHECK(verified.status == 1);
    CHECK_FALSE(exists(setup.local / "data.bin"));
    CHECK_FALSE(exists(setup.local / "data.bin.part"));  // unusable: removed
    REQUIRE(setup.client({"get", "data.bin", "--verify"}).status == 0);
    CHECK(read_file(setup.local / "data.bin") == content);
  }
  SUBCASE("a matching record with the right prefix resumes") {
    junk = content.substr(0, 40000);
    plant_partial(content.size(), 1600000000);
    REQUIRE(setup.client({"get", "data.bin", "--verify"}).status == 0);
    CHECK(read_file(setup.local / "data.bin") == content);
  }
}

TEST_CASE("LOCAL is replaced only when the download is complete") {
  Setup setup;
  write_file(setup.local / "notes.txt", "old local copy");
  CHECK(setup.client({"get", "missing.txt", setup.local / "notes.txt"}).status == 1);
  CHECK(read_file(setup.local / "notes.txt") == "old local copy");
  REQUIRE(setup.client({"get", "notes.txt"}).status == 0);
  CHECK(read_file(setup.local / "notes.txt") == "some notes\n");
}

TEST_CASE("put: into directories, refusals reported, output clean when not a terminal") {
  Setup setup;
  write_file(setup.local / "one.txt", "1");
  write_file(setup.local / "two.txt", "22");
  auto put =
      setup.client({"put", setup.local / "one.txt", setup.local / "two.txt", "--to", "up/load"});
  REQUIRE(put.status == 0);
  CHECK(put.out.empty());
  CHECK(read_file(setup.served / "up/load/one.txt") == "1");
  CHECK(read_file(setup.served / "up/load/two.txt") == "22");
  auto refused = setup.client({"put", setup.local / "one.txt", "--to", "../escape"});
  CHECK(refused.status == 1);
  auto onto_file = setup.client({"put", setup.local / "one.txt", "--to", "notes.txt"});
  CHECK(onto_file.status == 1);
  // A file the server already holds completely is uploaded again (it may differ).
  write_file(setup.local / "one.txt", "changed");
  REQUIRE(setup.client({"put", setup.local / "one.txt", "--to", "up/load"}).status == 0);
  CHECK(read_file(setup.served / "up/load/one.txt") == "changed");
}

TEST_CASE("a read-only server makes put fail with exit code 1") {
  TempDir served;
  TempDir local;
  Server server(served.path(), {"--read-only"});
  write_file(local / "f.txt", "x");
  CHECK(run_client({server.endpoint(), "put", local / "f.txt"}).status == 1);
  CHECK_FALSE(exists(served / "f.txt"));
  CHECK_FALSE(exists(served / ".rftp-uploads"));
}
