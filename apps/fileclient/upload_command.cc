#include "apps/fileclient/upload_command.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

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
      // Every directory of the tree, and those a file's PUT will create.
      std::set<std::string> directories = {top};
      std::set<std::string> holding_files;
      std::error_code error;
      std::filesystem::recursive_directory_iterator walk(path, error), end;
      for (; !error && walk != end; walk.increment(error)) {
        // Lexically: relative() would resolve symlinks, and a link to
        // ../../x would be uploaded as TOP/../../x, outside TOP. A link is
        // uploaded under its own name, with what it points to.
        const std::string relative = walk->path().lexically_relative(path).generic_string();
        const std::string remote = join_remote(top, relative);
        // What one entry is; a dangling link fails these and is skipped,
        // like FIFOs and sockets, without ending the walk.
        std::error_code entry_error;
        if (walk->is_symlink(entry_error) && walk->is_directory(entry_error))
          continue;  // not followed
        if (walk->is_directory(entry_error)) {
          directories.insert(remote);
          continue;
        }
        if (!walk->is_regular_file(entry_error)) continue;
        items_.push_back(UploadItem{walk->path().string(), remote, true, options_.checksum});
        total_bytes_ += static_cast<uint64_t>(walk->file_size(entry_error));
        for (std::string parent = remote; parent.find('/') != std::string::npos;) {
          parent.erase(parent.rfind('/'));
          if (!holding_files.insert(parent).second) break;  // and its parents already
        }
      }
      if (error) return path + ": " + error.message();
      // The deepest ones suffice (MKDIR creates the parents); in the sorted
      // set a directory's subdirectories follow it.
      for (auto it = directories.begin(); it != directories.end(); ++it) {
        const auto next = std::next(it);
        const bool has_subdirectory = next != directories.end() && next->starts_with(*it + "/");
        if (holding_files.count(*it) == 0 && !has_subdirectory) empty_directories_.push_back(*it);
      }
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

  create_empty_directories(context);
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

void UploadCommand::create_empty_directories(CommandContext& context) {
  if (empty_directories_.empty()) return;
  if (context.client().protocol_version() < kProtocolVersion2) {
    if (!options_.quiet) {
      print_note("the server speaks protocol version 1, which cannot create a directory: " +
                 std::to_string(empty_directories_.size()) +
                 " empty directorie(s) not copied, e.g. " + empty_directories_.front());
    }
    return;
  }
  // Sent before the files' PUTs, on the same connection: answered first.
  for (const std::string& directory : empty_directories_) {
    ++mkdirs_in_flight_;
    context.client().mkdir(directory, [this, directory](const Reply& reply) {
      --mkdirs_in_flight_;
      if (const auto* error = std::get_if<ErrorReply>(&reply)) {
        progress_.clear();
        print_error(describe_refusal(directory, *error));
        if (first_failure_ == ExitCode::kOk) first_failure_ = ExitCode::kServerError;
      } else if (options_.verbose) {
        progress_.clear();
        std::printf("created %s/\n", escape_text(directory).c_str());
        std::fflush(stdout);
      }
      if (mkdirs_in_flight_ == 0 && pipeline_->idle()) finish_when_idle();
    });
  }
}

void UploadCommand::finish_when_idle() {
  if (context_->finished() || mkdirs_in_flight_ > 0) return;
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
