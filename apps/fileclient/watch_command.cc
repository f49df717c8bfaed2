#include "apps/fileclient/watch_command.h"

#include <dirent.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "apps/fileclient/output_format.h"
#include "apps/fileclient/progress_bar.h"

namespace reactor::file::client {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
constexpr uint32_t kWatchMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

std::string join_relative(const std::string& directory, const std::string& name) {
  return directory.empty() ? name : directory + "/" + name;
}

}  // namespace

bool is_watched_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  if (name.ends_with(".part") || name.ends_with(".part.info")) return false;
  return true;
}

WatchCommand::WatchCommand(WatchOptions options) : options_(std::move(options)) {
  if (options_.state_file.empty()) options_.state_file = options_.directory + "/.rftp-watch-state";
}

WatchCommand::~WatchCommand() {
  if (state_ != nullptr) std::fclose(state_);
}

std::string WatchCommand::local_path(const std::string& relative) const {
  return relative.empty() ? options_.directory : options_.directory + "/" + relative;
}

std::string WatchCommand::relative_of(const std::string& local) const {
  return local.size() > options_.directory.size() ? local.substr(options_.directory.size() + 1)
                                                  : "";
}

void WatchCommand::start(CommandContext& context) {
  context_ = &context;
  if (started_) {
    reconnected();
  } else {
    started_ = true;
    first_start();
  }
}

void WatchCommand::first_start() {
  UploadPipeline::Callbacks callbacks;
  callbacks.on_uploaded = [this](const UploadItem& item, uint64_t size, bool skipped) {
    save_record(relative_of(item.local_path),
                Record{item.remote_path, options_.server, size, item.mtime_ns});
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
  callbacks.on_resume = [this](const UploadItem& item, uint64_t offset, uint64_t size) {
    if (options_.quiet) return;
    print_note("resuming the upload of " + item.local_path + " from " + format_bytes(offset) +
               " of " + format_bytes(size));
  };
  callbacks.on_idle = [this] {
    if (stopping_) context_->finish(ExitCode::kOk);
  };
  pipeline_ = std::make_unique<UploadPipeline>(&context_->client(), std::move(callbacks));
  context_->client().set_write_complete_callback([this] { pipeline_->pump(); });

  load_records();
  // Watch first, then scan: a file written in between is seen twice (and
  // queued once), never missed.
  if (!start_watching()) return;
  scan("", true);
  if (context_->finished()) return;
  heartbeat_timer_ = context_->loop().run_every(options_.heartbeat, [this] { handle_heartbeat(); });
  if (!options_.quiet) {
    std::printf("watching %s\n", escape_text(options_.directory).c_str());
    std::fflush(stdout);
  }
  pipeline_->pump();
}

void WatchCommand::reconnected() {
  backoff_ = kFirstBackoff;
  if (!options_.quiet) print_note("reconnected to " + options_.server);
  pipeline_->pump();
}

// ---- the record of what was uploaded ----------------------------------------

void WatchCommand::load_records() {
  if (FILE* in = std::fopen(options_.state_file.c_str(), "re")) {
    char* line = nullptr;
    size_t capacity = 0;
    while (::getline(&line, &capacity, in) > 0) {
      try {
        auto object = nlohmann::json::parse(line);
        records_[object.at("local").get<std::string>()] =
            Record{object.at("remote").get<std::string>(), object.at("server").get<std::string>(),
                   object.at("size").get<uint64_t>(), object.at("mtime_ns").get<int64_t>()};
      } catch (const nlohmann::json::exception&) {
        // A line cut short by a crash: that file is simply checked again.
      }
    }
    std::free(line);
    std::fclose(in);
  }
  // Compacted to one line per file, then appended to as uploads finish.
  const std::string temporary = options_.state_file + ".tmp";
  FILE* out = std::fopen(temporary.c_str(), "we");
  if (out == nullptr) {
    print_error("cannot write " + options_.state_file + ": " + std::strerror(errno) +
                "; uploads are not recorded");
    return;
  }
  for (const auto& [relative, record] : records_) {
    nlohmann::json object{{"local", relative},
                          {"remote", record.remote},
                          {"server", record.server},
                          {"size", record.size},
                          {"mtime_ns", record.mtime_ns}};
    std::fprintf(out, "%s\n",
                 object.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  }
  if (std::fclose(out) != 0 || ::rename(temporary.c_str(), options_.state_file.c_str()) < 0) {
    print_error("cannot write " + options_.state_file + ": " + std::strerror(errno));
    return;
  }
  state_ = std::fopen(options_.state_file.c_str(), "ae");
}

void WatchCommand::save_record(const std::string& relative, const Record& record) {
  records_[relative] = record;
  if (state_ == nullptr) return;
  nlohmann::json object{{"local", relative},
                        {"remote", record.remote},
                        {"server", record.server},
                        {"size", record.size},
                        {"mtime_ns", record.mtime_ns}};
  std::fprintf(state_, "%s\n",
               object.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace).c_str());
  std::fflush(state_);
}

// ---- watching ---------------------------------------------------------------

bool WatchCommand::start_watching() {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) {
    context_->finish(ExitCode::kLocalIo, std::string("inotify: ") + std::strerror(errno));
    return false;
  }
  if (!add_watch("")) {
    context_->finish(ExitCode::kLocalIo,
                     "cannot watch " + options_.directory + ": " + std::strerror(errno));
    return false;
  }
  channel_ = std::make_unique<Channel>(&context_->loop(), inotify_.get());
  channel_->set_read_callback([this] { handle_inotify(); });
  channel_->enable_reading();
  return true;
}

