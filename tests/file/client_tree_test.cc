// get -r / put -r between the real reactor-fileclient and
// reactor-fileserver: a tree with nested directories, empty files and
// unicode names makes the round trip, unchanged files are skipped (by size
// and mtime, or by SHA-256 with --checksum), and a resumed file says so.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <csignal>

#include <filesystem>
#include <map>

#include "tests/file/rftp_test_support.h"

using namespace rftp_test;
namespace fs = std::filesystem;

namespace {

// Relative path -> size of every regular file under `root`; directories
// (empty ones included) map to -1.
std::map<std::string, long long> tree_of(const std::string& root) {
  std::map<std::string, long long> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative = fs::relative(entry.path(), root).generic_string();
    if (relative.find(".rftp-uploads") == 0) continue;
    tree[relative] = entry.is_directory() ? -1 : static_cast<long long>(entry.file_size());
  }
  return tree;
}

// Every file under `a` has the same bytes under `b` (and the same set).
void check_same_tree(const std::string& a, const std::string& b) {
  const auto left = tree_of(a);
  const auto right = tree_of(b);
  CHECK(left == right);
  for (const auto& [relative, size] : left) {
    if (size < 0) continue;
    CAPTURE(relative);
    CHECK(files_equal(a + "/" + relative, b + "/" + relative));
  }
}

time_t mtime_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mtim.tv_sec;
}

void set_mtime(const std::string& path, time_t seconds) {
  timeval times[2] = {{seconds, 0}, {seconds, 0}};
  REQUIRE(::utimes(path.c_str(), times) == 0);
}

int count(const std::string& text, const std::string& needle) {
  int found = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++found;
  }
  return found;
}

struct Trees {
  TempDir served;
  TempDir local;
  std::unique_ptr<Server> server;

  Trees() {
    make_directories(local / "src/deep/er/est");
    make_directories(local / "src/ünïcödé 日本");
    // Directories with no file below them: only MKDIR creates them remotely.
    make_directories(local / "src/empty-dir/nested/deeper");
    make_directories(local / "src/ünïcödé 日本/leer");
    write_file(local / "src/top.txt", "top\n");
    write_file(local / "src/empty", "");
    write_file(local / "src/deep/er/est/also-empty", "");
    write_random_file(local / "src/deep/er/est/big.bin", 3 * 1024 * 1024 + 7, 11);
    write_random_file(local / "src/ünïcödé 日本/😀 emoji.bin", 70000, 12);
    write_file(local / "src/deep/same-size.txt", "AAAA");
    server = std::make_unique<Server>(served.path());
  }
  test_support::CommandResult client(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), server->endpoint());
    return run_client(arguments, local.path());
  }
};

}  // namespace

TEST_CASE("put -r then get -r: nested directories, empty files and unicode names, byte for byte") {
  Trees trees;
  auto put = trees.client({"put", "-r", "src", "--to", "up"});
  REQUIRE(put.status == 0);
  check_same_tree(trees.local / "src", trees.served / "up/src");  // empty directories too
  CHECK(fs::is_directory(trees.served / "up/src/empty-dir/nested/deeper"));

  make_directories(trees.served / "up/src/only-remote-empty-dir");
  auto get = trees.client({"get", "-r", "up/src", "copy"});
  REQUIRE(get.status == 0);
  check_same_tree(trees.served / "up/src", trees.local / "copy/src");
  CHECK(fs::is_directory(trees.local / "copy/src/only-remote-empty-dir"));
  // Downloads carry the server's mtime.
  set_mtime(trees.served / "up/src/top.txt", 1600000000);
  REQUIRE(trees.client({"get", "-r", "up/src", "copy"}).status == 0);
  CHECK(mtime_of(trees.local / "copy/src/top.txt") == 1600000000);
  CHECK(mtime_of(trees.local / "copy/src/deep/er/est/big.bin") ==
        mtime_of(trees.served / "up/src/deep/er/est/big.bin"));
  // No trace of the .part mechanism is left.
  CHECK(files_with_suffix(trees.local / "copy", ".part").empty());
  CHECK(files_with_suffix(trees.local / "copy", ".info").empty());
}

