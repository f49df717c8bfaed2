// `get REMOTE [LOCAL] [--verify]`: a resumable download.
//
// Bytes go to LOCAL.part as they arrive; LOCAL itself appears (or is
// replaced) only by a rename once the download is complete, with the
// .part fsync()ed before the rename and the directory after it, so a power
// cut never leaves a complete-looking but empty or short LOCAL. Beside the
// .part, LOCAL.part.info records which remote file the .part is a prefix
// of: path, size and mtime from STAT. A later run resumes only if STAT
// still reports the same three; otherwise it starts over -- unlike
// `curl -C -`, a changed file is never spliced onto an old prefix. The
// .part stays after an interruption and is removed when the server says
// the file does not exist.
//
// With --verify, the finished .part is hashed locally (on a worker thread)
// while the server hashes its copy; LOCAL is only created if they agree.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apps/fileclient/command.h"
#include "apps/fileclient/progress_bar.h"
#include "reactor/thread_pool.h"
#include "reactor/unique_fd.h"

namespace reactor::file::client {

struct DownloadOptions {
  std::string remote;
  std::string local;  // final path (already resolved against directories)
  bool verify = false;
  bool show_progress = false;
  bool quiet = false;  // no "resuming ..." note
  // Set when the download is one step of a larger command (get -r): called
  // once with the outcome instead of ending the run.
  std::function<void(ExitCode code, const std::string& message)> on_done;
};

// What LOCAL.part.info says about the remote file the .part belongs to.
struct PartialRecord {
  std::string remote;
  uint64_t size = 0;
  int64_t mtime = 0;
};
std::string format_partial_record(const PartialRecord& record);
// nullopt if the text is not a complete record.
std::optional<PartialRecord> parse_partial_record(std::string_view text);

// fsync()s the directory that holds `path` (after a rename into it); false
// with errno set on failure.
bool sync_directory_of(const std::string& path);

class DownloadCommand : public Command {
 public:
  explicit DownloadCommand(DownloadOptions options);
  ~DownloadCommand() override;

  void start(CommandContext& context) override;
  void on_failure(CommandContext& context, const FileClient::Failure& failure) override;
  // Bytes of the file in LOCAL.part so far (a resume's prefix included).
  uint64_t bytes_done() const { return write_offset_; }

 private:
  void end(ExitCode code, const std::string& message = "");
  void request_stat();
  void handle_stat(const Reply& reply);
  bool open_partial(const StatOk& stat);
  void handle_header(const DataHeader& header);
  void handle_complete();
  void handle_get_error(const ErrorReply& error);
  void verify_then_finish();
  void compare_digests();
  // Gives the finished .part the server's mtime; false (and finished) on error.
  bool apply_remote_mtime();
  void move_into_place();
  void remove_partial();
  void fail_local(const std::string& what, int error);

  DownloadOptions options_;
  std::string part_path_;
  std::string info_path_;
  CommandContext* context_ = nullptr;
  ProgressBar progress_;

  int attempts_ = 0;
  StatOk remote_{};
  UniqueFd part_;
  uint64_t write_offset_ = 0;
  bool discarding_ = false;  // the file changed between STAT and GET

  std::unique_ptr<ThreadPool> hasher_;
  std::optional<Digest> local_digest_;
  std::optional<Digest> remote_digest_;
  bool ended_ = false;
};

}  // namespace reactor::file::client
