// `put --watch DIR [--to REMOTE_DIR] [-r]`: keeps running and uploads every
// file that appears in DIR, once it has been closed after writing (inotify
// IN_CLOSE_WRITE) or moved in (IN_MOVED_TO). The inotify descriptor is one
// more channel on the client's event loop. With -r the subdirectories are
// watched too, new ones included (a new directory is watched, then scanned
// for what was written into it before the watch existed), and files go to
// REMOTE_DIR/relative/path.
//
// Hidden files and directories (".name") and *.part files are ignored, so
// editors' and downloaders' temporary files are not uploaded.
//
// What was uploaded is recorded (local path, remote path, server, size,
// mtime) in a state file, by default DIR/.rftp-watch-state (hidden, so not
// uploaded itself): a restarted watcher skips a file whose size and mtime
// still match the record without asking the server, and uploads one that
// changed since even if the server holds a file of the same size. Files
// without a record are STATed, and those the server already holds
// complete with the same size are skipped.
//
// The server going away is not the end: once connected, a lost connection
// (or a server silent for three heartbeats while answers are owed) is
// retried with exponential backoff (0.5 s doubling to 30 s); the files that
// were in flight start over on the new connection, and the server's
// unfinished uploads resume where they stopped. Failing to connect at all
// at start-up still ends the run (exit 3).
//
// SIGINT/SIGTERM: stop watching, wait for the acknowledgements still owed
// (a second signal, or being disconnected, stops at once), exit 0.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>

#include "apps/fileclient/command.h"
#include "apps/fileclient/upload_pipeline.h"
#include "reactor/channel.h"
#include "reactor/unique_fd.h"

namespace reactor::file::client {

struct WatchOptions {
  std::string directory;
  std::string remote_directory;
  std::chrono::milliseconds heartbeat{std::chrono::seconds(15)};
  bool recursive = false;
  bool quiet = false;      // no "watching" / "uploaded" lines, only errors
  std::string state_file;  // "" = DIR/.rftp-watch-state
  std::string server;      // HOST:PORT as given, to key the records
};

// Whether --watch uploads a file of this name (or enters a directory).
bool is_watched_name(std::string_view name);

class WatchCommand : public Command {
 public:
  explicit WatchCommand(WatchOptions options);
  ~WatchCommand() override;

  void start(CommandContext& context) override;
  void on_failure(CommandContext& context, const FileClient::Failure& failure) override;
  bool wants_signals() const override { return true; }
  void on_signal(CommandContext& context) override;

 private:
  struct Record {
    std::string remote;
    std::string server;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
  };

  void first_start();
  void reconnected();
  bool start_watching();
  bool add_watch(const std::string& relative);
  void scan(const std::string& relative, bool skip_if_present);
  void handle_inotify();
  void consider(const std::string& relative, bool skip_if_present);
  void handle_heartbeat();
  void connection_lost(const std::string& why);
  void stop_watching();
  void load_records();
  void save_record(const std::string& relative, const Record& record);
  std::string local_path(const std::string& relative) const;
  std::string relative_of(const std::string& local) const;

  WatchOptions options_;
  CommandContext* context_ = nullptr;
  std::unique_ptr<UploadPipeline> pipeline_;
  UniqueFd inotify_;
  std::unique_ptr<Channel> channel_;
  std::unordered_map<int, std::string> watches_;  // descriptor -> relative dir
  int top_watch_ = -1;
  TimerId heartbeat_timer_ = 0;
  uint64_t next_token_ = 1;
  bool stopping_ = false;
  bool started_ = false;
  size_t last_queued_output_ = 0;

  std::chrono::milliseconds backoff_{500};
  TimerId reconnect_timer_ = 0;

  std::unordered_map<std::string, Record> records_;  // by relative path
  FILE* state_ = nullptr;                            // append-only
};

}  // namespace reactor::file::client
