// `put LOCAL... [--to REMOTE_DIR]`: uploads the given files, pipelined,
// resuming any that the server holds an unfinished upload of. Exits 0 once
// every file is acknowledged; otherwise with the first failure's code.
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
  bool show_progress = false;
  bool verbose = false;  // a line per acknowledged file on stdout
};

class UploadCommand : public Command {
 public:
  explicit UploadCommand(UploadOptions options);
  ~UploadCommand() override;

  // Checks the local files before any connection is made: each must be a
  // readable regular file. Returns an error message, or "" if all is well.
  std::string check_local_files();

  void start(CommandContext& context) override;
  void on_failure(CommandContext& context, const FileClient::Failure& failure) override;

 private:
  void finish_when_idle();

  UploadOptions options_;
  CommandContext* context_ = nullptr;
  std::unique_ptr<UploadPipeline> pipeline_;
  ProgressBar progress_;
  uint64_t total_bytes_ = 0;
  size_t acknowledged_ = 0;
  ExitCode first_failure_ = ExitCode::kOk;
  TimerId progress_timer_ = 0;
};

// The remote name of a local file: REMOTE_DIR/basename.
std::string remote_path_for(const std::string& local_path, const std::string& remote_directory);

}  // namespace reactor::file::client
