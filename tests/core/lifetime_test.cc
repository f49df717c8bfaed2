// The lifetime rule: a callback may close or destroy any connection (or
// channel), including one whose event is still later in the same
// epoll_wait batch, and nothing may touch freed memory afterwards. Run
// under AddressSanitizer to prove the "nothing touches freed memory" part;
// the assertions prove the dead objects were not dispatched.
//
// No test holds a weak_ptr to a connection across the batch: with
// make_shared, a live weak reference keeps the object's memory allocated
// after its destructor ran, and AddressSanitizer could not see a
// use-after-destroy. Instead, each connection's context holds a sentinel
// that counts its release, and the clients watch their sockets close.
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/eventfd.h>

#include <memory>
#include <vector>

#include "reactor/channel.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"
#include "reactor/tcp_client.h"
#include "reactor/tcp_server.h"
#include "tests/core/core_test_support.h"

using namespace std::chrono_literals;
using reactor::Buffer;
using reactor::Channel;
using reactor::ConnectionPtr;
using reactor::EventLoop;
using reactor::TcpServer;
using reactor::UniqueFd;

namespace {

constexpr size_t kConnections = 16;

struct Watchdog {
  Watchdog(EventLoop& loop, std::chrono::milliseconds limit) {
    loop.run_after(limit, [this, &loop] {
      fired = true;
      loop.stop();
    });
  }
  bool fired = false;
};

// Counts, through its destructor, connections that released their state.
struct ReleaseSentinel {
  explicit ReleaseSentinel(size_t& released) : released(released) {}
  ~ReleaseSentinel() { ++released; }
  ReleaseSentinel(const ReleaseSentinel&) = delete;
  ReleaseSentinel& operator=(const ReleaseSentinel&) = delete;
  size_t& released;
};

bool readable_within(int fd, std::chrono::milliseconds timeout) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, static_cast<int>(timeout.count())) == 1;
}

// A closed client sees EOF or, when unread bytes were discarded on the
// server side, a reset. Either is a clean end; a timeout is not.
bool ended_by_server(int fd) {
  core_test::ReadResult result = core_test::read_until_eof(fd, 5s);
  return result.eof || result.error == ECONNRESET;
}

// A server with kConnections accepted connections, the loop stopped, and
// references to every connection held only by the server and `held`.
struct ServerWithConnections {
  explicit ServerWithConnections(EventLoop& loop) : loop(loop) {
    server = std::make_unique<TcpServer>(&loop, core_test::loopback());
    server->set_connection_callback([this](const ConnectionPtr& connection) {
      if (connection->connected()) {
        held.push_back(connection);
        connection->context() = std::make_shared<ReleaseSentinel>(released);
        if (held.size() == kConnections) this->loop.stop();
      } else {
        ++closed_notifications;
      }
    });
    server->start();
    for (size_t i = 0; i < kConnections; ++i) {
      clients.push_back(core_test::connect_client(server->listen_address()));
    }
  }

  // Runs the loop until every client has been accepted.
  void accept_all() {
    loop.run();
    REQUIRE(held.size() == kConnections);
    // One more turn of the loop. The listening socket is level-triggered,
    // and epoll keeps such an fd queued as ready until an epoll_wait finds
    // it idle; this turn clears it, so a test controls where in a batch the
    // listener's next event falls (after the events of earlier arrivals).
    loop.post([this] { loop.stop(); });
    loop.run();
  }

  // Every client writes while the loop is not running, and we wait until
  // every server-side socket is readable: the next epoll_wait then returns
  // all of them in one batch.
  void make_all_readable() {
    for (auto& client : clients) REQUIRE(core_test::write_all(client.get(), "hello"));
    for (auto& connection : held) REQUIRE(readable_within(connection->fd(), 5s));
  }

  EventLoop& loop;
  std::unique_ptr<TcpServer> server;
  std::vector<ConnectionPtr> held;
  std::vector<UniqueFd> clients;
  size_t closed_notifications = 0;
  size_t released = 0;
};

}  // namespace

