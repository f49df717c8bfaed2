#include "apps/fileclient/upload_command.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

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
  items_.clear();
  for (const std::string& path : options_.local_paths) {
    struct stat info {};
    if (::stat(path.c_str(), &info) < 0) return path + ": " + std::strerror(errno);
    std::string name = last_component(path);
    if (name.empty()) {
      // "dir/." or "..": name it by what it is.
      std::error_code error;
      name = last_component(std::filesystem::weakly_canonical(path, error).string());
    }
    if (name.empty()) return path + ": has no file name to upload under";
    if (S_ISDIR(info.st_mode) && options_.recursive) {
      const std::string top = join_remote(options_.remote_directory, name);
      std::error_code error;
      std::filesystem::recursive_directory_iterator walk(path, error), end;
      for (; !error && walk != end; walk.increment(error)) {
        if (!walk->is_regular_file(error)) continue;
        const std::string relative =
            std::filesystem::relative(walk->path(), path, error).generic_string();
        items_.push_back(
            UploadItem{walk->path().string(), join_remote(top, relative), true, options_.checksum});
        total_bytes_ += static_cast<uint64_t>(walk->file_size(error));
      }
      if (error) return path + ": " + error.message();
      continue;
    }
    if (!S_ISREG(info.st_mode)) {
      return path + (S_ISDIR(info.st_mode) ? ": a directory (use -r to copy a tree)"
                                           : ": not a regular file");
    }
    items_.push_back(UploadItem{path, join_remote(options_.remote_directory, name),
                                options_.recursive, options_.checksum});
    total_bytes_ += static_cast<uint64_t>(info.st_size);
  }
  return "";
}

void UploadCommand::update_label() {
  if (items_.size() == 1) {
    progress_.set_label(last_component(items_.front().local_path));
  } else {
    progress_.set_label(std::to_string(acknowledged_ + unchanged_) + "/" +
                        std::to_string(items_.size()) + " files");
  }
}

void UploadCommand::start(CommandContext& context) {
  context_ = &context;
  UploadPipeline::Callbacks callbacks;
  callbacks.on_uploaded = [this](const UploadItem& item, uint64_t size, bool skipped) {
    if (skipped) {
      ++unchanged_;
      skipped_bytes_ += size;
    } else {
      ++acknowledged_;
    }
    update_label();
    if (options_.verbose) {
      progress_.clear();
      if (skipped) {
        std::printf("unchanged %s -> %s\n", escape_text(item.local_path).c_str(),
                    escape_text(item.remote_path).c_str());
      } else {
        std::printf("uploaded %s -> %s (%llu bytes)\n", escape_text(item.local_path).c_str(),
                    escape_text(item.remote_path).c_str(), static_cast<unsigned long long>(size));
      }
      std::fflush(stdout);
    }
  };
  callbacks.on_resume = [this](const UploadItem& item, uint64_t offset, uint64_t size) {
    resumed_bytes_ += offset;
    if (options_.quiet) return;
    progress_.clear();
    print_note("resuming the upload of " + item.local_path + " from " + format_bytes(offset) +
               " of " + format_bytes(size) + " (held by the server)");
  };
  callbacks.on_failed = [this](const UploadItem&, ExitCode code, const std::string& message) {
    progress_.clear();
    print_error(message);
    if (first_failure_ == ExitCode::kOk) first_failure_ = code;
  };
  callbacks.on_idle = [this] { finish_when_idle(); };
  pipeline_ = std::make_unique<UploadPipeline>(&context.client(), std::move(callbacks));
  context.client().set_write_complete_callback([this] { pipeline_->pump(); });

  for (const UploadItem& item : items_) pipeline_->enqueue(item);
  progress_.start("", total_bytes_);
  update_label();
  if (progress_.enabled()) {
    progress_timer_ = context.loop().run_every(std::chrono::milliseconds(100), [this] {
      progress_.update(pipeline_->bytes_sent() + skipped_bytes_ + resumed_bytes_);
    });
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
    message += " (" + std::to_string(acknowledged_ + unchanged_) + " of " +
               std::to_string(items_.size()) + " file(s) acknowledged)";
  }
  context.finish(ExitCode::kConnection, message);
}

}  // namespace reactor::file::client
