#include "protocols/file/file_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "protocols/file/server_session.h"
#include "reactor/session.h"

namespace reactor::file {
namespace {

// The registry owner the expiry sweep claims uploads as: no connection id.
constexpr uint64_t kSweeperId = UINT64_MAX;

}  // namespace
FileServer::FileServer(EventLoop* loop, FileServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  // Bound first: a server that cannot listen (address in use) must not
  // leave an upload area behind in a directory it never served.
  TcpServer::Options tcp;
  tcp.max_connections = options_.max_connections;
  tcp.idle_timeout = options_.idle_timeout;
  tcp.tcp_no_delay = true;
  tcp.reuse_port = options_.reuse_port;
  tcp.connection_limit = options_.connection_limit;
  server_ = std::make_unique<TcpServer>(loop, options_.address, tcp);

  context_ = std::make_unique<ServerContext>(loop, options_.directory, options_.read_only);
  if (options_.upload_registry) context_->registry = options_.upload_registry;
  context_->server_name = options_.server_name;
  context_->idle_timeout = options_.idle_timeout;
  context_->token = options_.token;
  context_->max_file_size = options_.max_file_size;
  context_->min_free_space = options_.min_free_space;
  if (size_t removed = context_->uploads.sweep_leftovers(); removed > 0) {
    spdlog::info("removed {} leftover file(s) of interrupted uploads", removed);
  }

  workers_ = std::make_unique<ThreadPool>(options_.worker_threads);
  context_->workers = workers_.get();

  server_->set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  server_->set_message_callback(
      [](const ConnectionPtr& connection, Buffer& /*input: connection->input()*/) {
        if (auto session = session_of<ServerSession>(connection))
          session->handle_input(*connection);
      });
  server_->set_write_complete_callback([](const ConnectionPtr& connection) {
    if (auto session = session_of<ServerSession>(connection))
      session->handle_write_complete(*connection);
  });
}

FileServer::~FileServer() {
  *alive_ = false;
  if (grace_timer_ != 0) loop_->cancel(grace_timer_);
  if (sweep_timer_ != 0) loop_->cancel(sweep_timer_);
  // Connections first (their sessions stop using the context), then the
  // pool (its jobs finish), then the context.
  server_.reset();
  workers_.reset();
}

void FileServer::start() {
  server_->start();
  if (options_.upload_expiry.count() > 0 && context_->uploads.writable()) {
    // Often enough that an upload goes within about a quarter of the expiry
    // after it expired; a directory scan is cheap.
    const auto period = std::clamp<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.upload_expiry) / 4,
        std::chrono::milliseconds(250), std::chrono::minutes(10));
    sweep_expired_uploads();
    sweep_timer_ = loop_->run_every(period, [this] { sweep_expired_uploads(); });
  }
}

void FileServer::sweep_expired_uploads() {
  if (sweeping_) return;
  sweeping_ = true;
  const UploadStore* store = &context_->uploads;
  const std::chrono::seconds expiry = options_.upload_expiry;
  std::weak_ptr<bool> alive = alive_;
  EventLoop* loop = loop_;
  workers_->submit([this, loop, store, expiry, alive] {
    std::vector<std::string> expired = store->expired_keys(expiry);
    loop->post([this, alive, expired = std::move(expired)] {
      if (alive.expired()) return;
      sweeping_ = false;
      size_t removed = 0;
      for (const std::string& key : expired) {
        // Claimed while it goes, so that no connection (of any loop) can
        // start writing it between the check and the removal; one being
        // written right now is not abandoned, whatever its age says.
        auto claim = context_->registry->claim(key, kSweeperId);
        if (!claim) continue;
        context_->uploads.remove(key);
        ++removed;
      }
      if (removed > 0) {
        spdlog::info("removed {} unfinished upload(s) idle for more than {} s", removed,
                     options_.upload_expiry.count());
      }
    });
  });
}

void FileServer::handle_connection(const ConnectionPtr& connection) {
  if (connection->connected()) {
    auto session = std::make_shared<ServerSession>(context_.get(), connection);
    attach_session(connection, session);
    connection->set_peer_shutdown_callback([](const ConnectionPtr& closing) {
      if (auto session = session_of<ServerSession>(closing))
        session->handle_peer_shutdown(*closing);
    });
    connection->set_idle_callback([](const ConnectionPtr& idle) {
      if (auto session = session_of<ServerSession>(idle)) session->handle_idle(*idle);
    });
    return;
  }
  if (auto session = session_of<ServerSession>(connection)) session->handle_close();
}

void FileServer::drain(std::chrono::milliseconds grace, std::function<void()> done) {
  if (context_->draining) return;
  context_->draining = true;
  // Sessions close themselves when their transfer ends; the server tells
  // us when the last connection has gone.
  server_->drain(
      [](const ConnectionPtr& connection) {
        if (auto session = session_of<ServerSession>(connection))
          session->begin_draining(*connection);
      },
      [this, done = std::move(done)] {
        if (grace_timer_ != 0) loop_->cancel(grace_timer_);
        grace_timer_ = 0;
        done();
      });
  // Logged once the listener is closed: whoever reads this line may count
  // on new clients being refused.
  spdlog::info("shutting down: {} connection(s) open, grace {} ms", server_->connection_count(),
               grace.count());
  grace_timer_ = loop_->run_after(grace, [this] {
    grace_timer_ = 0;
    size_t left = server_->connection_count();
    if (left > 0) spdlog::warn("grace period over: closing {} connection(s)", left);
    server_->for_each_connection([](const ConnectionPtr& connection) { connection->close(); });
  });
}

}  // namespace reactor::file
