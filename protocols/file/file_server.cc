#include "protocols/file/file_server.h"

#include <spdlog/spdlog.h>

#include "protocols/file/server_session.h"

namespace reactor::file {
namespace {

// How often a draining server looks for connections that became idle.
constexpr std::chrono::milliseconds kShutdownPoll(50);

std::shared_ptr<ServerSession> session_of(const ConnectionPtr& connection) {
  auto* session = std::any_cast<std::shared_ptr<ServerSession>>(&connection->context());
  return session != nullptr ? *session : nullptr;
}

}  // namespace

FileServer::FileServer(EventLoop* loop, FileServerOptions options)
    : loop_(loop), options_(std::move(options)) {
  context_ = std::make_unique<ServerContext>(loop, options_.directory, options_.read_only);
  context_->server_name = options_.server_name;
  context_->idle_timeout = options_.idle_timeout;

  TcpServer::Options tcp;
  tcp.max_connections = options_.max_connections;
  tcp.idle_timeout = options_.idle_timeout;
  tcp.tcp_no_delay = true;
  server_ = std::make_unique<TcpServer>(loop, options_.address, tcp);

  workers_ = std::make_unique<ThreadPool>(options_.worker_threads);
  context_->workers = workers_.get();

  server_->set_connection_callback(
      [this](const ConnectionPtr& connection) { handle_connection(connection); });
  server_->set_message_callback([](const ConnectionPtr& connection, Buffer& input) {
    if (auto session = session_of(connection)) session->handle_input(input);
  });
  server_->set_write_complete_callback([](const ConnectionPtr& connection) {
    if (auto session = session_of(connection)) session->handle_write_complete();
  });
}

FileServer::~FileServer() {
  if (grace_timer_ != 0) loop_->cancel(grace_timer_);
  if (progress_timer_ != 0) loop_->cancel(progress_timer_);
  // A shutdown cut short (a second signal) leaves connections open: closing
  // them below must not report shutdown progress through server_, which
  // reset() has already nulled.
  shutdown_done_ = nullptr;
  // Connections first (their sessions stop using the context), then the
  // pool (its jobs finish), then the context.
  server_.reset();
  workers_.reset();
}

void FileServer::start() {
  server_->start();
}

void FileServer::handle_connection(const ConnectionPtr& connection) {
  if (connection->connected()) {
    auto session = std::make_shared<ServerSession>(context_.get(), connection);
    connection->context() = session;
    connection->set_peer_shutdown_callback([](const ConnectionPtr& closing) {
      if (auto session = session_of(closing)) session->handle_peer_shutdown();
    });
    connection->set_idle_callback([](const ConnectionPtr& idle) {
      if (auto session = session_of(idle)) session->handle_idle();
    });
    if (context_->draining) session->begin_draining();
    return;
  }
  if (auto session = session_of(connection)) session->handle_close();
  if (context_->draining) check_shutdown_progress();
}

void FileServer::shut_down(std::chrono::milliseconds grace, std::function<void()> done) {
  if (context_->draining) return;
  context_->draining = true;
  shutdown_done_ = std::move(done);
  server_->stop_accepting();
  spdlog::info("shutting down: {} connection(s) open, grace {} ms", server_->connection_count(),
               grace.count());
  server_->for_each_connection([](const ConnectionPtr& connection) {
    if (auto session = session_of(connection)) session->begin_draining();
  });
  grace_timer_ = loop_->run_after(grace, [this] {
    grace_timer_ = 0;
    size_t left = server_->connection_count();
    if (left > 0) spdlog::warn("grace period over: closing {} connection(s)", left);
    server_->for_each_connection([](const ConnectionPtr& connection) { connection->close(); });
    finish_shutdown();
  });
  // Sessions close themselves when their transfer ends; the poll catches
  // the moment the last one has gone (and any state change we missed).
  progress_timer_ = loop_->run_every(kShutdownPoll, [this] { check_shutdown_progress(); });
  check_shutdown_progress();
}

void FileServer::check_shutdown_progress() {
  if (!shutdown_done_) return;
  server_->for_each_connection([](const ConnectionPtr& connection) {
    if (auto session = session_of(connection)) session->begin_draining();
  });
  if (server_->connection_count() == 0) finish_shutdown();
}

void FileServer::finish_shutdown() {
  if (!shutdown_done_) return;
  if (grace_timer_ != 0) loop_->cancel(grace_timer_);
  if (progress_timer_ != 0) loop_->cancel(progress_timer_);
  grace_timer_ = progress_timer_ = 0;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

}  // namespace reactor::file