bool WatchCommand::add_watch(const std::string& relative) {
  int descriptor = ::inotify_add_watch(inotify_.get(), local_path(relative).c_str(), kWatchMask);
  if (descriptor < 0) return false;
  watches_[descriptor] = relative;
  if (relative.empty()) top_watch_ = descriptor;
  return true;
}

void WatchCommand::scan(const std::string& relative, bool skip_if_present) {
  DIR* dir = ::opendir(local_path(relative).c_str());
  if (dir == nullptr) {
    if (relative.empty()) {
      context_->finish(ExitCode::kLocalIo,
                       "cannot read " + options_.directory + ": " + std::strerror(errno));
    }
    return;
  }
  std::vector<std::string> subdirectories;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (!is_watched_name(name)) continue;
    std::string child = join_relative(relative, name);
    struct stat info {};
    if (::stat(local_path(child).c_str(), &info) < 0) continue;
    if (S_ISDIR(info.st_mode)) {
      if (options_.recursive) subdirectories.push_back(child);
    } else {
      consider(child, skip_if_present);
    }
  }
  ::closedir(dir);
  for (const std::string& child : subdirectories) {
    if (add_watch(child)) {
      scan(child, skip_if_present);
    } else {
      print_error("cannot watch " + local_path(child) + ": " + std::strerror(errno));
    }
  }
}

void WatchCommand::consider(const std::string& relative, bool skip_if_present) {
  if (stopping_) return;
  const std::string local = local_path(relative);
  struct stat info {};
  if (::stat(local.c_str(), &info) < 0 || !S_ISREG(info.st_mode)) return;
  const std::string remote = join_remote(options_.remote_directory, relative);
  auto recorded = records_.find(relative);
  if (recorded != records_.end()) {
    const Record& record = recorded->second;
    const int64_t mtime_ns =
        static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
    if (record.remote == remote && record.server == options_.server) {
      if (record.size == static_cast<uint64_t>(info.st_size) && record.mtime_ns == mtime_ns) {
        return;  // uploaded as it is now, by this or an earlier run
      }
      // Changed since we uploaded it: the server's copy of the same size
      // is the old content, not a reason to skip.
      skip_if_present = false;
    }
  }
  pipeline_->enqueue(UploadItem{local, remote, skip_if_present});
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
        scan("", false);  // events were lost: look at everything again
        continue;
      }
      auto watch = watches_.find(event->wd);
      if (watch == watches_.end()) continue;
      const std::string directory = watch->second;
      if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
        if (event->wd == top_watch_) {
          stop_watching();
          context_->finish(ExitCode::kLocalIo, options_.directory + " was removed or moved");
          return;
        }
        if (event->mask & IN_IGNORED) watches_.erase(watch);
        continue;
      }
      if (event->len == 0 || !is_watched_name(event->name)) continue;
      const std::string child = join_relative(directory, event->name);
      if (event->mask & IN_ISDIR) {
        // A new subdirectory: watch it, then pick up what is already in it.
        if (options_.recursive && (event->mask & (IN_CREATE | IN_MOVED_TO)) && add_watch(child)) {
          scan(child, false);
        }
      } else if (event->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        consider(child, false);
      }
    }
  }
  pipeline_->pump();
}

// ---- the connection ---------------------------------------------------------

void WatchCommand::handle_heartbeat() {
  FileClient& client = context_->client();
  if (!client.ready()) return;  // reconnecting
  auto silent_for = context_->loop().now() - client.last_reply_time();
  size_t queued = client.queued_output_bytes();
  if (client.outstanding() > 0) {
    // Owed answers and no byte leaving or arriving for three intervals.
    if (silent_for > 3 * options_.heartbeat && queued == last_queued_output_) {
      client.close();
      connection_lost("the server stopped answering");
      return;
    }
  } else if (silent_for >= options_.heartbeat) {
    client.ping(next_token_++, [](const Reply&) {});
  }
  last_queued_output_ = queued;
}

void WatchCommand::connection_lost(const std::string& why) {
  if (stopping_) {
    context_->finish(ExitCode::kConnection,
                     why + "; " + std::to_string(pipeline_->in_flight() + pipeline_->queued()) +
                         " upload(s) not acknowledged");
    return;
  }
  pipeline_->requeue_in_flight();
  char delay[32];
  std::snprintf(delay, sizeof delay, "%.1f", static_cast<double>(backoff_.count()) / 1000);
  print_error(why + "; reconnecting in " + delay + " s");
  reconnect_timer_ = context_->loop().run_after(backoff_, [this] {
    reconnect_timer_ = 0;
    context_->reconnect();
  });
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

void WatchCommand::stop_watching() {
  if (channel_) {
    channel_->remove();
    channel_.reset();
  }
  inotify_.reset();
  watches_.clear();
}

void WatchCommand::on_signal(CommandContext& context) {
  const size_t owed = pipeline_ ? pipeline_->in_flight() + pipeline_->queued() : 0;
  if (stopping_ || (owed > 0 && !context.client().ready())) {
    context.finish(ExitCode::kConnection,
                   "interrupted with " + std::to_string(owed) + " upload(s) not acknowledged");
    return;
  }
  stopping_ = true;
  stop_watching();
  if (!pipeline_ || pipeline_->idle()) {
    context.finish(ExitCode::kOk);
    return;
  }
  std::fprintf(stderr, "reactor-fileclient: finishing %zu upload(s)...\n", owed);
}

void WatchCommand::on_failure(CommandContext& context, const FileClient::Failure& failure) {
  context_ = &context;
  if (!started_) {
    // Never connected: most likely a wrong address, not a restart.
    context.finish(ExitCode::kConnection, failure.message);
    return;
  }
  connection_lost(failure.message);
}

}  // namespace reactor::file::client