TEST_CASE("a message callback closes every other connection of the same epoll batch") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  ServerWithConnections fixture(loop);
  size_t messages = 0;
  uint64_t survivor_id = 0;
  fixture.server->set_message_callback([&](const ConnectionPtr& connection, Buffer& input) {
    ++messages;
    survivor_id = connection->id();
    for (const auto& other : fixture.held) {
      if (other != connection) other->close();
    }
    // Drop every reference we hold, including the survivor's: the server
    // map (and, for the one running, the loop's guard) are all that remain.
    fixture.held.clear();
    input.retrieve_all();
    connection->send("survivor");
    loop.defer([&] { loop.stop(); });
  });
  fixture.accept_all();
  fixture.make_all_readable();

  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  // The closed connections' events, later in the batch, were never dispatched.
  CHECK(messages == 1);
  CHECK(fixture.closed_notifications == kConnections - 1);
  CHECK(fixture.server->connection_count() == 1);
  // After the batch, every closed connection let go of its state.
  CHECK(fixture.released == kConnections - 1);

  size_t survivors = 0;
  size_t ended = 0;
  for (auto& client : fixture.clients) {
    core_test::ReadResult result = core_test::read_bytes(client.get(), 8, 200ms);
    if (result.data == "survivor") {
      ++survivors;
    } else if (result.eof || result.error == ECONNRESET) {
      ++ended;
    }
  }
  CHECK(survivors == 1);
  CHECK(ended == kConnections - 1);
  CHECK(survivor_id != 0);
}

TEST_CASE("a message callback destroys the whole server while its other events are pending") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  ServerWithConnections fixture(loop);
  size_t messages = 0;
  fixture.server->set_message_callback([&](const ConnectionPtr&, Buffer& input) {
    ++messages;
    input.retrieve_all();
    fixture.held.clear();
    fixture.server.reset();  // closes every connection, the running one too
    loop.defer([&] { loop.stop(); });
  });
  fixture.accept_all();
  fixture.make_all_readable();
  // One more client waits in the backlog, so the listening socket's event
  // is in the same batch too. epoll reports ready fds in the order they
  // became ready, so it comes after the first connection's: the server,
  // and with it the acceptor, is gone by the time it would be dispatched.
  UniqueFd waiting = core_test::connect_client(fixture.held.front()->local_address());

  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  CHECK(messages == 1);
  CHECK(fixture.server == nullptr);
  CHECK(fixture.released == kConnections);
  CHECK(loop.registered_channel_count() == 2);  // wakeup + timers only
  for (auto& client : fixture.clients) CHECK(ended_by_server(client.get()));
  CHECK(ended_by_server(waiting.get()));
}

TEST_CASE("a connection closes itself inside its own message callback") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  auto server = std::make_unique<TcpServer>(&loop, core_test::loopback());
  int up = 0;
  int down = 0;
  int messages = 0;
  server->set_connection_callback([&](const ConnectionPtr& connection) {
    if (connection->connected()) {
      ++up;
    } else {
      ++down;
    }
  });
  server->set_message_callback([&](const ConnectionPtr& connection, Buffer& input) {
    ++messages;
    connection->send("bye:" + input.retrieve_as_string(input.readable_bytes()));
    connection->close();
    // Calls after close are harmless no-ops.
    connection->send("ignored");
    connection->close();
    connection->half_close();
    loop.defer([&] { loop.stop(); });
  });
  server->start();
  UniqueFd client = core_test::connect_client(server->listen_address());
  REQUIRE(core_test::write_all(client.get(), "x"));
  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  CHECK(messages == 1);
  CHECK(up == 1);
  CHECK(down == 1);
  CHECK(server->connection_count() == 0);
  // EOF: the connection and its socket are gone.
  core_test::ReadResult result = core_test::read_until_eof(client.get(), 5s);
  CHECK(result.data == "bye:x");
  CHECK(result.eof);
}

