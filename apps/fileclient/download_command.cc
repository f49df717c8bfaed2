#include "apps/fileclient/download_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "protocols/file/sha256.h"

namespace reactor::file::client {
namespace {

// STAT + GET again when the file changed between them, at most this often.
constexpr int kMaxAttempts = 3;
constexpr std::string_view kRecordMagic = "rftp-partial 1\n";

bool write_all_at(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

std::optional<std::string> read_small_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buffer[8192];
  ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
  if (n < 0) return std::nullopt;
  return std::string(buffer, static_cast<size_t>(n));
}

template <typename Integer>
bool parse_field(std::string_view& text, std::string_view name, Integer& value) {
  if (!text.starts_with(name)) return false;
  text.remove_prefix(name.size());
  size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + newline, value);
  if (error != std::errc() || end != text.data() + newline) return false;
  text.remove_prefix(newline + 1);
  return true;
}

}  // namespace

bool sync_directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string directory = slash == std::string::npos ? "." : path.substr(0, slash);
  if (directory.empty()) directory = "/";
  UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return fd && ::fsync(fd.get()) == 0;
}

std::string format_partial_record(const PartialRecord& record) {
  return std::string(kRecordMagic) + "size " + std::to_string(record.size) + "\nmtime " +
         std::to_string(record.mtime) + "\nremote " + record.remote + "\n";
}

std::optional<PartialRecord> parse_partial_record(std::string_view text) {
  if (!text.starts_with(kRecordMagic)) return std::nullopt;
  text.remove_prefix(kRecordMagic.size());
  PartialRecord record;
  if (!parse_field(text, "size ", record.size)) return std::nullopt;
  if (!parse_field(text, "mtime ", record.mtime)) return std::nullopt;
  if (!text.starts_with("remote ") || !text.ends_with('\n')) return std::nullopt;
  record.remote = std::string(text.substr(7, text.size() - 8));
  return record;
}

DownloadCommand::DownloadCommand(DownloadOptions options)
    : options_(std::move(options)),
      part_path_(options_.local + ".part"),
      info_path_(options_.local + ".part.info"),
      progress_(stderr, options_.show_progress) {}

DownloadCommand::~DownloadCommand() = default;

void DownloadCommand::start(CommandContext& context) {
  context_ = &context;
  request_stat();
}

void DownloadCommand::end(ExitCode code, const std::string& message) {
  if (ended_) return;
  ended_ = true;
  if (options_.on_done) {
    options_.on_done(code, message);
  } else {
    context_->finish(code, message);
  }
}

void DownloadCommand::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  progress_.clear();
  hasher_.reset();  // join: its result must not be posted to a loop that is gone
  // The .part and its record stay: the next run resumes from them.
  context.finish(ExitCode::kConnection, failure.message);
}

void DownloadCommand::request_stat() {
  ++attempts_;
  context_->client().stat(options_.remote, [this](const Reply& reply) { handle_stat(reply); });
}

void DownloadCommand::handle_stat(const Reply& reply) {
  if (const auto* error = std::get_if<ErrorReply>(&reply)) {
    if (error->code == static_cast<uint16_t>(ErrorCode::kNotFound)) remove_partial();
    end(ExitCode::kServerError, describe_server_error(*error));
    return;
  }
  const auto& stat = std::get<StatOk>(reply);
  if (stat.kind == EntryKind::kUnfinishedUpload) {
    remove_partial();
    end(ExitCode::kServerError, options_.remote + ": not found (only an unfinished upload exists)");
    return;
  }
  if (stat.kind != EntryKind::kFile) {
    end(ExitCode::kServerError, options_.remote + ": not a regular file");
    return;
  }
  remote_ = stat;
  if (!open_partial(stat)) return;
  discarding_ = false;
  FileClient::DownloadSink sink;
  sink.on_header = [this](const DataHeader& header) { handle_header(header); };
  // The client writes (splices) the body into the .part itself.
  sink.file = part_.get();
  sink.file_offset = write_offset_;
  sink.on_progress = [this](uint64_t offset) {
    write_offset_ = offset;
    progress_.update(offset);
  };
  sink.on_write_error = [this](int error) { fail_local("cannot write " + part_path_, error); };
  sink.on_complete = [this] { handle_complete(); };
  sink.on_error = [this](const ErrorReply& error) { handle_get_error(error); };
  context_->client().get(options_.remote, write_offset_, std::move(sink));
}

