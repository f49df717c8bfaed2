// `get -r REMOTE_DIR [LOCAL_DIR]`: copies a remote tree to LOCAL_DIR/NAME,
// like `rsync -r -t` (main() works out the target).
//
// The tree is listed first (one LIST per directory, all pipelined), local
// directories are created as they are found (empty ones too), and then the
// files are downloaded one after another, each exactly as `get` does it:
// through LOCAL.part, resumable, fsync()ed, renamed, with the server's
// mtime. A local file whose size and mtime equal the server's is skipped;
// with --checksum a file of the same size is skipped only if its SHA-256
// equals the server's HASH (the mtime is then ignored), like rsync -c.
//
// Names in a listing are the server's: one that is empty, "." or "..", or
// holds a '/', would write outside LOCAL_DIR and is refused (exit 1).
// A failed file is reported and the others continue; the exit code is the
// first failure's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apps/fileclient/command.h"
#include "apps/fileclient/download_command.h"
#include "apps/fileclient/progress_bar.h"

namespace reactor::file::client {

struct TreeDownloadOptions {
  std::string remote;  // remote directory; "" is the root
  std::string local;   // local directory the tree is copied to (created)
  bool checksum = false;
  bool show_progress = false;
  bool quiet = false;
  bool verbose = false;  // a line per file on stdout
};

// Whether a LIST entry's name can be used as one local path component.
bool is_safe_entry_name(std::string_view name);

class TreeDownloadCommand : public Command {
 public:
  explicit TreeDownloadCommand(TreeDownloadOptions options);
  ~TreeDownloadCommand() override;

  void start(CommandContext& context) override;
  void on_failure(CommandContext& context, const FileClient::Failure& failure) override;

 private:
  struct RemoteFile {
    std::string remote;
    std::string local;
    uint64_t size = 0;
    int64_t mtime = 0;
  };

  void list_directory(const std::string& remote, const std::string& local);
  void handle_list(const std::string& remote, const std::string& local, const Reply& reply);
  void begin_transfers();
  void next_file();
  void compare_checksum(const RemoteFile& file);
  void download(const RemoteFile& file);
  void file_done(const RemoteFile& file, ExitCode code, const std::string& message);
  void skipped(const RemoteFile& file);
  void record_failure(ExitCode code, const std::string& message);
  void update_label();
  void finish_all();

  TreeDownloadOptions options_;
  CommandContext* context_ = nullptr;
  ProgressBar progress_;
  TimerId progress_timer_ = 0;

  size_t lists_owed_ = 0;
  std::vector<RemoteFile> files_;
  size_t next_ = 0;
  size_t files_done_ = 0;
  size_t files_copied_ = 0;
  size_t files_unchanged_ = 0;
  uint64_t bytes_done_ = 0;
  std::unique_ptr<DownloadCommand> current_;
  // Finished downloads are destroyed later, never inside their own callback.
  std::unique_ptr<DownloadCommand> retired_;
  ExitCode first_failure_ = ExitCode::kOk;
};

}  // namespace reactor::file::client
