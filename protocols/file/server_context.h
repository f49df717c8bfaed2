// What every server session shares: the served tree, the upload area, the
// registry of uploads in progress and the worker pool. Owned by FileServer;
// sessions hold a pointer and stop touching it once their connection has
// closed (the server closes them all before it goes away).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/file/upload_registry.h"
#include "protocols/file/upload_store.h"
#include "reactor/event_loop.h"
#include "reactor/thread_pool.h"

namespace reactor::file {

struct ServerContext {
  ServerContext(EventLoop* event_loop, const std::string& directory, bool read_only_server)
      : loop(event_loop),
        root(directory, std::string(UploadStore::kDirectoryName)),
        uploads(root, read_only_server),
        read_only(read_only_server) {}

  EventLoop* loop;
  protocols::ServedTree root;
  UploadStore uploads;
  // Shared with the servers of other loops when there are several.
  std::shared_ptr<UploadRegistry> registry = std::make_shared<UploadRegistry>();
  ThreadPool* workers = nullptr;
  bool read_only;
  std::string server_name;
  // Non-empty: clients must speak version 2 and prove they hold it.
  std::string token;
  // Upload limits (0: none): the largest file a PUT may declare, and the
  // space a PUT must leave free on the upload area's file system.
  uint64_t max_file_size = 0;
  uint64_t min_free_space = 0;
  std::chrono::milliseconds idle_timeout{0};
  // Set on SIGINT/SIGTERM: sessions finish the transfer in flight, then close.
  bool draining = false;
};

}  // namespace reactor::file
