#include "apps/fileclient/tree_download_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "apps/fileclient/output_format.h"
#include "protocols/file/sha256.h"

namespace reactor::file::client {
namespace {

std::string join_local(const std::string& directory, const std::string& name) {
  if (directory.empty()) return name;
  return directory.back() == '/' ? directory + name : directory + "/" + name;
}

// mkdir -p.
bool make_directories(const std::string& path) {
  if (path.empty()) return true;
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return true;
    errno = ENOTDIR;
    return false;
  }
  size_t slash = path.find_last_of('/', path.size() - 2);
  if (slash != std::string::npos && slash > 0 && !make_directories(path.substr(0, slash))) {
    return false;
  }
  return ::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST;
}

}  // namespace

bool is_safe_entry_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

TreeDownloadCommand::TreeDownloadCommand(TreeDownloadOptions options)
    : options_(std::move(options)), progress_(stderr, options_.show_progress) {}

TreeDownloadCommand::~TreeDownloadCommand() = default;

void TreeDownloadCommand::start(CommandContext& context) {
  context_ = &context;
  if (!make_directories(options_.local)) {
    context.finish(ExitCode::kLocalIo,
                   "cannot create " + options_.local + ": " + std::strerror(errno));
    return;
  }
  list_directory(options_.remote, options_.local);
}

void TreeDownloadCommand::list_directory(const std::string& remote, const std::string& local) {
  ++lists_owed_;
  context_->client().list(
      remote, [this, remote, local](const Reply& reply) { handle_list(remote, local, reply); });
}

void TreeDownloadCommand::handle_list(const std::string& remote, const std::string& local,
                                      const Reply& reply) {
  --lists_owed_;
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    if (remote == options_.remote) {
      // The top itself: nothing to copy.
      context_->finish_with_server_error(*error);
      return;
    }
    record_failure(ExitCode::kServerError, remote + ": " + describe_server_error(*error));
  } else {
    for (const ListEntry& entry : std::get<ListOk>(reply).entries) {
      if (!is_safe_entry_name(entry.name)) {
        record_failure(ExitCode::kServerError,
                       remote + ": the server listed an unusable name '" + entry.name + "'");
        continue;
      }
      const std::string entry_remote = join_remote(remote, entry.name);
      const std::string entry_local = join_local(local, entry.name);
      if (entry.kind == EntryKind::kDirectory) {
        if (::mkdir(entry_local.c_str(), 0755) < 0 && errno != EEXIST) {
          record_failure(ExitCode::kLocalIo,
                         "cannot create " + entry_local + ": " + std::strerror(errno));
          continue;
        }
        list_directory(entry_remote, entry_local);
      } else if (entry.kind == EntryKind::kFile) {
        files_.push_back(RemoteFile{entry_remote, entry_local, entry.size, entry.mtime});
      }
      // Unfinished uploads and other kinds are not files to copy.
    }
  }
  if (lists_owed_ == 0) begin_transfers();
}

void TreeDownloadCommand::begin_transfers() {
  uint64_t total = 0;
  for (const RemoteFile& file : files_) total += file.size;
  progress_.start("", total);
  update_label();
  if (progress_.enabled()) {
    progress_timer_ = context_->loop().run_every(std::chrono::milliseconds(100), [this] {
      progress_.update(bytes_done_ + (current_ ? current_->bytes_done() : 0));
    });
  }
  next_file();
}

void TreeDownloadCommand::next_file() {
  retired_.reset();
  while (next_ < files_.size() && !context_->finished()) {
    const RemoteFile& file = files_[next_++];
    struct stat local {};
    const bool exists = ::stat(file.local.c_str(), &local) == 0 && S_ISREG(local.st_mode);
    const bool same_size = exists && static_cast<uint64_t>(local.st_size) == file.size;
    if (same_size && options_.checksum) {
      compare_checksum(file);
      return;
    }
    if (same_size && local.st_mtim.tv_sec == file.mtime) {
      skipped(file);
      continue;
    }
    download(file);
    return;
  }
  if (next_ >= files_.size()) finish_all();
}

void TreeDownloadCommand::compare_checksum(const RemoteFile& file) {
  context_->client().hash(file.remote, [this, file](const Reply& reply) {
    if (const auto* error = std::get_if<ErrorReply>(&reply)) {
      file_done(file, ExitCode::kServerError, describe_server_error(*error));
      return;
    }
    UniqueFd fd(::open(file.local.c_str(), O_RDONLY | O_CLOEXEC));
    // Hashed on the loop thread: the connection has nothing else to do
    // while this file is being decided. An unreadable copy is replaced.
    bool same = false;
    if (fd) {
      protocols::Result<Digest> local = sha256_of_file(fd.get());
      same = local && local.value() == std::get<HashOk>(reply).digest;
    }
    if (same) {
      skipped(file);
      context_->loop().post([this] { next_file(); });
      return;
    }
    download(file);
  });
}

void TreeDownloadCommand::download(const RemoteFile& file) {
  DownloadOptions options;
  options.remote = file.remote;
  options.local = file.local;
  options.quiet = options_.quiet;
  options.on_done = [this, file](ExitCode code, const std::string& message) {
    file_done(file, code, message);
  };
  current_ = std::make_unique<DownloadCommand>(std::move(options));
  current_->start(*context_);
}

void TreeDownloadCommand::file_done(const RemoteFile& file, ExitCode code,
                                    const std::string& message) {
  bytes_done_ += file.size;
  ++files_done_;
  if (code == ExitCode::kOk) {
    ++files_copied_;
    if (options_.verbose) {
      progress_.clear();
      std::printf("downloaded %s -> %s (%llu bytes)\n", escape_text(file.remote).c_str(),
                  escape_text(file.local).c_str(), static_cast<unsigned long long>(file.size));
      std::fflush(stdout);
    }
  } else {
    record_failure(code, message);
  }
  update_label();
  retired_ = std::move(current_);
  // Not from inside the download's own callback.
  context_->loop().post([this] { next_file(); });
}

void TreeDownloadCommand::skipped(const RemoteFile& file) {
  bytes_done_ += file.size;
  ++files_done_;
  ++files_unchanged_;
  if (options_.verbose) {
    progress_.clear();
    std::printf("unchanged %s\n", escape_text(file.local).c_str());
    std::fflush(stdout);
  }
  update_label();
}

void TreeDownloadCommand::record_failure(ExitCode code, const std::string& message) {
  progress_.clear();
  print_error(message);
  if (first_failure_ == ExitCode::kOk) first_failure_ = code;
}

void TreeDownloadCommand::update_label() {
  progress_.set_label(std::to_string(files_done_) + "/" + std::to_string(files_.size()) + " files");
}

void TreeDownloadCommand::finish_all() {
  if (progress_timer_ != 0) context_->loop().cancel(progress_timer_);
  progress_timer_ = 0;
  progress_.update(bytes_done_);
  progress_.finish();
  if (!options_.quiet && options_.verbose) {
    std::printf("%zu file(s): %zu downloaded, %zu unchanged\n", files_.size(), files_copied_,
                files_unchanged_);
    std::fflush(stdout);
  }
  context_->finish(first_failure_);
}

void TreeDownloadCommand::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  progress_.clear();
  if (current_) current_->on_failure(context, failure);  // keeps its .part for a resume
  context.finish(ExitCode::kConnection, failure.message);
}

}  // namespace reactor::file::client
