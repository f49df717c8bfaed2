#include "protocols/file/resume_proof.h"

#include "protocols/file/sha256.h"

namespace reactor::file {

std::string resume_mismatch(const ResumeOk& held, int local_fd, uint64_t local_size,
                            int64_t local_mtime) {
  if (held.size != local_size) {
    return "the unfinished upload is of a " + std::to_string(held.size) +
           "-byte file, the local one has " + std::to_string(local_size);
  }
  if (held.mtime != local_mtime) {
    return held.mtime == kNoMtime
               ? std::string("the unfinished upload records no mtime")
               : std::string("the local file's mtime changed since the upload began");
  }
  if (held.held > local_size) return "the server holds more bytes than the local file has";
  protocols::Result<Digest> local = sha256_of_prefix(local_fd, held.held);
  if (!local) return "cannot read the local file's first bytes: " + local.error().message();
  if (local.value() != held.prefix_digest) {
    return "the " + std::to_string(held.held) +
           " bytes the server holds differ from the local file's";
  }
  return {};
}

}  // namespace reactor::file
