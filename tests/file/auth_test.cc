// RFTP version 2 authentication against the real reactor-fileserver and
// reactor-fileclient (docs/PROTOCOL.md, section 3): a server with a token
// refuses version-1 clients, every request before AUTH, a wrong token and
// a replayed proof; a client holding the token works; and the start-up
// policy refuses a writable non-loopback server without one.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocols/file/auth.h"
#include "tests/file/rftp_test_support.h"
#include "tests/support/time_scale.h"

using namespace rftp_test;
using namespace std::chrono_literals;
using test_support::scaled;

namespace {

constexpr const char* kToken = "correct horse battery staple 42";

// A served tree with one file and a server that requires kToken.
struct TokenServer {
  TempDir root;
  TempDir secrets;
  std::unique_ptr<Server> server;

  explicit TokenServer(std::vector<std::string> extra = {}) {
    write_file(root / "secret-plans.txt", "the tree's content\n");
    write_file(secrets / "token", std::string(kToken) + "\n");  // as echo writes it
    write_file(secrets / "wrong", "not the right token at all\n");
    extra.insert(extra.begin(), {"--token-file", secrets / "token"});
    server = std::make_unique<Server>(root.path(), extra);
  }
};

rf::ErrorReply expect_error(RawClient& client) {
  auto reply = client.receive(scaled(10s));
  REQUIRE(reply.has_value());
  REQUIRE(std::holds_alternative<rf::ErrorReply>(*reply));
  return std::get<rf::ErrorReply>(*reply);
}

// Runs the client to its end and returns {status, everything it printed}.
std::pair<int, std::string> run_client_capturing(const std::vector<std::string>& argv) {
  test_support::ChildProcess client(argv);
  const int status = client.wait_exit(scaled(20s));
  return {status, client.output()};
}

}  // namespace

TEST_CASE("a server with a token refuses a version-1 client with ERROR 7 naming the token") {
  TokenServer tree;
  RawClient client(tree.server->port());
  REQUIRE(client.send(rf::Hello{1}));
  const rf::ErrorReply error = expect_error(client);
  CHECK(error.code == 7);
  CHECK(error.message.find("token") != std::string::npos);
  CHECK(client.closed_by_server());
}

TEST_CASE("before AUTH every request is refused and reveals nothing about the tree") {
  TokenServer tree;
  // The same refusal for a file that exists and one that does not.
  std::vector<rf::Request> probes = {
      rf::ListRequest{""},
      rf::StatRequest{"secret-plans.txt"},
      rf::StatRequest{"no-such-file"},
      rf::GetRequest{"secret-plans.txt", 0},
      rf::HashRequest{"secret-plans.txt"},
      rf::Put2Request{"new.txt", 0, 0, 0},
      rf::Ping{1},
  };
  std::string first_message;
  for (const rf::Request& probe : probes) {
    CAPTURE(rf::message_type_name(static_cast<uint8_t>(rf::type_of(probe))));
    RawClient client(tree.server->port());
    REQUIRE(client.send(rf::Hello{2}));
    expect_reply<rf::Challenge>(client);
    REQUIRE(client.send(probe));
    const rf::ErrorReply error = expect_error(client);
    CHECK(error.code == 10);
    CHECK(error.message.find("authentication required") != std::string::npos);
    CHECK(error.message.find("secret") == std::string::npos);
    CHECK(error.message.find("no-such") == std::string::npos);
    CHECK(client.closed_by_server());
  }
  CHECK(!exists(tree.root / "new.txt"));
}

TEST_CASE("a wrong token is refused: ERROR 10 on the wire, exit 3 from the client") {
  TokenServer tree;
  {
    RawClient client(tree.server->port());
    REQUIRE(client.send(rf::Hello{2}));
    const auto challenge = expect_reply<rf::Challenge>(client);
    REQUIRE(client.send(
        rf::AuthRequest{rf::auth_proof("not the right token at all", challenge.nonce)}));
    const rf::ErrorReply error = expect_error(client);
    CHECK(error.code == 10);
    CHECK(error.message.find("wrong token") != std::string::npos);
    CHECK(client.closed_by_server());
  }
  const auto [status, output] = run_client_capturing(
      client_argv({tree.server->endpoint(), "--token-file", tree.secrets / "wrong", "ls"}));
  CHECK(status == 3);
  CHECK(output.find("refused the token") != std::string::npos);
  CHECK(output.find("secret-plans") == std::string::npos);

  const auto [no_token_status, no_token_output] =
      run_client_capturing(client_argv({tree.server->endpoint(), "ls"}));
  CHECK(no_token_status == 3);
  CHECK(no_token_output.find("requires a token") != std::string::npos);
}

