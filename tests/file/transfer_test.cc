// End-to-end transfers between the real reactor-fileclient and
// reactor-fileserver processes over loopback: a 200 MiB round trip,
// interrupted downloads and uploads that resume, 100 concurrent
// downloads, a pipelined upload of 1,000 files, and --watch.
#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "tests/file/rftp_test_support.h"

using namespace rftp_test;

namespace {

// Lets `child` run in short slices until `condition` holds, leaving it
// stopped (SIGSTOP) at that point: a transfer interrupted mid-way on
// purpose, however fast loopback is. False if the child finished first.
bool stop_when(test_support::ChildProcess& child, const std::function<bool()>& condition) {
  for (int slice = 0; slice < 20000; ++slice) {
    child.send_signal(SIGSTOP);
    if (condition()) return true;
    if (!child.running()) return false;
    child.send_signal(SIGCONT);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return false;
}

// The offsets the server logged for `verb` requests of `path` (its debug
// lines read "... GET movie.bin from 123 ..." and "... PUT x size 9 from 4").
std::vector<unsigned long long> logged_offsets(const std::string& log, const std::string& verb,
                                               const std::string& path) {
  std::vector<unsigned long long> offsets;
  std::string needle = " " + verb + " " + path + " ";
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    size_t from = log.find("from ", at + needle.size());
    size_t line_end = log.find('\n', at);
    if (from == std::string::npos || from > line_end) continue;
    offsets.push_back(std::stoull(log.substr(from + 5)));
  }
  return offsets;
}

int count_lines_starting_with(const std::string& text, const std::string& prefix) {
  int count = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, prefix.size(), prefix) == 0) ++count;
    start = end + 1;
  }
  return count;
}

}  // namespace

TEST_CASE("a 200 MiB random file makes the round trip byte for byte") {
  TempDir served;
  TempDir local;
  const uint64_t size = 200ULL << 20;
  write_random_file(local / "original.bin", size, 200);
  Server server(served.path());

  auto put = run_client({server.endpoint(), "put", local / "original.bin", "--to", "big"}, "",
                        std::chrono::seconds(120));
  REQUIRE(put.status == 0);
  CHECK(files_equal(local / "original.bin", served / "big/original.bin"));

  auto get =
      run_client({server.endpoint(), "get", "big/original.bin", local / "copy.bin", "--verify"}, "",
                 std::chrono::seconds(120));
  REQUIRE(get.status == 0);
  CHECK(file_size(local / "copy.bin") == static_cast<long long>(size));
  CHECK(files_equal(local / "original.bin", local / "copy.bin"));
  CHECK_FALSE(exists(local / "copy.bin.part"));
  CHECK_FALSE(exists(local / "copy.bin.part.info"));
  CHECK(server.stop() == 0);
}

TEST_CASE("a download interrupted by killing the client resumes where it stopped") {
  TempDir served;
  TempDir local;
  const uint64_t size = 64ULL << 20;
  write_random_file(served / "movie.bin", size, 64);
  Server server(served.path(), {"--log-level", "debug"});
  std::string target = local / "movie.bin";

  {
    test_support::ChildProcess client(client_argv({server.endpoint(), "get", "movie.bin", target}));
    bool interrupted = stop_when(client, [&] {
      long long held = file_size(target + ".part");
      return held > 0 && held < static_cast<long long>(size);
    });
    REQUIRE(interrupted);
    client.expect_exit_status(128 + SIGKILL);
    client.send_signal(SIGKILL);
    CHECK(client.wait_exit() == 128 + SIGKILL);
  }
  long long held = file_size(target + ".part");
  CHECK(held > 0);
  CHECK_FALSE(exists(target));  // LOCAL appears only when complete
  CHECK(exists(target + ".part.info"));

  auto resumed = run_client({server.endpoint(), "get", "movie.bin", target});
  REQUIRE(resumed.status == 0);
  CHECK(files_equal(served / "movie.bin", target));
  CHECK_FALSE(exists(target + ".part"));

  // The second GET started from what the first left behind.
  auto offsets = logged_offsets(server.process().output(), "GET", "movie.bin");
  REQUIRE(offsets.size() == 2);
  CHECK(offsets[0] == 0);
  CHECK(offsets[1] > 0);
  CHECK(offsets[1] <= static_cast<unsigned long long>(held));
}

