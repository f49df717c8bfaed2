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
// Rotation: logrotate renames the file and signals the server, which calls
// reopen(). Until then lines keep going to the renamed file (its descriptor
// is still open); reopen() writes out what is buffered there and opens the
// path anew, so each line lands in exactly one of the two files.
//
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/http/status.h"
#include "reactor/unique_fd.h"

namespace reactor::http {

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
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void append(const Entry& entry);
  // Writes out what is buffered. Errors are reported once, then dropped:
  // a full disk must not take the server down.
  void flush();

  // Flushes to the file open now, then opens the path again (a new file if
  // the old one was renamed away). Nothing to do for stdout. On failure the
  // old file stays in use and the error is returned (errno value), so a
  // rotation gone wrong loses no line; 0 on success.
  int reopen();

  size_t buffered_bytes() const { return buffer_.size(); }

 private:
  static UniqueFd open_for_append(const std::string& path);

  std::string path_;
  UniqueFd owned_fd_;
  int fd_;
  std::string buffer_;
  bool reported_error_ = false;
};

}  // namespace reactor::http
