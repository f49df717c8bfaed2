// reactor-fileserver under conditions the happy path never meets: a full
// disk, a rename across file systems, files it may not read, special
// files, a file shrinking under a GET, a long HASH; and its command line
// (--help, bad arguments, --workers, a second signal). The rules checked
// are those of docs/PROTOCOL.md.
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "tests/file/rftp_test_support.h"
#include "tests/support/cli_help.h"
#include "tests/support/net.h"
#include "tests/support/time_scale.h"

using namespace rftp_test;
using namespace std::chrono_literals;
using test_support::scaled;

namespace {

// argv run as user nobody when the test runs as root (root reads every
// file, so "permission denied" needs a server without that power).
std::vector<std::string> unprivileged(std::vector<std::string> argv) {
  if (::geteuid() == 0) {
    argv.insert(argv.begin(),
                {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  }
  return argv;
}

// Number of threads of a process, from /proc/PID/status.
int thread_count(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("Threads:")) return std::stoi(line.substr(8));
  }
  return -1;
}

// Runs reactor-fileserver with exactly `args` and waits for it to exit.
std::pair<int, std::string> run_server_to_exit(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {server_program()};
  argv.insert(argv.end(), args.begin(), args.end());
  test_support::ChildProcess server(argv);
  const int status = server.wait_exit(scaled(10s));
  return {status, server.output()};
}

}  // namespace

