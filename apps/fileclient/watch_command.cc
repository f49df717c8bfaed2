#include "apps/fileclient/watch_command.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "apps/fileclient/output_format.h"

namespace reactor::file::client {

bool is_watched_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  if (name.ends_with(".part") || name.ends_with(".part.info")) return false;
  return true;
}

WatchCommand::WatchCommand(WatchOptions options) : options_(std::move(options)) {}

WatchCommand::~WatchCommand() = default;

void WatchCommand::start(CommandContext& context) {
  context_ = &context;
  UploadPipeline::Callbacks callbacks;
  callbacks.on_uploaded = [this](const UploadItem& item, uint64_t size, bool skipped) {
    if (options_.quiet) return;
    if (skipped) {
      std::printf("already there: %s -> %s\n", escape_text(item.local_path).c_str(),
                  escape_text(item.remote_path).c_str());
    } else {
      std::printf("uploaded %s -> %s (%llu bytes)\n", escape_text(item.local_path).c_str(),
                  escape_text(item.remote_path).c_str(), static_cast<unsigned long long>(size));
    }
    std::fflush(stdout);
  };
  callbacks.on_failed = [](const UploadItem&, ExitCode, const std::string& message) {
    // One file refused or vanished is not the end of a watch.
    print_error(message);
  };
  callbacks.on_idle = [this] {
    if (stopping_) context_->finish(ExitCode::kOk);
  };
  pipeline_ = std::make_unique<UploadPipeline>(&context.client(), std::move(callbacks));
  context.client().set_write_complete_callback([this] { pipeline_->pump(); });

  // Watch first, then scan: a file written in between is seen twice (and
  // queued once), never missed.
  if (!start_watching()) return;
  scan_directory();
  heartbeat_timer_ = context.loop().run_every(options_.heartbeat, [this] { handle_heartbeat(); });
  if (!options_.quiet) {
    std::printf("watching %s\n", escape_text(options_.directory).c_str());
    std::fflush(stdout);
  }
  pipeline_->pump();
}

bool WatchCommand::start_watching() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    context_->finish(ExitCode::kLocalIo, std::string("inotify: ") + std::strerror(errno));
    return false;
  }
  uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
  if (::inotify_add_watch(inotify_.get(), options_.directory.c_str(), mask) < 0) {
    context_->finish(ExitCode::kLocalIo,
                     "cannot watch " + options_.directory + ": " + std::strerror(errno));
    return false;
  }
  channel_ = std::make_unique<Channel>(&context_->loop(), inotify_.get());
  channel_->set_read_callback([this] { handle_inotify(); });
  channel_->enable_reading();
  return true;
}

void WatchCommand::scan_directory() {
  DIR* dir = ::opendir(options_.directory.c_str());
  if (dir == nullptr) {
    context_->finish(ExitCode::kLocalIo,
                     "cannot read " + options_.directory + ": " + std::strerror(errno));
    return;
  }
  while (dirent* entry = ::readdir(dir)) consider(entry->d_name, true);
  ::closedir(dir);
}

void WatchCommand::consider(const std::string& name, bool skip_if_present) {
  if (stopping_ || !is_watched_name(name)) return;
  std::string local = options_.directory + "/" + name;
  struct stat info {};
  if (::stat(local.c_str(), &info) < 0 || !S_ISREG(info.st_mode)) return;
  pipeline_->enqueue(
      UploadItem{local, join_remote(options_.remote_directory, name), skip_if_present});
}

void WatchCommand::handle_inotify() {
  // Edge-triggered: read until EAGAIN.
  alignas(inotify_event) char buffer[64 * (sizeof(inotify_event) + NAME_MAX + 1)];
  for (;;) {
    ssize_t n = ::read(inotify_.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        context_->finish(ExitCode::kLocalIo, std::string("inotify: ") + std::strerror(errno));
        return;
      }
      break;
    }
    for (char* cursor = buffer; cursor < buffer + n;) {
      auto* event = reinterpret_cast<inotify_event*>(cursor);
      cursor += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        scan_directory();  // events were lost: look at everything again
      } else if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        stop_watching();
        context_->finish(ExitCode::kLocalIo, options_.directory + " was removed or moved");
        return;
      } else if (event->len > 0 && (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))) {
        consider(event->name, false);
      }
    }
  }
  pipeline_->pump();
}

void WatchCommand::handle_heartbeat() {
  FileClient& client = context_->client();
  auto silent_for = context_->loop().now() - client.last_reply_time();
  size_t queued = client.queued_output_bytes();
  if (client.outstanding() > 0) {
    // Owed answers and no byte leaving or arriving for three intervals.
    if (silent_for > 3 * options_.heartbeat && queued == last_queued_output_) {
      context_->finish(ExitCode::kConnection, "the server stopped answering");
    }
  } else if (silent_for >= options_.heartbeat) {
    client.ping(next_token_++, [](const Reply&) {});
  }
  last_queued_output_ = queued;
}

void WatchCommand::stop_watching() {
  if (channel_) {
    channel_->remove();
    channel_.reset();
  }
  inotify_.reset();
}

void WatchCommand::on_signal(CommandContext& context) {
  if (stopping_) {
    context.finish(
        ExitCode::kConnection,
        "interrupted with " +
            std::to_string(pipeline_ ? pipeline_->in_flight() + pipeline_->queued() : 0) +
            " upload(s) not acknowledged");
    return;
  }
  stopping_ = true;
  stop_watching();
  if (!pipeline_ || pipeline_->idle()) {
    context.finish(ExitCode::kOk);
    return;
  }
  std::fprintf(stderr, "reactor-fileclient: finishing %zu upload(s)...\n",
               pipeline_->in_flight() + pipeline_->queued());
}

void WatchCommand::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  stop_watching();
  context.finish(ExitCode::kConnection, failure.message);
}

}  // namespace reactor::file::client
