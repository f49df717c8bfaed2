// AccessLog: one line per response in the Combined Log Format
//
//   127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.png HTTP/1.1" 200 2326 "REF" "UA"
//
// Lines are collected in memory and written in large blocks (when the
// block is full, when flush() is called -- the server does so every
// second -- and on destruction), never one write() per request. Quoted
// fields escape '"', '\' and non-printable bytes as \xHH so a hostile
// request cannot forge lines.
//
// Writes are blocking, as with nginx's access_log: point it at a file or
// at a stdout that someone reads.
//
// Several loops (reactor-httpd --threads): each loop has an AccessLog of
// its own, so appending a line takes no lock, and they share one
// AccessLogFile, which writes each block whole under a mutex -- lines from
// different loops never interleave, even on a pipe where a write() larger
// than PIPE_BUF could be split.
//
// Rotation: logrotate renames the file and signals the server, which calls
// reopen(). Until then lines keep going to the renamed file (its descriptor
// is still open); reopen() writes out what is buffered and opens the path
// anew, so each line lands in exactly one of the two files. With several
// loops, lines another loop still buffers (at most a second's worth) go to
// the new file when that loop flushes: still exactly one file, not always
// the older one.
//
// Threading: AccessLog is loop thread only; AccessLogFile, any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "protocols/http/status.h"
#include "reactor/unique_fd.h"

namespace reactor::http {

class AccessLogFile {
 public:
  // Opens `path` for appending (created 0644 if missing); "-" is stdout.
  // Throws std::system_error if it cannot be opened.
  explicit AccessLogFile(std::string path);
  AccessLogFile(const AccessLogFile&) = delete;
  AccessLogFile& operator=(const AccessLogFile&) = delete;

  // Writes `block` (whole lines) in full before any other block. Errors
  // are reported once, then the lines dropped: a full disk must not take
  // the server down.
  void write(std::string_view block);
  // Opens the path again (a new file if the old one was renamed away);
  // blocks written from then on go there. Nothing to do for stdout. On
  // failure the old file stays in use and the errno value is returned, so
  // a rotation gone wrong loses no line; 0 on success.
  int reopen();
  const std::string& path() const { return path_; }

 private:
  static UniqueFd open_for_append(const std::string& path);

  std::mutex mutex_;
  const std::string path_;
  UniqueFd owned_fd_;
  int fd_;
  bool reported_error_ = false;
};

class AccessLog {
 public:
  static constexpr size_t kFlushThreshold = 64 * 1024;

  struct Entry {
    std::string_view client;  // IP address
    std::string_view time;    // "10/Oct/2000:13:55:36 -0700" (DateCache::log_time)
    std::string_view method;  // empty when the request line was unusable
    std::string_view target;
    int version_minor = 1;
    Status status = Status::kOk;
    uint64_t body_bytes = 0;
    std::string_view referer;
    std::string_view user_agent;
  };

  // Opens `path` for appending (created 0644 if missing); "-" is stdout.
  // Throws std::system_error if it cannot be opened.
  explicit AccessLog(const std::string& path);
  // Appends to a file shared with the AccessLogs of other loops.
  explicit AccessLog(std::shared_ptr<AccessLogFile> file);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void append(const Entry& entry);
  // Writes out what is buffered. Errors are reported once, then dropped:
  // a full disk must not take the server down.
  void flush();
  // flush(), then AccessLogFile::reopen(); returns what that returned.
  int reopen();

  size_t buffered_bytes() const { return buffer_.size(); }
  AccessLogFile& file() { return *file_; }

 private:
  std::shared_ptr<AccessLogFile> file_;
  std::string buffer_;
};

}  // namespace reactor::http