TEST_CASE("an upload interrupted by killing the server resumes after a restart") {
  TempDir served;
  TempDir local;
  const uint64_t size = 64ULL << 20;
  write_random_file(local / "backup.tar", size, 7);
  std::string partial_dir = served / ".rftp-uploads";
  auto held_bytes = [&] {
    long long biggest = 0;
    for (const auto& part : files_with_suffix(partial_dir, ".part")) {
      biggest = std::max(biggest, file_size(part));
    }
    return biggest;
  };

  {
    Server doomed(served.path());
    test_support::ChildProcess client(
        client_argv({doomed.endpoint(), "put", local / "backup.tar", "--to", "vault"}));
    REQUIRE(stop_when(client, [&] {
      long long held = held_bytes();
      return held > 0 && held < static_cast<long long>(size);
    }));
    doomed.process().expect_exit_status(128 + SIGKILL);
    doomed.process().send_signal(SIGKILL);
    CHECK(doomed.process().wait_exit() == 128 + SIGKILL);
    client.expect_exit_status(3);  // connection lost
    client.send_signal(SIGCONT);
    CHECK(client.wait_exit(std::chrono::seconds(20)) == 3);
    CHECK(client.output().find("lost") != std::string::npos);
  }
  CHECK_FALSE(exists(served / "vault/backup.tar"));

  Server restarted(served.path(), {"--log-level", "debug"});
  auto stat = run_client({restarted.endpoint(), "stat", "vault/backup.tar"});
  REQUIRE(stat.status == 0);
  CHECK(stat.out.find("kind: unfinished upload") != std::string::npos);
  CHECK(stat.out.find("size: " + std::to_string(size)) != std::string::npos);

  auto resumed = run_client({restarted.endpoint(), "put", local / "backup.tar", "--to", "vault"});
  REQUIRE(resumed.status == 0);
  CHECK(files_equal(local / "backup.tar", served / "vault/backup.tar"));
  auto offsets = logged_offsets(restarted.process().output(), "PUT", "vault/backup.tar");
  REQUIRE(offsets.size() == 1);
  CHECK(offsets[0] > 0);
  CHECK(held_bytes() == 0);  // nothing left in the upload area
}

TEST_CASE("100 concurrent downloads of different files") {
  TempDir served;
  TempDir local;
  const int count = 100;
  for (int i = 0; i < count; ++i) {
    write_random_file(served / ("f" + std::to_string(i) + ".bin"), 256 * 1024 + i * 1111, i + 1);
  }
  Server server(served.path());
  std::vector<std::unique_ptr<test_support::ChildProcess>> clients;
  for (int i = 0; i < count; ++i) {
    std::string name = "f" + std::to_string(i) + ".bin";
    clients.push_back(std::make_unique<test_support::ChildProcess>(
        client_argv({server.endpoint(), "get", name, local / name})));
  }
  int succeeded = 0;
  for (int i = 0; i < count; ++i) {
    int status = clients[i]->wait_exit(std::chrono::seconds(60));
    CAPTURE(i);
    CAPTURE(clients[i]->output());
    CHECK(status == 0);
    std::string name = "f" + std::to_string(i) + ".bin";
    if (status == 0 && files_equal(served / name, local / name)) ++succeeded;
  }
  CHECK(succeeded == count);
}

TEST_CASE("a pipelined upload of 1,000 small files gets every acknowledgement") {
  TempDir served;
  TempDir local;
  const int count = 1000;
  std::vector<std::string> arguments = {"", "put", "-v", "--to", "batch"};
  for (int i = 0; i < count; ++i) {
    std::string path = local / ("small-" + std::to_string(i) + ".dat");
    write_file(path, random_bytes(1 + (i * 37) % 4096, i));
    arguments.push_back(path);
  }
  Server server(served.path());
  arguments[0] = server.endpoint();
  // Both outputs are read while the client runs: the server logs a line
  // per transfer, 1,000 of them, more than a pipe holds.
  test_support::ChildProcess client(client_argv(arguments));
  REQUIRE(wait_until(
      [&] {
        server.process().output();
        client.output();
        return !client.running();
      },
      test_support::scaled(std::chrono::seconds(120))));
  REQUIRE(client.wait_exit() == 0);
  CHECK(count_lines_starting_with(client.output(), "uploaded ") == count);
  int identical = 0;
  for (int i = 0; i < count; ++i) {
    std::string name = "small-" + std::to_string(i) + ".dat";
    if (read_file(local / name) == read_file(served / ("batch/" + name))) ++identical;
  }
  CHECK(identical == count);
  CHECK(server.stop() == 0);
}

TEST_CASE("put --watch uploads files as they are closed, and heartbeats keep it connected") {
  TempDir served;
  TempDir watched;
  TempDir elsewhere;
  write_file(watched / "before.txt", "was there first");
  // An idle timeout shorter than the quiet period below: only the
  // client's heartbeats keep the connection open.
  Server server(served.path(), {"--idle-timeout", "1"});
  test_support::ChildProcess client(
      client_argv({server.endpoint(), "put", "--watch", watched.path(), "--to", "inbox",
                   "--heartbeat", "0.3"}));
  REQUIRE(client.wait_for_output("watching "));
  auto arrived = [&](const std::string& name, const std::string& content) {
    return wait_until([&] { return read_file(served / ("inbox/" + name)) == content; },
                      std::chrono::seconds(15));
  };
  CHECK(arrived("before.txt", "was there first"));

  write_file(watched / "new.txt", "fresh content");
  CHECK(arrived("new.txt", "fresh content"));

  write_file(elsewhere / "moved.txt", "moved in");
  REQUIRE(::rename((elsewhere / "moved.txt").c_str(), (watched / "moved.txt").c_str()) == 0);
  CHECK(arrived("moved.txt", "moved in"));

  write_file(watched / ".hidden", "not for upload");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // > idle timeout
  write_file(watched / "later.txt", "after a quiet while");
  CHECK(arrived("later.txt", "after a quiet while"));
  CHECK_FALSE(exists(served / "inbox/.hidden"));

  write_file(watched / "new.txt", "rewritten");
  CHECK(arrived("new.txt", "rewritten"));

  CHECK(client.running());
  client.send_signal(SIGTERM);
  CHECK(client.wait_exit() == 0);
  CHECK(count_lines_starting_with(client.output(), "uploaded ") >= 5);
}