TEST_CASE("a client holding the token lists, uploads and downloads") {
  TokenServer tree;
  TempDir local;
  write_file(local / "up.txt", "uploaded with a token\n");
  const auto listed =
      run_client({tree.server->endpoint(), "--token-file", tree.secrets / "token", "ls"});
  CHECK(listed.status == 0);
  CHECK(listed.out.find("secret-plans.txt") != std::string::npos);
  // The environment variable works as well as the file.
  const auto put =
      run_client_capturing({"env", std::string("RFTP_TOKEN=") + kToken, client_program(),
                            tree.server->endpoint(), "put", local / "up.txt"});
  CHECK(put.first == 0);
  CHECK(read_file(tree.root / "up.txt") == "uploaded with a token\n");
  const auto got = run_client({tree.server->endpoint(), "--token-file", tree.secrets / "token",
                               "get", "secret-plans.txt", local / "plans.txt"});
  CHECK(got.status == 0);
  CHECK(read_file(local / "plans.txt") == "the tree's content\n");
}

TEST_CASE("a captured AUTH replayed against another nonce fails") {
  TokenServer tree;
  // An eavesdropper records a whole good exchange...
  RawClient first(tree.server->port());
  REQUIRE(first.send(rf::Hello{2}));
  const auto first_challenge = expect_reply<rf::Challenge>(first);
  const std::string captured_auth =
      rf::encode_frame(rf::Request{rf::AuthRequest{rf::auth_proof(kToken, first_challenge.nonce)}});
  REQUIRE(first.send_bytes(captured_auth));
  expect_reply<rf::HelloOk>(first);
  REQUIRE(first.send(rf::StatRequest{"secret-plans.txt"}));
  CHECK(expect_reply<rf::StatOk>(first).size == 19);

  // ...and plays the client's bytes back on a connection of its own.
  RawClient replay(tree.server->port());
  REQUIRE(replay.send(rf::Hello{2}));
  const auto second_challenge = expect_reply<rf::Challenge>(replay);
  CHECK(second_challenge.nonce != first_challenge.nonce);
  REQUIRE(replay.send_bytes(captured_auth));
  CHECK(expect_error(replay).code == 10);
  CHECK(replay.closed_by_server());
}

TEST_CASE("start-up policy: a writable non-loopback server needs a token or --read-only") {
  TempDir root;
  TempDir secrets;
  write_file(secrets / "token", kToken);
  write_file(secrets / "short", "tooshort");
  {
    test_support::ChildProcess server({server_program(), "0", root.path(), "--bind", "0.0.0.0"});
    CHECK(server.wait_exit(scaled(10s)) == 2);
    const std::string output = server.output();
    CHECK(output.find("--token-file") != std::string::npos);
    CHECK(output.find("--read-only") != std::string::npos);
    // Refused before anything was created in the tree.
    CHECK(!exists(root / ".rftp-uploads"));
  }
  {
    test_support::ChildProcess server({server_program(), "0", root.path(), "--bind", "0.0.0.0",
                                       "--token-file", secrets / "short"});
    CHECK(server.wait_exit(scaled(10s)) == 2);
    CHECK(server.output().find("at least 16") != std::string::npos);
  }
  // Either remedy lets it start (it binds the wildcard; the test only
  // reads the port back and stops it).
  Server read_only(root.path(), {"--bind", "0.0.0.0", "--read-only"});
  CHECK(read_only.stop() == 0);
  Server with_token(root.path(), {"--bind", "0.0.0.0", "--token-file", secrets / "token"});
  CHECK(with_token.stop() == 0);
}