bool DownloadCommand::open_partial(const StatOk& stat) {
  PartialRecord wanted{options_.remote, stat.size, stat.mtime};
  uint64_t resume_from = 0;
  struct stat part_info {};
  if (auto text = read_small_file(info_path_)) {
    auto recorded = parse_partial_record(*text);
    if (recorded && recorded->remote == wanted.remote && recorded->size == wanted.size &&
        recorded->mtime == wanted.mtime && ::stat(part_path_.c_str(), &part_info) == 0 &&
        S_ISREG(part_info.st_mode) && static_cast<uint64_t>(part_info.st_size) <= stat.size) {
      resume_from = static_cast<uint64_t>(part_info.st_size);
    }
  }
  part_.reset(::open(part_path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!part_) {
    fail_local("cannot write " + part_path_, errno);
    return false;
  }
  if (resume_from == 0) {
    // Truncate before recording the new identity: a crash in between
    // leaves an empty .part, never old bytes under a new record.
    if (::ftruncate(part_.get(), 0) < 0) {
      fail_local("cannot truncate " + part_path_, errno);
      return false;
    }
    std::string temporary = info_path_ + ".tmp";
    UniqueFd info(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    std::string text = format_partial_record(wanted);
    if (!info || !write_all_at(info.get(), text, 0) ||
        ::rename(temporary.c_str(), info_path_.c_str()) < 0) {
      fail_local("cannot write " + info_path_, errno);
      return false;
    }
  }
  write_offset_ = resume_from;
  if (resume_from > 0 && !options_.quiet) {
    progress_.clear();
    print_note("resuming " + options_.local + " from " + format_bytes(resume_from) + " of " +
               format_bytes(stat.size) + " (" + part_path_ + ")");
  }
  return true;
}

void DownloadCommand::handle_header(const DataHeader& header) {
  if (header.size != remote_.size) {
    // Changed between STAT and GET: these bytes belong to neither version
    // we could trust. They land in the .part, which is started over (from
    // a fresh STAT) once they are through.
    discarding_ = true;
    return;
  }
  std::string label = options_.local;
  size_t slash = label.rfind('/');
  if (slash != std::string::npos) label = label.substr(slash + 1);
  progress_.start(label, header.size, header.offset);
}

void DownloadCommand::handle_complete() {
  if (ended_) return;
  if (discarding_) {
    if (attempts_ >= kMaxAttempts) {
      end(ExitCode::kConnection, options_.remote + ": the file keeps changing during the download");
      return;
    }
    ::unlink(info_path_.c_str());  // the next open_partial() starts over
    request_stat();
    return;
  }
  progress_.finish();
  if (options_.verify) {
    verify_then_finish();
  } else {
    move_into_place();
  }
}

void DownloadCommand::handle_get_error(const ErrorReply& error) {
  if (error.code == static_cast<uint16_t>(ErrorCode::kNotFound)) remove_partial();
  end(ExitCode::kServerError, describe_server_error(error));
}

void DownloadCommand::verify_then_finish() {
  // Both hashes at once: ours on a worker thread, the server's on its pool.
  hasher_ = std::make_unique<ThreadPool>(1);
  auto file = std::make_shared<UniqueFd>(::open(part_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!*file) {
    fail_local("cannot read " + part_path_, errno);
    return;
  }
  EventLoop* loop = &context_->loop();
  hasher_->submit([this, loop, file] {
    protocols::Result<Digest> digest = sha256_of_file(file->get());
    loop->post([this, digest] {
      if (!digest) {
        fail_local("cannot read " + part_path_, digest.error().value());
        return;
      }
      local_digest_ = digest.value();
      compare_digests();
    });
  });
  context_->client().hash(options_.remote, [this](const Reply& reply) {
    if (const auto* error = std::get_if<ErrorReply>(&reply)) {
      hasher_.reset();
      end(ExitCode::kServerError, describe_server_error(*error));
      return;
    }
    remote_digest_ = std::get<HashOk>(reply).digest;
    compare_digests();
  });
}

void DownloadCommand::compare_digests() {
  if (!local_digest_ || !remote_digest_ || ended_) return;
  hasher_.reset();  // its job has posted its result; join it now
  if (*local_digest_ != *remote_digest_) {
    // The bytes on disk are not the server's file: resuming from them
    // would only keep the damage.
    remove_partial();
    end(ExitCode::kServerError, options_.remote + ": SHA-256 mismatch (local " +
                                    to_hex(*local_digest_) + ", server " + to_hex(*remote_digest_) +
                                    "); the partial file was removed");
    return;
  }
  move_into_place();
}

bool DownloadCommand::apply_remote_mtime() {
  // The server's mtime (from the STAT this download was validated against),
  // so that size and mtime tell an identical copy, as with rsync -t.
  const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(remote_.mtime), 0}};
  if (part_ && ::futimens(part_.get(), times) < 0) {
    fail_local("cannot set the modification time of " + part_path_, errno);
    return false;
  }
  return true;
}

void DownloadCommand::move_into_place() {
  if (!apply_remote_mtime()) return;
  // The bytes reach the disk before the name does: after a power cut LOCAL
  // is either the old file or the complete new one, never a complete-looking
  // empty or short file (the rename can be on disk before the data).
  if (::fsync(part_.get()) < 0) {
    fail_local("cannot write " + part_path_, errno);
    return;
  }
  part_.reset();
  if (::rename(part_path_.c_str(), options_.local.c_str()) < 0) {
    fail_local("cannot rename " + part_path_ + " to " + options_.local, errno);
    return;
  }
  // And the rename itself, which lives in the directory.
  if (!sync_directory_of(options_.local)) {
    fail_local("cannot sync the directory of " + options_.local, errno);
    return;
  }
  ::unlink(info_path_.c_str());
  end(ExitCode::kOk);
}

void DownloadCommand::remove_partial() {
  part_.reset();
  ::unlink(part_path_.c_str());
  ::unlink(info_path_.c_str());
}

void DownloadCommand::fail_local(const std::string& what, int error) {
  progress_.clear();
  end(ExitCode::kLocalIo, what + ": " + std::strerror(error));
}

}  // namespace reactor::file::client
