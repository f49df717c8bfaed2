// `put LOCAL... [--to REMOTE_DIR]`: uploads the given files, pipelined,
// resuming any that the server holds an unfinished upload of. Exits 0 once
// every file is acknowledged; otherwise with the first failure's code.
//
// With -r a LOCAL directory is copied as a tree, like `cp -r DIR REMOTE_DIR/`:
// every regular file under it goes to REMOTE_DIR/DIR-name/relative-path (a
// PUT creates the parent directories it needs, and MKDIR the directories
// with no file below them; a version-1 server has no MKDIR, so there an
// empty directory is not copied, with a note). A file the server already
// holds with the same size and, from a version-2 server, the same mtime is
// skipped (rsync's quick check); --checksum compares SHA-256 instead, like
// rsync -c.
#pragma once

#include <string>
#include <vector>

#include "apps/fileclient/command.h"
#include "apps/fileclient/progress_bar.h"
#include "apps/fileclient/upload_pipeline.h"

namespace reactor::file::client {

struct UploadOptions {
  std::vector<std::string> local_paths;
  std::string remote_directory;
  bool recursive = false;
  bool checksum = false;
  bool show_progress = false;
  bool quiet = false;    // no "resuming" notes
  bool verbose = false;  // a line per acknowledged or skipped file on stdout
};

class UploadCommand : public Command {
 public:
  explicit UploadCommand(UploadOptions options);
  ~UploadCommand() override;

  // Checks the local files before any connection is made (each must be a
  // readable regular file, or with -r a directory) and lists what to
  // upload. Returns an error message, or "" if all is well.
  std::string check_local_files();

  void start(CommandContext& context) override;
  void on_failure(CommandContext& context, const FileClient::Failure& failure) override;

 private:
  void finish_when_idle();
  void create_empty_directories(CommandContext& context);

  void update_label();

  UploadOptions options_;
  std::vector<UploadItem> items_;
  // Remote directories with no file to upload below them (-r): MKDIR.
  std::vector<std::string> empty_directories_;
  size_t mkdirs_in_flight_ = 0;
  CommandContext* context_ = nullptr;
  std::unique_ptr<UploadPipeline> pipeline_;
  ProgressBar progress_;
  uint64_t total_bytes_ = 0;
  size_t acknowledged_ = 0;
  size_t unchanged_ = 0;
  uint64_t skipped_bytes_ = 0;
  uint64_t resumed_bytes_ = 0;
  ExitCode first_failure_ = ExitCode::kOk;
  TimerId progress_timer_ = 0;
};

// The remote name of a local file: REMOTE_DIR/basename.
std::string remote_path_for(const std::string& local_path, const std::string& remote_directory);

}  // namespace reactor::file::client
