#include "protocols/http/response_output.h"

#include <string_view>

namespace reactor::http {

void ResponseOutput::append_file(SharedFile file, off_t offset, size_t length) {
  if (length == 0) return;
  files_.push_back(FileSegment{bytes_.size(), std::move(file), offset, length});
  file_bytes_ += length;
}

void ResponseOutput::flush_to(Connection& connection) {
  const std::string_view all = bytes_;
  size_t sent = 0;
  for (FileSegment& segment : files_) {
    if (segment.position > sent) {
      // The file follows at once: let the head share its first segment.
      connection.send_more(all.substr(sent, segment.position - sent));
      sent = segment.position;
    }
    connection.send_file(std::move(segment.file), segment.offset, segment.length);
  }
  if (sent < all.size()) connection.send(all.substr(sent));
  clear();
}

void ResponseOutput::clear() {
  bytes_.clear();
  files_.clear();
  file_bytes_ = 0;
  // A listing or a long pipelined batch may have grown the storage; do not
  // keep megabytes around for the common few hundred bytes.
  if (bytes_.capacity() > 256 * 1024) bytes_.shrink_to_fit();
}

}  // namespace reactor::http
