#include "apps/fileclient/upload_command.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/fileclient/output_format.h"

namespace reactor::file::client {

std::string remote_path_for(const std::string& local_path, const std::string& remote_directory) {
  return join_remote(remote_directory, last_component(local_path));
}

UploadCommand::UploadCommand(UploadOptions options)
    : options_(std::move(options)), progress_(stderr, options_.show_progress) {}

UploadCommand::~UploadCommand() = default;

std::string UploadCommand::check_local_files() {
  total_bytes_ = 0;
  for (const std::string& path : options_.local_paths) {
    struct stat info {};
    if (::stat(path.c_str(), &info) < 0) return path + ": " + std::strerror(errno);
    if (!S_ISREG(info.st_mode)) return path + ": not a regular file";
    if (last_component(path).empty()) return path + ": has no file name to upload under";
    total_bytes_ += static_cast<uint64_t>(info.st_size);
  }
  return "";
}

void UploadCommand::start(CommandContext& context) {
  context_ = &context;
  UploadPipeline::Callbacks callbacks;
  callbacks.on_uploaded = [this](const UploadItem& item, uint64_t size, bool) {
    ++acknowledged_;
    if (options_.verbose) {
      progress_.clear();
      std::printf("uploaded %s -> %s (%llu bytes)\n", escape_text(item.local_path).c_str(),
                  escape_text(item.remote_path).c_str(), static_cast<unsigned long long>(size));
      std::fflush(stdout);
    }
  };
  callbacks.on_failed = [this](const UploadItem&, ExitCode code, const std::string& message) {
    progress_.clear();
    print_error(message);
    if (first_failure_ == ExitCode::kOk) first_failure_ = code;
  };
  callbacks.on_idle = [this] { finish_when_idle(); };
  pipeline_ = std::make_unique<UploadPipeline>(&context.client(), std::move(callbacks));
  context.client().set_write_complete_callback([this] { pipeline_->pump(); });

  for (const std::string& path : options_.local_paths) {
    pipeline_->enqueue(UploadItem{path, remote_path_for(path, options_.remote_directory), false});
  }
  std::string label = options_.local_paths.size() == 1
                          ? last_component(options_.local_paths.front())
                          : std::to_string(options_.local_paths.size()) + " files";
  progress_.start(label, total_bytes_);
  if (progress_.enabled()) {
    progress_timer_ = context.loop().run_every(
        std::chrono::milliseconds(100), [this] { progress_.update(pipeline_->bytes_sent()); });
  }
  pipeline_->pump();
}

void UploadCommand::finish_when_idle() {
  if (context_->finished()) return;
  if (progress_timer_ != 0) context_->loop().cancel(progress_timer_);
  progress_timer_ = 0;
  if (first_failure_ == ExitCode::kOk) {
    progress_.finish();
  } else {
    progress_.clear();
  }
  context_->finish(first_failure_);
}

void UploadCommand::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  progress_.clear();
  std::string message = failure.message;
  if (pipeline_ != nullptr) {
    message += " (" + std::to_string(acknowledged_) + " of " +
               std::to_string(options_.local_paths.size()) + " file(s) acknowledged)";
  }
  context.finish(ExitCode::kConnection, message);
}

}  // namespace reactor::file::client