TEST_CASE("a TcpClient destroyed from its own connection's message callback") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  TcpServer server(&loop, core_test::loopback());
  server.set_message_callback(
      [](const ConnectionPtr& connection, Buffer& input) { connection->send(input); });
  server.start();
  auto client = std::make_unique<reactor::TcpClient>(&loop, server.listen_address());
  int messages = 0;
  int down = 0;
  client->set_connection_callback([&](const ConnectionPtr& connection) {
    if (connection->connected()) {
      connection->send("echo me");
    } else {
      ++down;
    }
  });
  client->set_message_callback([&](const ConnectionPtr&, Buffer& input) {
    ++messages;
    CHECK(input.view() == "echo me");
    client.reset();
    loop.run_after(50ms, [&] { loop.stop(); });
  });
  client->connect();
  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  CHECK(messages == 1);
  // Destroying the client abandons its connection: no callback runs after
  // the client is gone (its callbacks may use what died with it).
  CHECK(down == 0);
  CHECK(client == nullptr);
  // The server saw the client's socket close: the client connection is gone.
  CHECK(server.connection_count() == 0);
}

TEST_CASE("a channel's callback deletes another channel whose event is in the same batch") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  UniqueFd first_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  UniqueFd second_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  REQUIRE(first_fd);
  REQUIRE(second_fd);
  auto first = std::make_unique<Channel>(&loop, first_fd.get());
  auto second = std::make_unique<Channel>(&loop, second_fd.get());
  int first_calls = 0;
  int second_calls = 0;
  // Whichever runs first deletes the other; epoll decides the order.
  first->set_read_callback([&] {
    ++first_calls;
    second.reset();
    loop.defer([&] { loop.stop(); });
  });
  second->set_read_callback([&] {
    ++second_calls;
    first.reset();
    loop.defer([&] { loop.stop(); });
  });
  first->enable_reading();
  second->enable_reading();
  // Both readable before the loop runs: one batch holds both events.
  uint64_t one = 1;
  REQUIRE(::write(first_fd.get(), &one, sizeof one) == sizeof one);
  REQUIRE(::write(second_fd.get(), &one, sizeof one) == sizeof one);

  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  CHECK(first_calls + second_calls == 1);
  CHECK((first == nullptr) != (second == nullptr));
}

TEST_CASE("a channel deleted and replaced on the same fd mid-batch gets only fresh events") {
  EventLoop loop;
  Watchdog watchdog(loop, 10s);
  std::vector<UniqueFd> fds;
  std::vector<std::unique_ptr<Channel>> channels;
  constexpr int kChannels = 8;
  std::vector<int> calls(kChannels, 0);
  int replacement_calls = 0;
  // Set by a task deferred to the end of the batch in which the channels
  // were replaced: a call to the replacement before that is the dead
  // channel's stale event, dispatched by fd to whoever holds it now.
  bool replacing_batch_over = false;
  bool replacement_called_in_replacing_batch = false;
  std::unique_ptr<Channel> replacement;
  bool replaced = false;
  for (int i = 0; i < kChannels; ++i) {
    fds.emplace_back(::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC));  // readable at once
    REQUIRE(fds.back());
  }
  for (int i = 0; i < kChannels; ++i) {
    channels.push_back(std::make_unique<Channel>(&loop, fds[static_cast<size_t>(i)].get()));
    channels.back()->set_read_callback([&, i] {
      ++calls[static_cast<size_t>(i)];
      if (replaced) return;
      replaced = true;
      // Delete every other channel, and put a new one on one of their fds.
      for (int j = 0; j < kChannels; ++j) {
        if (j != i) channels[static_cast<size_t>(j)].reset();
      }
      int victim = (i + 1) % kChannels;
      replacement = std::make_unique<Channel>(&loop, fds[static_cast<size_t>(victim)].get());
      replacement->set_read_callback([&] {
        ++replacement_calls;
        if (!replacing_batch_over) replacement_called_in_replacing_batch = true;
        loop.stop();
      });
      replacement->enable_reading();
      loop.defer([&] { replacing_batch_over = true; });
    });
    channels.back()->enable_reading();
  }
  loop.run();
  REQUIRE_FALSE(watchdog.fired);
  int total = 0;
  for (int count : calls) total += count;
  CHECK(total == 1);
  // The new channel learned of its fd's readiness through its own
  // registration, not through the dead channel's stale event.
  CHECK(replacement_calls == 1);
  CHECK_FALSE(replacement_called_in_replacing_batch);
  channels.clear();
  replacement.reset();
  CHECK(loop.registered_channel_count() == 2);  // wakeup + timers
}
