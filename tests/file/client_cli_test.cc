// reactor-fileclient as a user meets it: what each command prints, the
// exit codes the issue fixes, where get puts its file, and the rules for
// resuming (or refusing to resume) a .part.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "protocols/file/sha256.h"
#include "tests/file/rftp_test_support.h"
#include "tests/support/net.h"
#include "tests/support/time_scale.h"

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

// The client's argv, run as user nobody when the test runs as root (CI
// does, and root writes anywhere); unchanged otherwise.
std::vector<std::string> unprivileged(std::vector<std::string> argv) {
  if (::geteuid() == 0) {
    argv.insert(argv.begin(),
                {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
  }
  return argv;
}

// A TCP server that is not (quite) an RFTP server: it accepts one
// connection on 127.0.0.1 and plays `script`: for each step it reads what
// the client sends and answers the step's bytes (an empty step answers
// nothing). After the last step it keeps the connection open until the
// client leaves (or a few seconds pass), or closes it at once.
class Impostor {
 public:
  explicit Impostor(std::string reply, bool close_after_reply = false)
      : Impostor(std::vector<std::string>{std::move(reply)}, close_after_reply) {}
  explicit Impostor(std::vector<std::string> script, bool close_after_reply = false)
      : close_after_reply_(close_after_reply) {
    const test_support::LoopbackListener listener = test_support::listen_on_loopback(4);
    listener_ = listener.fd;
    port_ = listener.port;
    thread_ = std::thread([this, script = std::move(script)] { serve(script); });
  }
  ~Impostor() {
    thread_.join();
    ::close(listener_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve(const std::vector<std::string>& script) {
    const int limit_ms = static_cast<int>(test_support::scaled(std::chrono::seconds(10)).count());
    pollfd waiting{listener_, POLLIN, 0};
    if (::poll(&waiting, 1, limit_ms) <= 0) return;
    const int peer = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (peer < 0) return;
    char request[4096];
    pollfd readable{peer, POLLIN, 0};
    for (const std::string& reply : script) {
      if (::poll(&readable, 1, limit_ms) > 0) (void)::recv(peer, request, sizeof request, 0);
      (void)::send(peer, reply.data(), reply.size(), MSG_NOSIGNAL);
    }
    if (close_after_reply_) {
      ::close(peer);
      return;
    }
    // Until the client closes: a client that wrongly waits for more is
    // then cut off by the time limit, not by us.
    while (::poll(&readable, 1, limit_ms) > 0 && ::recv(peer, request, sizeof request, 0) > 0) {
    }
    ::close(peer);
  }

  int listener_ = -1;
  bool close_after_reply_;
  int port_ = 0;
  std::thread thread_;
};

// A frame header (len, type) claiming `length` bytes.
std::string frame_header(uint32_t length, uint8_t type) {
  std::string header(4, '\0');
  for (int i = 0; i < 4; ++i)
    header[static_cast<size_t>(i)] = static_cast<char>(length >> (24 - 8 * i));
  header += static_cast<char>(type);
  return header;
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
  SUBCASE("3: a server that is not an RFTP server") {
    Impostor http_server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    test_support::ChildProcess client(client_argv({http_server.endpoint(), "ping"}));
    CHECK(client.wait_exit(test_support::scaled(std::chrono::seconds(10))) == 3);
    CAPTURE(client.output());
    CHECK(client.output().find("reactor-fileclient: ") != std::string::npos);
    CHECK(client.output().find("pong") == std::string::npos);
  }
  SUBCASE("4: local I/O") {
    CHECK(setup.client({"put", setup.local / "does-not-exist"}).status == 4);
    // A directory the client may not write into; as root the client runs
    // as nobody (root writes anywhere). The writable one next to it is the
    // control: the same client can reach both and writes there.
    ::chmod(setup.local.path().c_str(), 0755);
    make_directories(setup.local / "readonly");
    make_directories(setup.local / "writable");
    ::chmod((setup.local / "readonly").c_str(), 0555);
    ::chmod((setup.local / "writable").c_str(), 0777);
    const auto denied = test_support::run_command(unprivileged(
        client_argv({setup.server->endpoint(), "get", "notes.txt", setup.local / "readonly/x"})));
    CHECK(denied.status == 4);
    CHECK_FALSE(exists(setup.local / "readonly/x"));
    const auto allowed = test_support::run_command(unprivileged(
        client_argv({setup.server->endpoint(), "get", "notes.txt", setup.local / "writable/x"})));
    CHECK(allowed.status == 0);
    CHECK(read_file(setup.local / "writable/x") == "some notes\n");
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
  SUBCASE("a matching record resumes at the .part's end (the prefix is kept, not fetched)") {
    // Without --verify nothing re-reads the prefix: the result shows where
    // the download started. Starting over would give `content`.
    plant_partial(content.size(), 1600000000);
    REQUIRE(setup.client({"get", "data.bin"}).status == 0);
    CHECK(read_file(setup.local / "data.bin") == junk + content.substr(junk.size()));
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

TEST_CASE("a reply frame above 256 MiB is refused as soon as its length arrives (exit 3)") {
  // The impostor sends only the 5-byte start of a HELLO_OK one byte over
  // the limit and then waits: a client that waited for the body would hang.
  Impostor hostile(frame_header(256u * 1024 * 1024 + 1, 0x81));
  test_support::ChildProcess client(client_argv({hostile.endpoint(), "ping"}));
  CHECK(client.wait_exit(test_support::scaled(std::chrono::seconds(5))) == 3);
  CHECK(client.output().find("exceeds the limit of 268435456") != std::string::npos);
  // Control: a frame of exactly 256 MiB is within the limit (the client
  // waits for its body and fails only when the connection is closed).
  Impostor at_limit(frame_header(256u * 1024 * 1024, 0x81), true);
  test_support::ChildProcess patient(client_argv({at_limit.endpoint(), "ping"}));
  CHECK(patient.wait_exit(test_support::scaled(std::chrono::seconds(5))) == 3);
  CAPTURE(patient.output());
  CHECK(patient.output().find("exceeds the limit") == std::string::npos);
}

TEST_CASE("--connect-timeout bounds a connection attempt that gets no answer (exit 3)") {
  // A listener that never accepts, with its accept queue full: the kernel
  // drops further SYNs, so a connect() neither succeeds nor fails.
  const auto [listener, port] = test_support::listen_on_loopback(0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  std::vector<int> fillers;
  bool queue_full = false;
  for (int i = 0; i < 16 && !queue_full; ++i) {
    const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    fillers.push_back(filler);
    (void)::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
    pollfd connected{filler, POLLOUT, 0};
    queue_full = ::poll(&connected, 1, 200) == 0;
  }
  REQUIRE(queue_full);
  const std::string endpoint = "127.0.0.1:" + std::to_string(port);
  const auto started = std::chrono::steady_clock::now();
  test_support::ChildProcess client(client_argv({endpoint, "--connect-timeout", "1", "ping"}));
  // The default is 10 s; with 1 s the client gives up after about 1 s.
  const int status = client.wait_exit(test_support::scaled(std::chrono::seconds(6)));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(status == 3);
  CHECK(elapsed >= std::chrono::milliseconds(900));
  CAPTURE(client.output());
  CHECK(client.output().find("reactor-fileclient: ") != std::string::npos);
  for (int filler : fillers) ::close(filler);
  ::close(listener);
}

TEST_CASE("--no-progress: no progress bar even on a terminal") {
  // script(1) gives the client a terminal; the bar is drawn on stderr with
  // "\r...ESC[K". The control without the flag shows that it would be.
  Setup setup;
  write_random_file(setup.served / "some.bin", 1 << 20, 8);
  auto on_terminal = [&](const std::string& flags, const std::string& target) {
    const std::string command = "'" + client_program() + "' " + setup.server->endpoint() + " " +
                                flags + " get some.bin '" + target + "'";
    return test_support::run_command({"script", "-qec", command, "/dev/null"});
  };
  const auto with_bar = on_terminal("", setup.local / "with-bar.bin");
  CHECK(with_bar.status == 0);
  CHECK(with_bar.out.find("\033[K") != std::string::npos);
  const auto without = on_terminal("--no-progress", setup.local / "without.bin");
  CHECK(without.status == 0);
  CAPTURE(without.out);
  CHECK(without.out.find("\033[K") == std::string::npos);
  CHECK(files_equal(setup.local / "without.bin", setup.served / "some.bin"));
}

namespace {

// Runs the client against `endpoint` with `--timeout 1` and checks that it
// gives up with exit 3 after about a second, saying what it waited for.
void expect_stall_timeout(const std::string& endpoint, std::vector<std::string> command,
                          const std::string& waited_for) {
  std::vector<std::string> arguments{endpoint, "--timeout", "1"};
  arguments.insert(arguments.end(), command.begin(), command.end());
  const auto started = std::chrono::steady_clock::now();
  test_support::ChildProcess client(client_argv(arguments));
  const int status = client.wait_exit(test_support::scaled(std::chrono::seconds(6)));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  CAPTURE(client.output());
  CHECK(status == 3);
  CHECK(elapsed >= std::chrono::milliseconds(900));
  CHECK(client.output().find("timed out: no progress for 1 s waiting for ") != std::string::npos);
  CHECK(client.output().find(waited_for) != std::string::npos);
}

}  // namespace

TEST_CASE("--timeout: a server that accepts and says nothing ends the client (exit 3)") {
  Impostor silent("");
  expect_stall_timeout(silent.endpoint(), {"ping"}, "to greet us (HELLO_OK)");
}

TEST_CASE("--timeout: a server that answers a request with nothing ends the client") {
  Impostor mute(
      std::vector<std::string>{rf::encode_frame(rf::HelloOk{rf::kProtocolVersion, "mute"}), ""});
  expect_stall_timeout(mute.endpoint(), {"ls"}, "an answer from 127.0.0.1:");
}

TEST_CASE("--timeout: a download that stalls in the middle of DATA ends the client") {
  TempDir local;
  const uint64_t size = 100000;
  rf::StatOk stat;
  stat.size = size;
  stat.mtime = 1700000000;
  rf::DataHeader header{size, 0, size};
  Impostor staller(std::vector<std::string>{
      rf::encode_frame(rf::HelloOk{rf::kProtocolVersion, "staller"}), rf::encode_frame(stat),
      rf::encode_frame(header) + random_bytes(size / 2, 3)});
  expect_stall_timeout(staller.endpoint(), {"get", "big.bin", local / "big.bin"},
                       "the rest of a download from 127.0.0.1:");
  // Half of it is kept for a resume; nothing looks complete.
  CHECK(file_size(local / "big.bin.part") == static_cast<long long>(size / 2));
  CHECK_FALSE(exists(local / "big.bin"));
}

TEST_CASE("--timeout does not end an idle connection that waits for nothing") {
  // put --watch with nothing to do is idle and owes nothing: a --timeout
  // shorter than the heartbeat must not end it.
  Setup setup;
  make_directories(setup.local / "watched");
  test_support::ChildProcess watcher(client_argv(
      {setup.server->endpoint(), "--timeout", "0.3", "put", "--watch", setup.local / "watched"}));
  REQUIRE(wait_until([&] { return watcher.output().find("watching") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // four timeouts, no traffic
  CAPTURE(watcher.output());
  CHECK(watcher.running());
  write_file(setup.local / "watched/late.txt", "late");
  CHECK(wait_until([&] { return exists(setup.served / "late.txt"); }));
}

namespace {

struct ClientRun {
  int status = -1;
  std::string out;
  std::string err;
};

// run_client() with stderr kept apart from stdout.
ClientRun run_client_split(const std::vector<std::string>& arguments) {
  TempDir scratch;
  std::vector<std::string> argv{"sh", "-c", "f=$1; shift; exec \"$@\" 2>\"$f\"", "sh",
                                scratch / "stderr"};
  for (std::string& argument : client_argv(arguments)) argv.push_back(std::move(argument));
  auto result = test_support::run_command(argv);
  return ClientRun{result.status, result.out, read_file(scratch / "stderr")};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

bool has_terminal_controls(const std::string& text) {
  for (char c : text) {
    if (c == '\x1b' || c == '\x07' || c == '\r') return true;
  }
  return false;
}

}  // namespace

TEST_CASE("names with ESC, BEL and newline print as one escaped line each") {
  TempDir served;
  const std::string hostile = "\x1b]0;pwned\x07\x1b[2J";
  const std::string split = "a\nb";
  write_file(served / hostile, "title");
  write_file(served / split, "two lines?");
  write_file(served / "plain.txt", "plain");
  Server server(served.path());

  auto ls = run_client_split({server.endpoint(), "ls"});
  REQUIRE(ls.status == 0);
  CAPTURE(ls.out);
  CHECK_FALSE(has_terminal_controls(ls.out));
  auto lines = lines_of(ls.out);
  CHECK(lines.size() == 3);
  CHECK(ls.out.find("  \\x1b]0;pwned\\x07\\x1b[2J\n") != std::string::npos);
  CHECK(ls.out.find("  a\\nb\n") != std::string::npos);
  CHECK(ls.out.find("  plain.txt\n") != std::string::npos);

  // --json: one object per line, the exact names back.
  auto json = run_client_split({server.endpoint(), "ls", "--json"});
  REQUIRE(json.status == 0);
  CHECK_FALSE(has_terminal_controls(json.out));
  std::set<std::string> names;
  for (const std::string& line : lines_of(json.out)) {
    auto object = nlohmann::json::parse(line);
    names.insert(object["name"].get<std::string>());
    if (object["name"] == split) CHECK(object["size"] == 10);
  }
  CHECK(names == std::set<std::string>{hostile, split, "plain.txt"});

  auto hash = run_client_split({server.endpoint(), "hash", split});
  REQUIRE(hash.status == 0);
  CHECK(hash.out == "\\" + rf::to_hex(rf::sha256_of("two lines?")) + "  a\\nb\n");
  auto hash_json = run_client_split({server.endpoint(), "hash", "--json", hostile});
  REQUIRE(hash_json.status == 0);
  CHECK(nlohmann::json::parse(hash_json.out)["path"] == hostile);
  auto stat_json = run_client_split({server.endpoint(), "stat", split, "--json"});
  REQUIRE(stat_json.status == 0);
  CHECK(lines_of(stat_json.out).size() == 1);
  auto stat_object = nlohmann::json::parse(stat_json.out);
  CHECK(stat_object["path"] == split);
  CHECK(stat_object["kind"] == "file");
  auto stat_text = run_client_split({server.endpoint(), "stat", hostile});
  REQUIRE(stat_text.status == 0);
  CHECK_FALSE(has_terminal_controls(stat_text.out));

  // The server's ERROR message names the path: escaped on stderr too.
  auto missing = run_client_split({server.endpoint(), "get", "gone\x1b[2J\nx", served / "local"});
  CHECK(missing.status == 1);
  CAPTURE(missing.err);
  CHECK_FALSE(has_terminal_controls(missing.err));
  CHECK(lines_of(missing.err).size() == 1);
}

TEST_CASE("command line: options after the command, --version, unknown commands, usage") {
  Setup setup;
  auto client = [&](std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), setup.server->endpoint());
    return run_client_split(arguments);
  };
  auto ping = client({"ping", "--connect-timeout", "2", "--timeout", "5"});
  CHECK(ping.status == 0);
  CHECK(ping.out.find("pong from") == 0);
  CHECK(client({"ls", "docs", "--no-progress", "--log-level", "warn"}).status == 0);

  auto version = run_client_split({"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.find("reactor-fileclient 0.") == 0);

  auto unknown = client({"frobnicate"});
  CHECK(unknown.status == 2);
  CAPTURE(unknown.err);
  CHECK(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(unknown.err.find("A subcommand is required") == std::string::npos);
  auto unknown_after_option = client({"--timeout", "3", "lss"});
  CHECK(unknown_after_option.status == 2);
  CHECK(unknown_after_option.err.find("unknown command 'lss'") != std::string::npos);

  auto help = run_client_split({"x:1", "get", "--help"});
  CHECK(help.status == 0);
  CAPTURE(help.out);
  const size_t usage = help.out.find("Usage: ");
  REQUIRE(usage != std::string::npos);
  const std::string usage_line = help.out.substr(usage, help.out.find('\n', usage) - usage);
  CHECK(usage_line.ends_with("reactor-fileclient HOST:PORT get [OPTIONS] REMOTE [LOCAL]"));
  CHECK(help.out.find("--timeout") != std::string::npos);

  // -q and -v everywhere; -q leaves only results and errors.
  auto quiet_ping = client({"ping", "-q"});
  CHECK(quiet_ping.status == 0);
  CHECK(quiet_ping.out.empty());
  CHECK(client({"ls", "-q"}).out.find("notes.txt") != std::string::npos);
  for (const char* flag : {"-q", "-v"}) {
    CHECK(client({"stat", "notes.txt", flag}).status == 0);
    CHECK(client({"hash", "notes.txt", flag}).status == 0);
    CHECK(client({flag, "get", "notes.txt", setup.local / (std::string("n") + flag)}).status == 0);
  }
  write_file(setup.local / "up.txt", "up");
  auto verbose_put = client({"put", setup.local / "up.txt", "-v"});
  CHECK(verbose_put.status == 0);
  CHECK(verbose_put.out.find("uploaded ") == 0);
  CHECK(client({"put", setup.local / "up.txt", "-q", "-v"}).status == 2);
}

TEST_CASE("an HTTP server is named as such, and a server dying mid-download is reported so") {
  Impostor http_server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  auto http = run_client_split({http_server.endpoint(), "ping"});
  CHECK(http.status == 3);
  CAPTURE(http.err);
  CHECK(http.err.find("is not an RFTP server (it answered with HTTP)") != std::string::npos);
  CHECK(http.err.find("exceeds the limit") == std::string::npos);

  TempDir local;
  const uint64_t size = 100000;
  rf::StatOk stat;
  stat.size = size;
  rf::DataHeader header{size, 0, size};
  Impostor dying(std::vector<std::string>{rf::encode_frame(rf::HelloOk{rf::kProtocolVersion, "x"}),
                                          rf::encode_frame(stat),
                                          rf::encode_frame(header) + random_bytes(size / 4, 1)},
                 true);
  auto cut = run_client_split({dying.endpoint(), "get", "f.bin", local / "f.bin"});
  CHECK(cut.status == 3);
  CAPTURE(cut.err);
  CHECK(cut.err.find("lost in the middle of a download, 75000 byte(s) short") != std::string::npos);
  CHECK(cut.err.find("0 request(s) unanswered") == std::string::npos);
}

TEST_CASE("get fsyncs the finished .part before renaming it, and the directory after") {
  // strace shows the order of the calls that decide what a power cut
  // leaves: fsync(.part) < rename(.part, LOCAL) < fsync(LOCAL's directory).
  Setup setup;
  TempDir scratch;
  const std::string trace = scratch / "trace";
  auto argv = client_argv({setup.server->endpoint(), "get", "notes.txt", setup.local / "n.txt"});
  argv.insert(argv.begin(), {"strace", "-f", "-y", "-qq", "-o", trace, "-e",
                             "trace=fsync,fdatasync,rename,renameat,renameat2"});
  // LeakSanitizer cannot run under ptrace (the ASan build of the suite).
  const char* asan_options = std::getenv("ASAN_OPTIONS");
  std::string options = asan_options != nullptr ? std::string(asan_options) + ":" : "";
  argv.insert(argv.begin(), {"env", "ASAN_OPTIONS=" + options + "detect_leaks=0"});
  REQUIRE(test_support::run_command(argv).status == 0);
  CHECK(read_file(setup.local / "n.txt") == "some notes\n");
  const std::string calls = read_file(trace);
  CAPTURE(calls);
  const size_t part_synced_named = calls.find("n.txt.part>)");
  const size_t renamed = calls.find("n.txt.part\", \"" + setup.local / "n.txt\"");
  const size_t directory_synced = calls.find("<" + setup.local.path() + ">)");
  REQUIRE(part_synced_named != std::string::npos);
  REQUIRE(renamed != std::string::npos);
  REQUIRE(directory_synced != std::string::npos);
  CHECK(part_synced_named < renamed);
  CHECK(renamed < directory_synced);
}