TEST_CASE("a full disk under a PUT is ERROR 6 at once; the bytes written stay resumable") {
  TempDir base;
  const std::string root = base / "root";
  Tmpfs disk(root, 256 * 1024);
  Server server(root);
  RawClient client(server.port());
  client.greet();
  constexpr uint64_t kSize = 1 << 20;  // four times the disk
  REQUIRE(client.send(rf::PutRequest{"big.bin", kSize, 0}));
  REQUIRE(client.send_bytes(random_bytes(kSize, 3)));  // the rest is drained
  CHECK(client.receive_error_code(scaled(10s)) == 6);
  CHECK(client.ping(1));
  REQUIRE(client.send(rf::StatRequest{"big.bin"}));
  const auto stat = expect_reply<rf::StatOk>(client);
  CHECK(stat.kind == rf::EntryKind::kUnfinishedUpload);
  CHECK(stat.size == kSize);
  CHECK(stat.upload_offset > 0);
  CHECK(stat.upload_offset < 256 * 1024);
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("a write error other than a full disk is ERROR 5 (a PUT into another file system)") {
  // The upload area is on the root's file system; the final rename into a
  // subdirectory that is a mount point of its own fails (EXDEV).
  TempDir root;
  Tmpfs other(root / "mounted", 1 << 20);
  Server server(root.path());
  RawClient client(server.port());
  client.greet();
  REQUIRE(client.send(rf::PutRequest{"mounted/x.txt", 5, 0}));
  REQUIRE(client.send_bytes("hello"));
  CHECK(client.receive_error_code(scaled(10s)) == 5);
  // Control: the same upload beside the mount point succeeds.
  REQUIRE(client.send(rf::PutRequest{"x.txt", 5, 0}));
  REQUIRE(client.send_bytes("hello"));
  CHECK(expect_reply<rf::PutOk>(client).size == 5);
  CHECK(read_file(root / "x.txt") == "hello");
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("a file the server may not read is ERROR 3, for GET and HASH alike") {
  TempDir root;
  ::chmod(root.path().c_str(), 0755);  // nobody may enter the root...
  write_file(root / "public.txt", "anyone");
  write_file(root / "private.txt", "root only");
  ::chmod((root / "public.txt").c_str(), 0644);
  ::chmod((root / "private.txt").c_str(), 0600);  // ...but not read this
  if (::geteuid() != 0) ::chmod((root / "private.txt").c_str(), 0);
  test_support::ChildProcess server(
      unprivileged({server_program(), "0", root.path(), "--bind", "127.0.0.1", "--read-only"}));
  RawClient client(server.wait_for_port());
  client.greet();
  REQUIRE(client.send(rf::GetRequest{"private.txt", 0}));
  CHECK(client.receive_error_code() == 3);
  REQUIRE(client.send(rf::HashRequest{"private.txt"}));
  CHECK(client.receive_error_code() == 3);
  // Control: the same server reads a file it may read.
  REQUIRE(client.send(rf::GetRequest{"public.txt", 0}));
  expect_reply<rf::DataHeader>(client);
  CHECK(client.data_body == "anyone");
  server.send_signal(SIGTERM);
  CHECK(server.wait_exit(scaled(10s)) == 0);
}

TEST_CASE("special files are kind 2 and ERROR 8 for GET and HASH") {
  // A character device like /dev/null (mknod needs root, as in CI), a FIFO
  // (opening one for reading would wait for a writer) and a Unix socket
  // file (open() fails with ENXIO, which once came out as ERROR 5).
  TempDir root;
  REQUIRE_MESSAGE(::mknod((root / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0,
                  "mknod: " << std::strerror(errno) << " (the test needs root, as in CI)");
  REQUIRE(::mkfifo((root / "fifo").c_str(), 0644) == 0);
  const std::string socket_path = root / "socket";
  const int listener = test_support::bind_unix_socket(socket_path, false);
  const std::vector<std::string> specials = {"null", "fifo", "socket"};
  write_file(root / "plain.txt", "plain");
  Server server(root.path());
  RawClient client(server.port());
  client.greet();
  for (const std::string& name : specials) {
    CAPTURE(name);
    REQUIRE(client.send(rf::StatRequest{name}));
    CHECK(expect_reply<rf::StatOk>(client).kind == rf::EntryKind::kOther);
    REQUIRE(client.send(rf::GetRequest{name, 0}));
    CHECK(client.receive_error_code() == 8);
    REQUIRE(client.send(rf::HashRequest{name}));
    CHECK(client.receive_error_code() == 8);
  }
  REQUIRE(client.send(rf::ListRequest{""}));
  const auto listing = expect_reply<rf::ListOk>(client);
  std::map<std::string, rf::EntryKind> kinds;
  for (const auto& entry : listing.entries) kinds[entry.name] = entry.kind;
  CHECK(kinds["plain.txt"] == rf::EntryKind::kFile);  // control
  for (const std::string& name : specials) {
    CAPTURE(name);
    CHECK(kinds.count(name) == 1);
    CHECK(kinds[name] == rf::EntryKind::kOther);
  }
  CHECK(client.ping(2));
  ::close(listener);
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("a file shrinking under a GET makes the server close that connection") {
  TempDir root;
  constexpr uint64_t kSize = 32 << 20;
  write_random_file(root / "big.bin", kSize, 4);
  Server server(root.path());
  RawClient downloader(server.port());
  downloader.greet();
  // Default buffers: 32 MiB is far more than they hold, so most of the
  // file is still to be sent when it shrinks, and what was queued drains
  // fast once we read.
  REQUIRE(downloader.send(rf::GetRequest{"big.bin", 0}));
  const std::string start = downloader.socket().receive_some(scaled(5s));
  REQUIRE_FALSE(start.empty());
  REQUIRE(::truncate((root / "big.bin").c_str(), 1 << 20) == 0);
  bool closed = false;
  const std::string rest = downloader.socket().receive_until_close(scaled(20s), &closed);
  CHECK(closed);
  CHECK(start.size() + rest.size() < kSize);  // the promise could not be kept
  // Others are served on.
  RawClient other(server.port());
  other.greet();
  CHECK(other.ping(3));
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("a long HASH blocks no one else and counts as activity for the idle timeout") {
  TempDir root;
  // Sparse: no disk used, but hashing 3 GiB takes seconds.
  constexpr off_t kSize = off_t{3} << 30;
  write_file(root / "huge.bin", "");
  REQUIRE(::truncate((root / "huge.bin").c_str(), kSize) == 0);
  Server server(root.path(), {"--idle-timeout", "1"});
  RawClient hasher(server.port());
  hasher.greet();
  RawClient other(server.port());
  other.greet();
  RawClient silent(server.port());
  silent.greet();
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(hasher.send(rf::HashRequest{"huge.bin"}));
  // Others are answered at once while the hash runs.
  for (int i = 0; i < 5; ++i) {
    const auto asked = std::chrono::steady_clock::now();
    CHECK(other.ping(static_cast<uint64_t>(10 + i)));
    CHECK(std::chrono::steady_clock::now() - asked < scaled(500ms));
    std::this_thread::sleep_for(200ms);
  }
  // Control for the timeout: a connection with nothing going on is closed.
  CHECK(silent.closed_by_server(scaled(5s)));
  const auto hashed = expect_reply<rf::HashOk>(hasher, 120s);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(hashed.path == "huge.bin");
  // Only meaningful if the hash outlasted the idle timeout by far.
  REQUIRE_MESSAGE(took > 2s,
                  "the HASH took only "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms; make the file larger");
  CHECK(hasher.ping(4));
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("reactor-fileserver --help explains every option; bad arguments exit 2 with one line") {
  const auto [help_status, help] = run_server_to_exit({"--help"});
  CHECK(help_status == 0);
  std::vector<std::string> names;
  for (const auto& [name, explanation] : test_support::options_in_help(help)) {
    names.push_back(name);
    CAPTURE(name);
    CHECK(explanation.size() >= 10);
  }
  CHECK(names == std::vector<std::string>{"--bind", "--grace", "--help", "--idle-timeout",
                                          "--log-level", "--max-connections", "--max-file-size",
                                          "--min-free-space", "--read-only", "--threads",
                                          "--token-file", "--upload-expiry", "--version",
                                          "--workers", "DIR", "PORT"});
  TempDir root;
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"0"},
      {"99999", root.path()},
      {"0", root / "missing"},
      {"0", root.path(), "--workers", "0"},
      {"0", root.path(), "--workers", "65"},
      {"0", root.path(), "--grace", "-1"},
      {"0", root.path(), "--idle-timeout", "soon"},
      {"0", root.path(), "--bind", "localhost"},
      {"0", root.path(), "--log-level", "loud"},
      {"0", root.path(), "--no-such-option"},
      {"0", root.path(), "--bind", "127.0.0.1", "--token-file", root / "missing"},
      {"0", root.path(), "--bind", "127.0.0.1", "--max-file-size", "lots"},
      {"0", root.path(), "--bind", "127.0.0.1", "--upload-expiry", "soon"},
      {"0", root.path(), "--bind", "127.0.0.1", "--upload-expiry", "-1h"},
  };
  for (const auto& args : bad) {
    const auto [status, output] = run_server_to_exit(args);
    CAPTURE(output);
    CHECK(status == 2);
    CHECK(output.starts_with("reactor-fileserver: "));
    CHECK(std::count(output.begin(), output.end(), '\n') == 1);
  }
}

TEST_CASE("--workers sets the number of worker threads of each loop") {
  TempDir root;
  Server one(root.path(), {"--workers", "1", "--threads", "1"});
  Server four(root.path(), {"--workers", "4", "--threads", "1"});
  // Two loops, each with its own pool of four.
  Server two_loops(root.path(), {"--workers", "4", "--threads", "2"});
  const int with_one = thread_count(one.process().pid());
  CHECK(with_one >= 2);  // the loop and the worker
  CHECK(thread_count(four.process().pid()) == with_one + 3);
  CHECK(thread_count(two_loops.process().pid()) == with_one + 3 + 1 + 4);
  CHECK(one.stop(scaled(10s)) == 0);
  CHECK(four.stop(scaled(10s)) == 0);
  CHECK(two_loops.stop(scaled(10s)) == 0);
}

TEST_CASE("a second SIGINT or SIGTERM makes reactor-fileserver exit at once") {
  TempDir root;
  write_random_file(root / "big.bin", 32 << 20, 1);
  for (int signal_number : {SIGINT, SIGTERM}) {
    CAPTURE(signal_number);
    Server server(root.path(), {"--grace", "60"});
    RawClient stuck(server.port());
    stuck.greet();
    stuck.socket().set_receive_buffer(4096);
    REQUIRE(stuck.send(rf::GetRequest{"big.bin", 0}));
    REQUIRE_FALSE(stuck.socket().receive_some(scaled(5s)).empty());
    server.process().send_signal(signal_number);
    REQUIRE(server.process().wait_for_output("shutting down"));
    // Control: the first signal alone waits for the download in flight.
    CHECK(server.process().wait_exit(500ms) == -1);
    server.process().send_signal(signal_number);
    CHECK(server.process().wait_exit(scaled(3s)) == 0);
  }
}

TEST_CASE("the server logs one info line per finished transfer, and no ERROR line for a put") {
  TempDir root;
  TempDir local;
  write_file(local / "up.txt", "six b\n");
  Server server(root.path(), {"--log-level", "debug"});
  REQUIRE(run_client({server.endpoint(), "put", local / "up.txt", "--to", "in"}).status == 0);
  REQUIRE(run_client({server.endpoint(), "get", "in/up.txt", local / "down.txt"}).status == 0);
  REQUIRE(server.process().wait_for_output(" GET in/up.txt: "));
  const std::string log = server.process().output();
  CAPTURE(log);
  const auto line_with = [&](const std::string& needle) {
    const size_t at = log.find(needle);
    if (at == std::string::npos) return std::string();
    const size_t start = log.rfind('\n', at) + 1;
    return log.substr(start, log.find('\n', at) - start);
  };
  const std::string put_line = line_with(" PUT in/up.txt: ");
  CHECK(put_line.find(" info ") != std::string::npos);
  CHECK(put_line.find("127.0.0.1:") != std::string::npos);
  CHECK(put_line.find("6 bytes in ") != std::string::npos);
  CHECK(put_line.find(" ms, ok") != std::string::npos);
  const std::string get_line = line_with(" GET in/up.txt: ");
  CHECK(get_line.find(" info ") != std::string::npos);
  CHECK(get_line.find("6 bytes in ") != std::string::npos);
  CHECK(get_line.find(" ms, ok") != std::string::npos);
  // The client's STAT before the put is answered "not found": a normal
  // answer, not an error of the server's.
  CHECK(log.find("ERROR") == std::string::npos);
  CHECK(log.find(" error ") == std::string::npos);
  CHECK(server.stop(scaled(10s)) == 0);
}

TEST_CASE("an address in use exits 2 and leaves no upload area behind; --version") {
  TempDir first_root;
  TempDir second_root;
  Server first(first_root.path());
  const auto [status, output] =
      run_server_to_exit({std::to_string(first.port()), second_root.path(), "--bind", "127.0.0.1"});
  CAPTURE(output);
  CHECK(status == 2);
  CHECK(output.find("in use") != std::string::npos);
  CHECK(!exists(second_root / ".rftp-uploads"));
  CHECK(first.stop(scaled(10s)) == 0);

  const auto [version_status, version] = run_server_to_exit({"--version"});
  CHECK(version_status == 0);
  CHECK(version.starts_with("reactor-fileserver "));
}

TEST_CASE("a tree the server may not write: start-up says to add --read-only") {
  TempDir root;
  ::chmod(root.path().c_str(), 0755);  // owned by root: nobody may not write it
  std::vector<std::string> argv =
      unprivileged({server_program(), "0", root.path(), "--bind", "127.0.0.1"});
  test_support::ChildProcess refused(argv);
  CHECK(refused.wait_exit(scaled(10s)) != 0);
  CHECK(refused.output().find("--read-only") != std::string::npos);
  // With it, the same tree is served.
  argv.push_back("--read-only");
  test_support::ChildProcess served(argv);
  CHECK(served.wait_for_port() > 0);
}