TEST_CASE(
    "put -r: a symlink goes under its own name, never outside --to; dangling ones are skipped") {
  TempDir served;
  TempDir local;
  make_directories(local / "elsewhere");
  make_directories(local / "src");
  write_file(local / "outside.txt", "outside the tree\n");
  write_file(local / "elsewhere/x.txt", "x\n");
  write_file(local / "src/real.txt", "real\n");
  REQUIRE(::symlink("real.txt", (local / "src/inlink").c_str()) == 0);
  REQUIRE(::symlink("../outside.txt", (local / "src/outlink").c_str()) == 0);
  REQUIRE(::symlink("nowhere", (local / "src/dangling").c_str()) == 0);
  REQUIRE(::symlink("../elsewhere", (local / "src/linkdir").c_str()) == 0);
  make_directories(served / "dest");
  write_file(served / "dest/outside.txt", "on the server, not to be touched\n");
  Server server(served.path());
  const auto put =
      run_client({server.endpoint(), "put", "-r", "src", "--to", "dest"}, local.path());
  CHECK(put.status == 0);
  const auto tree = tree_of(served / "dest");
  const std::map<std::string, long long> expected = {{"outside.txt", 33},
                                                     {"src", -1},
                                                     {"src/real.txt", 5},
                                                     {"src/inlink", 5},
                                                     {"src/outlink", 17}};
  CHECK(tree == expected);
  CHECK(read_file(served / "dest/src/outlink") == "outside the tree\n");
  CHECK(read_file(served / "dest/outside.txt") == "on the server, not to be touched\n");
}

TEST_CASE("unchanged files are skipped: size and mtime, or SHA-256 with --checksum") {
  Trees trees;
  REQUIRE(trees.client({"put", "-r", "src", "--to", "up"}).status == 0);
  REQUIRE(trees.client({"get", "-r", "up/src", "copy"}).status == 0);

  SUBCASE("get -r") {
    auto again = trees.client({"get", "-r", "up/src", "copy", "-v"});
    REQUIRE(again.status == 0);
    CAPTURE(again.out);
    CHECK(count(again.out, "\nunchanged ") + (again.out.starts_with("unchanged ") ? 1 : 0) == 6);
    CHECK(count(again.out, "downloaded ") == 0);

    // Same size, new content, but the old mtime put back: by size and
    // mtime it looks unchanged (rsync's quick check), --checksum sees it.
    const std::string remote = trees.served / "up/src/deep/same-size.txt";
    const time_t before = mtime_of(remote);
    write_file(remote, "BBBB");
    set_mtime(remote, before);
    REQUIRE(trees.client({"get", "-r", "up/src", "copy"}).status == 0);
    CHECK(read_file(trees.local / "copy/src/deep/same-size.txt") == "AAAA");
    auto checked = trees.client({"get", "-r", "up/src", "copy", "--checksum", "-v"});
    REQUIRE(checked.status == 0);
    CAPTURE(checked.out);
    CHECK(count(checked.out, "downloaded ") == 1);
    CHECK(read_file(trees.local / "copy/src/deep/same-size.txt") == "BBBB");

    // A different mtime alone is enough to fetch the file again.
    set_mtime(remote, before - 100);
    auto refreshed = trees.client({"get", "-r", "up/src", "copy", "-v"});
    CHECK(count(refreshed.out, "downloaded ") == 1);
    CHECK(mtime_of(trees.local / "copy/src/deep/same-size.txt") == before - 100);
  }
  SUBCASE("put -r") {
    auto again = trees.client({"put", "-r", "src", "--to", "up", "-v"});
    REQUIRE(again.status == 0);
    CAPTURE(again.out);
    CHECK(count(again.out, "unchanged ") == 6);
    CHECK(count(again.out, "uploaded ") == 0);
    // Same size, new content, but the old mtime put back: by size and mtime
    // (PUT2 gave the server the local mtime) it looks unchanged, as with
    // rsync's quick check; --checksum sees it.
    const std::string local = trees.local / "src/deep/same-size.txt";
    const time_t before = mtime_of(local);
    write_file(local, "CCCC");
    set_mtime(local, before);
    REQUIRE(trees.client({"put", "-r", "src", "--to", "up"}).status == 0);
    CHECK(read_file(trees.served / "up/src/deep/same-size.txt") == "AAAA");
    auto checked = trees.client({"put", "-r", "src", "--to", "up", "--checksum", "-v"});
    REQUIRE(checked.status == 0);
    CAPTURE(checked.out);
    CHECK(count(checked.out, "uploaded ") == 1);
    CHECK(read_file(trees.served / "up/src/deep/same-size.txt") == "CCCC");
    // A different mtime alone is enough to upload it again, and the server
    // keeps the new one.
    set_mtime(local, before - 100);
    auto refreshed = trees.client({"put", "-r", "src", "--to", "up", "-v"});
    CAPTURE(refreshed.out);
    CHECK(count(refreshed.out, "uploaded ") == 1);
    CHECK(mtime_of(trees.served / "up/src/deep/same-size.txt") == before - 100);
    // A changed size is always uploaded.
    write_file(trees.local / "src/top.txt", "longer top\n");
    REQUIRE(trees.client({"put", "-r", "src", "--to", "up"}).status == 0);
    CHECK(read_file(trees.served / "up/src/top.txt") == "longer top\n");
  }
}

