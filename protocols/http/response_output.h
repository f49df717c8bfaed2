// ResponseOutput: the bytes and file segments of one or more responses,
// in wire order, collected before anything is handed to the connection.
//
// Collecting first lets the answers to a batch of pipelined requests leave
// in one send() instead of one per response, and lets a response be
// assembled (and unit-tested) without a socket. File bodies are recorded
// as segments at the current byte position and go out with the core's
// send_file (sendfile, no copy through user space).
//
// Threading: none; belongs to one loop thread (the server reuses a single
// instance for all of its connections, since a batch is always flushed
// before the message callback returns).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "reactor/connection.h"

namespace reactor::http {

class ResponseOutput {
 public:
  struct FileSegment {
    size_t position;  // offset in bytes() at which the segment goes
    SharedFile file;
    off_t offset;
    size_t length;
  };

  // Append header and body bytes here.
  std::string& bytes() { return bytes_; }
  const std::string& bytes() const { return bytes_; }
  const std::vector<FileSegment>& file_segments() const { return files_; }

  // Queues `length` bytes of `file` from `offset` after the bytes so far.
  void append_file(SharedFile file, off_t offset, size_t length);

  // Bytes plus file bytes collected.
  size_t total_size() const { return bytes_.size() + file_bytes_; }
  bool empty() const { return bytes_.empty() && files_.empty(); }

  // Hands everything to `connection` in order and clears (keeping the
  // byte storage for the next batch).
  void flush_to(Connection& connection);
  void clear();

 private:
  std::string bytes_;
  std::vector<FileSegment> files_;
  size_t file_bytes_ = 0;
};

}  // namespace reactor::http
