#include "protocols/http/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

#include "protocols/http/response_head.h"

namespace reactor::http {

namespace {

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

void append_quoted_or_dash(std::string& out, std::string_view text) {
  out.push_back('"');
  if (text.empty()) {
    out.push_back('-');
  } else {
    append_escaped(out, text);
  }
  out.push_back('"');
}

}  // namespace

UniqueFd AccessLogFile::open_for_append(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
}

AccessLogFile::AccessLogFile(std::string path) : path_(std::move(path)) {
  if (path_ == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    owned_fd_ = open_for_append(path_);
    if (!owned_fd_) throw std::system_error(errno, std::generic_category(), path_);
    fd_ = owned_fd_.get();
  }
}

void AccessLogFile::write(std::string_view block) {
  std::lock_guard lock(mutex_);
  while (!block.empty()) {
    const ssize_t n = ::write(fd_, block.data(), block.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (!reported_error_) {
        reported_error_ = true;
        spdlog::error("access log: write failed: {}; dropping log lines", std::strerror(errno));
      }
      return;
    }
    block.remove_prefix(static_cast<size_t>(n));
  }
}

int AccessLogFile::reopen() {
  if (path_ == "-") return 0;
  // Opened outside the lock: other loops keep writing meanwhile.
  UniqueFd fresh = open_for_append(path_);
  if (!fresh) {
    const int error = errno;
    spdlog::error("access log: cannot reopen {}: {}; still writing to the old file", path_,
                  std::strerror(error));
    return error;
  }
  std::lock_guard lock(mutex_);
  owned_fd_ = std::move(fresh);
  fd_ = owned_fd_.get();
  // A new file deserves a new report if writing to it fails too.
  reported_error_ = false;
  return 0;
}

AccessLog::AccessLog(const std::string& path) : AccessLog(std::make_shared<AccessLogFile>(path)) {}

AccessLog::AccessLog(std::shared_ptr<AccessLogFile> file) : file_(std::move(file)) {
  buffer_.reserve(kFlushThreshold + 4096);
}

AccessLog::~AccessLog() {
  flush();
}

void AccessLog::append(const Entry& entry) {
  buffer_ += entry.client;
  buffer_ += " - - [";
  buffer_ += entry.time;
  buffer_ += "] \"";
  if (entry.method.empty()) {
    buffer_.push_back('-');
  } else {
    append_escaped(buffer_, entry.method);
    buffer_.push_back(' ');
    append_escaped(buffer_, entry.target);
    buffer_ += entry.version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1";
  }
  buffer_ += "\" ";
  append_decimal(buffer_, static_cast<uint64_t>(status_code(entry.status)));
  buffer_.push_back(' ');
  if (entry.body_bytes == 0) {
    buffer_.push_back('-');
  } else {
    append_decimal(buffer_, entry.body_bytes);
  }
  buffer_.push_back(' ');
  append_quoted_or_dash(buffer_, entry.referer);
  buffer_.push_back(' ');
  append_quoted_or_dash(buffer_, entry.user_agent);
  buffer_.push_back('\n');
  if (buffer_.size() >= kFlushThreshold) flush();
}

int AccessLog::reopen() {
  // Lines appended before the signal belong to the file they were logged
  // into: the one logrotate just renamed.
  flush();
  return file_->reopen();
}

void AccessLog::flush() {
  if (buffer_.empty()) return;
  file_->write(buffer_);
  buffer_.clear();
}

}  // namespace reactor::http