TEST_CASE("get -r resumes a file from its .part and says from where") {
  Trees trees;
  REQUIRE(trees.client({"put", "-r", "src", "--to", "up"}).status == 0);
  const std::string remote = trees.served / "up/src/deep/er/est/big.bin";
  const std::string content = read_file(remote);
  struct stat info {};
  REQUIRE(::stat(remote.c_str(), &info) == 0);
  // What an interrupted `get` leaves: the right prefix and its record.
  make_directories(trees.local / "copy/src/deep/er/est");
  write_file(trees.local / "copy/src/deep/er/est/big.bin.part", content.substr(0, 1 << 20));
  write_file(trees.local / "copy/src/deep/er/est/big.bin.part.info",
             "rftp-partial 1\nsize " + std::to_string(content.size()) + "\nmtime " +
                 std::to_string(info.st_mtim.tv_sec) + "\nremote up/src/deep/er/est/big.bin\n");
  TempDir scratch;
  auto argv = client_argv({trees.server->endpoint(), "get", "-r", "up/src", trees.local / "copy"});
  std::vector<std::string> shell{"sh", "-c", "f=$1; shift; exec \"$@\" 2>\"$f\"", "sh",
                                 scratch / "err"};
  shell.insert(shell.end(), argv.begin(), argv.end());
  auto resumed = test_support::run_command(shell);
  REQUIRE(resumed.status == 0);
  const std::string err = read_file(scratch / "err");
  CAPTURE(err);
  CHECK(err.find("resuming " +
                 trees.local / "copy/src/deep/er/est/big.bin from 1.00 MiB of 3.00 MiB") !=
        std::string::npos);
  check_same_tree(trees.served / "up/src", trees.local / "copy/src");
}

TEST_CASE("get -r progress counts files and bytes of the whole transfer") {
  // script(1) gives the client a terminal, so the bar is drawn on stderr.
  Trees trees;
  REQUIRE(trees.client({"put", "-r", "src", "--to", "up"}).status == 0);
  const std::string command = "'" + client_program() + "' " + trees.server->endpoint() +
                              " get -r up/src '" + trees.local / "copy" + "'";
  const auto shown = test_support::run_command({"script", "-qec", command, "/dev/null"});
  REQUIRE(shown.status == 0);
  CAPTURE(shown.out);
  CHECK(shown.out.find("6/6 files") != std::string::npos);
  CHECK(shown.out.find("100%") != std::string::npos);
  CHECK(shown.out.find("3.07 MiB / 3.07 MiB") != std::string::npos);
}

