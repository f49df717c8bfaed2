// Several loops, one per thread: LoopGroup, ServerGroup and TcpServerGroup
// in both designs (SO_REUSEPORT listeners, one acceptor handing off), with
// real sockets from real client threads.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "reactor/loop_group.h"
#include "reactor/tcp_server_group.h"
#include "tests/core/core_test_support.h"
#include "tests/support/net.h"

using namespace core_test;
using reactor::ConnectionPtr;
using reactor::LoopGroup;
using reactor::TcpServer;
using reactor::TcpServerGroup;
using Balancing = TcpServerGroup::Balancing;

namespace {

const char* name_of(Balancing balancing) {
  return balancing == Balancing::kReusePort ? "SO_REUSEPORT" : "hand-off";
}

// An echo server on `count` loops, run from a base loop on its own thread
// (the test thread is the clients'). Records on which thread every callback
// ran and which loop each connection belongs to.
class EchoGroup {
 public:
  EchoGroup(size_t count, Balancing balancing, TcpServer::Options tcp = {},
            std::string overload_reply = {}) {
    base_.call([&] {
      loops_ = std::make_unique<LoopGroup>(&base_.loop(), count);
      loops_->start();
      for (size_t index = 0; index < count; ++index) {
        loops_->run_and_wait(
            index, [&] { loop_threads_[loops_->loop(index)] = std::this_thread::get_id(); });
      }
      servers_ = std::make_unique<TcpServerGroup>(*loops_, loopback(),
                                                  TcpServerGroup::Options{tcp, balancing});
      servers_->set_connection_callback([this](const ConnectionPtr& connection) {
        check_thread(connection);
        if (connection->connected()) {
          std::lock_guard lock(mutex_);
          ++connections_per_loop_[connection->loop()];
        }
      });
      servers_->set_message_callback([this](const ConnectionPtr& connection, reactor::Buffer& in) {
        check_thread(connection);
        connection->send(in);
      });
      if (!overload_reply.empty()) {
        servers_->set_overload_reply(
            [overload_reply](const reactor::SocketAddress&) { return overload_reply; });
      }
      servers_->start();
    });
  }
  ~EchoGroup() {
    base_.call([&] {
      servers_.reset();
      loops_.reset();
    });
  }

  int port() {
    return base_.call([&] { return servers_->listen_address().port(); });
  }
  TcpServerGroup& servers() { return *servers_; }
  LoopThread& base() { return base_; }
  size_t wrong_thread_callbacks() const { return wrong_thread_.load(); }
  std::map<reactor::EventLoop*, size_t> connections_per_loop() {
    std::lock_guard lock(mutex_);
    return connections_per_loop_;
  }

 private:
  void check_thread(const ConnectionPtr& connection) {
    // The loop's thread as the loop itself knows it, and as recorded when
    // the group started: a callback must run on both.
    auto expected = loop_threads_.find(connection->loop());
    if (!connection->loop()->in_loop_thread() || expected == loop_threads_.end() ||
        expected->second != std::this_thread::get_id()) {
      ++wrong_thread_;
    }
  }

  LoopThread base_;
  std::unique_ptr<LoopGroup> loops_;
  // Written before the servers start, read-only afterwards.
  std::map<reactor::EventLoop*, std::thread::id> loop_threads_;
  std::unique_ptr<TcpServerGroup> servers_;
  std::mutex mutex_;
  std::map<reactor::EventLoop*, size_t> connections_per_loop_;
  std::atomic<size_t> wrong_thread_{0};
};

// Connects and proves the connection is served by echoing `message`.
reactor::UniqueFd connect_and_echo(int port, const std::string& message = "ping") {
  auto client = connect_client(loopback(static_cast<uint16_t>(port)));
  REQUIRE(write_all(client.get(), message));
  auto echoed = read_bytes(client.get(), message.size());
  REQUIRE(echoed.data == message);
  return client;
}

}  // namespace

TEST_CASE("LoopGroup: each loop runs on a thread of its own; loop 0 is the caller's") {
  LoopThread base;
  std::set<std::thread::id> threads;
  base.call([&] {
    LoopGroup loops(&base.loop(), 3);
    loops.start();
    for (size_t index = 0; index < loops.size(); ++index) {
      loops.run_and_wait(index, [&] {
        CHECK(loops.loop(index)->in_loop_thread());
        threads.insert(std::this_thread::get_id());
      });
    }
    CHECK(loops.base_loop() == &base.loop());
  });
  CHECK(threads.size() == 3);
  CHECK(LoopGroup::available_cpus() >= 1);
}

TEST_CASE("LoopGroup: run_and_wait rethrows what the task threw") {
  LoopThread base;
  base.call([&] {
    LoopGroup loops(&base.loop(), 2);
    loops.start();
    CHECK_THROWS_AS(loops.run_and_wait(1, [] { throw std::runtime_error("bad"); }),
                    std::runtime_error);
  });
}

