// UploadStore: where unfinished uploads live until they are complete.
//
// An upload is written to ROOT/.rftp-uploads/<sha256 of its path>.part,
// next to a small .meta file recording the declared size and the path.
// Bytes go to the .part as they arrive, so whatever reached the server
// before a crash of either side stays there for a resume. Only a complete
// upload is fsync'ed and renamed over its final path -- an existing file
// is replaced atomically, and nothing is acknowledged before it is
// durable. The state directory is in the served tree so the final rename
// stays on one file system; the ServedTree hides it from every request.
//
// Crash ordering: starting over truncates the .part *before* writing the
// new .meta, so a crash in between leaves an empty .part (held bytes 0),
// never old bytes under a new declared size.
//
// Threading: find/begin/resume on the loop thread; commit() is meant for a
// worker thread. All of them only use descriptors fixed at construction.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/served_tree.h"
#include "protocols/file/request_path.h"
#include "protocols/file/served_paths.h"
#include "reactor/unique_fd.h"

namespace reactor::file {

struct UnfinishedUpload {
  uint64_t declared_size = 0;
  uint64_t held_bytes = 0;  // bytes on disk so far
  int64_t mtime = 0;        // last write, Unix seconds
  // The client's file's mtime when the upload started (PUT2); kNoMtime
  // for a version-1 PUT.
  int64_t source_mtime = kNoMtime;
};

class UploadStore {
 public:
  static constexpr std::string_view kDirectoryName = ".rftp-uploads";

  // Opens ROOT/.rftp-uploads, creating it unless `read_only` (a read-only
  // store without the directory simply holds nothing). Throws
  // std::system_error if a writable store cannot be set up.
  UploadStore(const protocols::ServedTree& root, bool read_only);

  // The key naming a path's files: hex SHA-256 of the normalized path.
  static std::string key_of(const RequestPath& path);

  std::optional<UnfinishedUpload> find(const RequestPath& path) const;
  // Starts over: an empty .part (discarding any held bytes) and a new
  // record of `size` and the source's mtime. Returns the .part opened for
  // writing.
  Outcome<UniqueFd> begin(const RequestPath& path, uint64_t size, int64_t source_mtime = kNoMtime);
  // Continues an unfinished upload: `size` must equal its declared size and
  // `offset` the bytes held, else kConflict. With `source_mtime` (PUT2) the
  // recorded one must match too: another file of the same size is not the
  // one whose prefix the server holds.
  Outcome<UniqueFd> resume(const RequestPath& path, uint64_t size, uint64_t offset,
                           std::optional<int64_t> source_mtime = std::nullopt);
  // The .part opened for reading (RESUME hashes its held prefix).
  Outcome<UniqueFd> open_part(const RequestPath& path) const;
  // Blocking (worker thread): fsync the .part (after giving it
  // `source_mtime` unless kNoMtime), create parent directories, rename it
  // over the final path, fsync the directory, drop the record.
  Outcome<void> commit(const RequestPath& path, int part_fd, int64_t source_mtime = kNoMtime) const;

  bool writable() const { return directory_.valid() && !read_only_; }

  // Refuses (ERROR 6) writing `more_bytes` if it would leave less than
  // `min_free` bytes available on the upload area's file system.
  Outcome<void> check_free_space(const RequestPath& path, uint64_t more_bytes,
                                 uint64_t min_free) const;

  // Blocking (worker thread): keys of unfinished uploads with no write for
  // longer than `max_age` (by the newer of the .part's and the .meta's
  // mtimes).
  std::vector<std::string> expired_keys(std::chrono::seconds max_age) const;
  // Removes an unfinished upload's files. The caller makes sure no
  // connection is writing it (UploadRegistry).
  void remove(const std::string& key) const;
  // At start-up, before any connection: removes what a crash leaves and no
  // resume can use -- .meta.tmp files, empty .parts, a .part without its
  // .meta and a .meta without its .part. Returns how many files went.
  size_t sweep_leftovers() const;

 private:
  Outcome<void> write_record(const std::string& key, const RequestPath& path, uint64_t size,
                             int64_t source_mtime);

  const protocols::ServedTree& root_;
  UniqueFd directory_;
  bool read_only_;
};

}  // namespace reactor::file
