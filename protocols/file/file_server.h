// FileServer: an RFTP server on one event loop -- a TcpServer whose
// connections each get a ServerSession, a small worker pool for fsync and
// SHA-256, and a graceful shutdown.
//
// Threading: construct, start and shut down on the loop thread (one
// FileServer per loop for several; see FileServerOptions::reuse_port). The loop
// must outlive the server. Block SIGINT/SIGTERM (EventLoop::on_signal)
// before constructing it: the worker threads inherit the signal mask.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "protocols/file/server_context.h"
#include "reactor/connection_limit.h"
#include "reactor/event_loop.h"
#include "reactor/socket_address.h"
#include "reactor/tcp_server.h"
#include "reactor/thread_pool.h"

namespace reactor::file {

struct FileServerOptions {
  SocketAddress address;
  std::string directory;
  bool read_only = false;
  // Zero disables the idle timeout.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // Zero: no limit beyond the descriptor limit.
  size_t max_connections = 0;
  // Worker threads for fsync and SHA-256.
  size_t worker_threads = 2;
  std::string server_name = "reactor-fileserver";
  // Shared secret (auth.h). Empty: no authentication, and version-1
  // clients are served as well as version-2 ones.
  std::string token;
  // A PUT declaring more is ERROR 6 (0: no limit).
  uint64_t max_file_size = 0;
  // A PUT whose remaining bytes would leave less than this free on the
  // upload area's file system is ERROR 6 before anything is written (0: no
  // check).
  uint64_t min_free_space = 0;
  // Unfinished uploads with no write for this long are removed by a sweep
  // that runs periodically (0: kept forever).
  std::chrono::seconds upload_expiry{std::chrono::hours(24)};

  // Several loops, one FileServer on each (reactor-fileserver --threads):
  // they listen on one port with SO_REUSEPORT, count one connection limit
  // (which then replaces max_connections) and share one registry of
  // uploads in progress, so one path uploaded on connections of two loops
  // is still ERROR 4. Null: the server's own.
  bool reuse_port = false;
  std::shared_ptr<ConnectionLimit> connection_limit;
  std::shared_ptr<UploadRegistry> upload_registry;
};

class FileServer {
 public:
  // Opens the directory and the upload area, binds and listens. Throws
  // std::system_error (bad directory, address in use...).
  FileServer(EventLoop* loop, FileServerOptions options);
  ~FileServer();
  FileServer(const FileServer&) = delete;
  FileServer& operator=(const FileServer&) = delete;

  void start();
  const SocketAddress& listen_address() const { return server_->listen_address(); }
  size_t connection_count() const { return server_->connection_count(); }

  // Graceful shutdown: closes the listening socket (new clients are
  // refused at once), closes connections with nothing in flight, lets the
  // transfers in flight finish, and calls `done` once every connection has
  // closed -- or after `grace`, closing the rest. `done` runs on the loop
  // thread, once.
  void drain(std::chrono::milliseconds grace, std::function<void()> done);
  bool shutting_down() const { return context_->draining; }
  // Closes the listening socket, nothing else (drain() does it too).
  void stop_accepting() { server_->stop_accepting(); }

 private:
  void handle_connection(const ConnectionPtr& connection);

  EventLoop* loop_;
  FileServerOptions options_;
  std::unique_ptr<ServerContext> context_;
  // Destroyed before the context: the pool finishes the jobs that use it.
  std::unique_ptr<ThreadPool> workers_;
  // Destroyed first: closing the connections ends their sessions while
  // the context is still there.
  std::unique_ptr<TcpServer> server_;

  // Removes expired unfinished uploads: scans on a worker, removes on the
  // loop (where the registry tells which are being written).
  void sweep_expired_uploads();

  TimerId grace_timer_ = 0;
  TimerId sweep_timer_ = 0;
  bool sweeping_ = false;
  // Guards sweep results posted back after the server is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace reactor::file
