// reactor-fileserver --threads N: connections on different loops share one
// registry of uploads in progress, so one path is never written by two.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "protocols/file/upload_registry.h"
#include "tests/file/rftp_test_support.h"

using namespace rftp_test;
using namespace std::chrono_literals;

TEST_CASE("UploadRegistry: threads racing for one path, exactly one wins each round") {
  rf::UploadRegistry registry;
  constexpr int kThreads = 8;
  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> winners{0};
    std::vector<std::shared_ptr<rf::UploadRegistry::Claim>> claims(kThreads);
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread) {
      threads.emplace_back([&, thread] {
        claims[thread] = registry.claim("same/path", static_cast<uint64_t>(thread));
        if (claims[thread]) ++winners;
      });
    }
    for (auto& thread : threads) thread.join();
    REQUIRE(winners.load() == 1);
    // Released from another thread than the one that claimed it.
    std::thread([&] { claims.clear(); }).join();
    REQUIRE(registry.size() == 0);
  }
}

TEST_CASE("two loops: one path uploaded on many connections at once is ERROR 4 for all but one") {
  TempDir root;
  Server server(root.path(), {"--threads", "2"});
  // 16 connections: the kernel's hash puts some on each loop (all on one
  // with probability 2^-15), so the claims race across threads.
  constexpr int kClients = 16;
  std::vector<RawClient> clients;
  for (int index = 0; index < kClients; ++index) {
    clients.emplace_back(server.port());
    clients.back().greet();
  }
  for (auto& client : clients) REQUIRE(client.send(rf::PutRequest{"same.bin", 4, 0}));
  // The winner waits for its bytes and says nothing yet; each loser gets
  // ERROR 4 at once. Find them by the first reply, with a short wait for
  // the one that has none.
  int refused = 0;
  RawClient* winner = nullptr;
  for (auto& client : clients) {
    const uint16_t code = error_code_of(client.receive(test_support::scaled(1500ms)));
    if (code == 4) {
      ++refused;
    } else {
      CHECK(code == 0);
      winner = &client;
    }
  }
  CHECK(refused == kClients - 1);
  REQUIRE(winner != nullptr);
  REQUIRE(winner->send_bytes("data"));
  auto reply = winner->receive();
  REQUIRE(reply.has_value());
  CHECK(std::holds_alternative<rf::PutOk>(*reply));
  CHECK(read_file(root / "same.bin") == "data");
  // The losers' connections still work: their 4 bytes are drained, as
  // after any refused PUT, and the next request is answered.
  for (auto& client : clients) {
    if (&client == winner) continue;
    REQUIRE(client.send_bytes("lose"));
    CHECK(client.ping());
  }
  CHECK(read_file(root / "same.bin") == "data");
  CHECK(server.stop() == 0);
}
