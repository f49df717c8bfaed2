// `put --watch DIR [--to REMOTE_DIR]`: keeps running and uploads every file
// that appears in DIR, once it has been closed after writing (inotify
// IN_CLOSE_WRITE) or moved in (IN_MOVED_TO). The inotify descriptor is one
// more channel on the client's event loop.
//
// On start the directory is scanned too, and files the server already has
// (same size, nothing unfinished) are skipped. Only DIR itself is watched,
// not its subdirectories; hidden files (".name") and *.part files are
// ignored, so editors' and downloaders' temporary files are not uploaded.
//
// Heartbeats: with nothing to do for --heartbeat seconds the client sends
// a PING; a server that answers nothing for three intervals while requests
// are owed is declared dead (exit 3).
//
// SIGINT/SIGTERM: stop watching, wait for the acknowledgements still owed
// (a second signal stops at once), exit 0.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "apps/fileclient/command.h"
#include "apps/fileclient/upload_pipeline.h"
#include "reactor/channel.h"
#include "reactor/unique_fd.h"

namespace reactor::file::client {

struct WatchOptions {
  std::string directory;
  std::string remote_directory;
  std::chrono::milliseconds heartbeat{std::chrono::seconds(15)};
  bool quiet = false;  // no "watching" / "uploaded" lines, only errors
};

// Whether --watch uploads a file of this name.
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
  bool start_watching();
  void scan_directory();
  void handle_inotify();
  void consider(const std::string& name, bool skip_if_present);
  void handle_heartbeat();
  void stop_watching();

  WatchOptions options_;
  CommandContext* context_ = nullptr;
  std::unique_ptr<UploadPipeline> pipeline_;
  UniqueFd inotify_;
  std::unique_ptr<Channel> channel_;
  TimerId heartbeat_timer_ = 0;
  uint64_t next_token_ = 1;
  bool stopping_ = false;
  size_t last_queued_output_ = 0;
};

}  // namespace reactor::file::client
