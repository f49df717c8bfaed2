// OutputBatch: holds the responses produced while one epoll batch is being
// dispatched, and hands them to their connections once the batch is over
// (EventLoop::defer).
//
// Why: a client with many connections -- a browser, a proxy, a load
// generator -- is woken once per write that reaches it. Writing all the
// batch's responses back to back at its end lets such a client find them
// together at one wake-up instead of being woken for each, and costs us
// nothing (still one send() per connection per batch, in order). A
// connection's output is handed over at once instead when it must be:
// before the connection closes, or when it grows past the pipelining limit.
//
// Outputs are pooled, so a connection holds no response memory between
// batches and the steady state allocates nothing.
//
// Threading: loop thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "protocols/http/response_output.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"

namespace reactor::http {

class OutputBatch {
 public:
  // Called for each connection just before its output is handed over at
  // the end of the batch: from then on the owner must not touch the output
  // (its next use acquires a new one).
  using ReleaseCallback = std::function<void(const ConnectionPtr&)>;

  explicit OutputBatch(EventLoop* loop);
  // Pending outputs are dropped (their connections are closing anyway).
  ~OutputBatch();
  OutputBatch(const OutputBatch&) = delete;
  OutputBatch& operator=(const OutputBatch&) = delete;

  void set_release_callback(ReleaseCallback callback) { release_ = std::move(callback); }

  // An empty output registered for `connection` until the end of this
  // batch. Call once per connection per batch (the caller keeps the
  // pointer; it stays valid until the release callback).
  ResponseOutput* acquire(const ConnectionPtr& connection);

  // Hands every registered output to its connection. Runs by itself after
  // the batch; public for shutdown paths.
  void flush_all();

  size_t pending() const { return pending_.size(); }

 private:
  static constexpr size_t kMaxSpare = 256;

  struct Pending {
    ConnectionPtr connection;
    std::unique_ptr<ResponseOutput> output;
  };

  EventLoop* loop_;
  ReleaseCallback release_;
  std::vector<Pending> pending_;
  std::vector<Pending> flushing_;  // swapped with pending_ while flushing
  std::vector<std::unique_ptr<ResponseOutput>> spare_;
  bool scheduled_ = false;
  // The deferred flush holds a weak reference, so it is harmless if the
  // batch is destroyed before the loop gets to run it.
  std::shared_ptr<OutputBatch*> self_;
};

}  // namespace reactor::http