namespace {

// reactor-fileserver on a given port (0: any), logging each request, so a
// test can restart it where a client expects it.
std::unique_ptr<test_support::ChildProcess> start_server(const std::string& directory, int port) {
  auto server = std::make_unique<test_support::ChildProcess>(
      std::vector<std::string>{server_program(), std::to_string(port), directory, "--bind",
                               "127.0.0.1", "--log-level", "debug"});
  server->wait_for_port();
  return server;
}

// PUT lines the server logged for `path` (its debug lines read
// "... PUT inbox/a.txt size 9 from 0").
int puts_logged(test_support::ChildProcess& server, const std::string& path) {
  return count(server.output(), " PUT " + path + " ");
}

}  // namespace

TEST_CASE("put --watch -r keeps uploading across a server restart, and never resends") {
  TempDir served;
  TempDir watched;
  auto server = start_server(served.path(), 0);
  const int port = server->wait_for_port();
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  auto arrived = [&](const std::string& name, const std::string& content) {
    return wait_until([&] { return read_file(served / ("inbox/" + name)) == content; },
                      test_support::scaled(std::chrono::seconds(15)));
  };
  write_file(watched / "before.txt", "was there first");
  auto watcher = std::make_unique<test_support::ChildProcess>(client_argv(
      {endpoint, "put", "--watch", watched.path(), "-r", "--to", "inbox", "--heartbeat", "0.3"}));
  REQUIRE(watcher->wait_for_output("watching "));
  CHECK(arrived("before.txt", "was there first"));
  // A subdirectory created while watching, and one inside it.
  make_directories(watched / "sub/deeper");
  write_file(watched / "sub/deeper/nested.txt", "nested");
  write_file(watched / "sub/b.txt", "bee");
  CHECK(arrived("sub/deeper/nested.txt", "nested"));
  CHECK(arrived("sub/b.txt", "bee"));

  // The server goes away; files keep coming; a new server on the same port.
  REQUIRE(server->wait_exit(std::chrono::milliseconds(0)) == -1);
  server->send_signal(SIGTERM);
  REQUIRE(server->wait_exit() == 0);
  server.reset();
  CHECK(watcher->wait_for_output("reconnecting in "));
  write_file(watched / "during.txt", "written while the server was down");
  make_directories(watched / "sub2");
  write_file(watched / "sub2/c.txt", "sea");
  server = start_server(served.path(), port);
  CHECK(arrived("during.txt", "written while the server was down"));
  CHECK(arrived("sub2/c.txt", "sea"));
  CHECK(watcher->wait_for_output("reconnected to "));
  CHECK(watcher->running());
  // Nothing that was already uploaded went again.
  CHECK(puts_logged(*server, "inbox/before.txt") == 0);
  CHECK(puts_logged(*server, "inbox/sub/b.txt") == 0);
  CHECK(puts_logged(*server, "inbox/sub/deeper/nested.txt") == 0);
  CHECK(puts_logged(*server, "inbox/during.txt") == 1);

  // The watcher itself restarts: its record says what is done, and what
  // changed while it was away -- even at the same size, which the server's
  // STAT alone would take for the same file.
  watcher->send_signal(SIGTERM);
  CHECK(watcher->wait_exit() == 0);
  write_file(watched / "sub/b.txt", "BEE");
  watcher = std::make_unique<test_support::ChildProcess>(client_argv(
      {endpoint, "put", "--watch", watched.path(), "-r", "--to", "inbox", "--heartbeat", "0.3"}));
  REQUIRE(watcher->wait_for_output("watching "));
  write_file(watched / "sub/after.txt", "after the restart");
  CHECK(arrived("sub/after.txt", "after the restart"));
  CHECK(arrived("sub/b.txt", "BEE"));
  write_file(watched / "before.txt", "changed");
  CHECK(arrived("before.txt", "changed"));
  CHECK(puts_logged(*server, "inbox/before.txt") == 1);
  CHECK(puts_logged(*server, "inbox/sub/b.txt") == 1);
  CHECK(puts_logged(*server, "inbox/during.txt") == 1);
  CHECK(puts_logged(*server, "inbox/sub2/c.txt") == 1);
  watcher->send_signal(SIGTERM);
  CHECK(watcher->wait_exit() == 0);
}