TEST_CASE("TcpServerGroup: connections land on every loop, callbacks on their loop's thread") {
  for (Balancing balancing : {Balancing::kReusePort, Balancing::kHandOff}) {
    CAPTURE(name_of(balancing));
    EchoGroup group(2, balancing);
    const int port = group.port();
    std::vector<reactor::UniqueFd> clients;
    // 40 clients: the kernel's hash leaves a SO_REUSEPORT loop empty with
    // probability 2^-39; round-robin puts exactly 20 on each.
    for (int index = 0; index < 40; ++index) clients.push_back(connect_and_echo(port));
    auto per_loop = group.connections_per_loop();
    CHECK(per_loop.size() == 2);
    if (balancing == Balancing::kHandOff) {
      for (auto& [loop, count] : per_loop) CHECK(count == 20);
    }
    CHECK(group.servers().connection_count() == 40);
    CHECK(group.wrong_thread_callbacks() == 0);
  }
}

TEST_CASE("TcpServerGroup: a drain closes connections on every loop, then says done once") {
  for (Balancing balancing : {Balancing::kReusePort, Balancing::kHandOff}) {
    CAPTURE(name_of(balancing));
    EchoGroup group(2, balancing);
    const int port = group.port();
    std::vector<reactor::UniqueFd> clients;
    for (int index = 0; index < 40; ++index) clients.push_back(connect_and_echo(port));
    REQUIRE(group.connections_per_loop().size() == 2);

    std::atomic<int> done_calls{0};
    std::atomic<bool> done_on_base{false};
    group.base().call([&] {
      group.servers().drain(
          [](const ConnectionPtr& connection) { connection->close_after_flush(); },
          [&] {
            done_on_base = group.base().loop().in_loop_thread();
            ++done_calls;
          });
    });
    for (auto& client : clients) CHECK(read_until_eof(client.get()).eof);
    CHECK(group.base().wait_until([&] { return done_calls.load() == 1; }));
    group.base().let_pending_events_run();
    CHECK(done_calls.load() == 1);
    CHECK(done_on_base.load());
    CHECK(group.servers().connection_count() == 0);
    // Every listener is closed: nobody waits in a backlog nobody accepts.
    CHECK(test_support::connect_error(port) == ECONNREFUSED);
  }
}

TEST_CASE("TcpServerGroup: max_connections counts every loop (overload reply)") {
  for (Balancing balancing : {Balancing::kReusePort, Balancing::kHandOff}) {
    CAPTURE(name_of(balancing));
    TcpServer::Options tcp;
    tcp.max_connections = 4;
    EchoGroup group(2, balancing, tcp, "busy\n");
    const int port = group.port();
    std::vector<reactor::UniqueFd> clients;
    for (int index = 0; index < 4; ++index) clients.push_back(connect_and_echo(port));
    // Whichever loop the fifth lands on, the process is full.
    for (int extra = 0; extra < 3; ++extra) {
      auto refused = connect_client(loopback(static_cast<uint16_t>(port)));
      auto reply = read_until_eof(refused.get());
      CHECK(reply.data == "busy\n");
    }
    CHECK(group.servers().connection_count() == 4);
    CHECK(group.servers().refused_count() == 3);
  }
}

TEST_CASE("TcpServerGroup: at the limit a client waits, and a slot freed on any loop lets it in") {
  for (Balancing balancing : {Balancing::kReusePort, Balancing::kHandOff}) {
    CAPTURE(name_of(balancing));
    TcpServer::Options tcp;
    tcp.max_connections = 3;
    EchoGroup group(2, balancing, tcp);
    const int port = group.port();
    std::vector<reactor::UniqueFd> clients;
    for (int index = 0; index < 3; ++index) clients.push_back(connect_and_echo(port));
    // More clients than the limit, so some land on each loop's listener.
    std::vector<reactor::UniqueFd> waiting;
    for (int index = 0; index < 4; ++index) {
      waiting.push_back(connect_client(loopback(static_cast<uint16_t>(port))));
      REQUIRE(write_all(waiting.back().get(), "wait"));
    }
    group.base().let_pending_events_run();
    for (auto& client : waiting) {
      auto early = read_bytes(client.get(), 4, 200ms);
      CHECK(early.data.empty());
    }
    CHECK(group.servers().connection_count() == 3);
    // Free every slot, one at a time: each waiting client gets in, none is
    // dropped, and the limit holds throughout.
    for (auto& client : clients) client.reset();
    for (auto& client : waiting) {
      auto echoed = read_bytes(client.get(), 4);
      CHECK(echoed.data == "wait");
      CHECK(group.servers().connection_count() <= 3);
      client.reset();
    }
  }
}

TEST_CASE("TcpServerGroup: many connects and closes from several client threads at once") {
  for (Balancing balancing : {Balancing::kReusePort, Balancing::kHandOff}) {
    CAPTURE(name_of(balancing));
    EchoGroup group(2, balancing);
    const int port = group.port();
    constexpr int kThreads = 4;
    constexpr int kRounds = 150;
    std::atomic<int> echoed{0};
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread) {
      threads.emplace_back([&, thread] {
        for (int round = 0; round < kRounds; ++round) {
          const std::string message = std::to_string(thread) + ":" + std::to_string(round);
          auto client = connect_client(loopback(static_cast<uint16_t>(port)));
          if (!write_all(client.get(), message)) continue;
          if (read_bytes(client.get(), message.size()).data == message) ++echoed;
          if (round % 3 == 0) reset_connection(client);  // some leave with a RST
        }
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(echoed.load() == kThreads * kRounds);
    CHECK(group.base().wait_until([&] { return group.servers().connection_count() == 0; }));
    CHECK(group.connections_per_loop().size() == 2);
    CHECK(group.wrong_thread_callbacks() == 0);
  }
}
