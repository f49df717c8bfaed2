// FileCache: what the server knows about recently requested paths -- the
// open descriptor, the fstat() result, and the response header values
// derived from them (ETag, Last-Modified, Content-Type) -- so a hot file
// costs no open()/fstat()/close() and no formatting per request.
//
// Freshness: a path is trusted to name the same file for `ttl` after it
// was (re)validated, the same bounded staleness as lighttpd's default stat
// cache. A file replaced by rename() (the usual way to deploy) is picked
// up within `ttl` (usually at once: losing its name moves the old file's
// ctime, which the fstat() below sees); until then the old file is served
// whole and consistent, since the entry holds its descriptor. A file sent
// from that descriptor (sendfile) is checked on every hit: one fstat(),
// and a reload when size, mtime or ctime moved, so a file rewritten in
// place never goes out with a head computed from its previous version. On
// revalidation an unchanged file keeps its entry. A TTL of zero disables
// caching (every request opens the file).
//
// Small files (up to `inline_limit` bytes) also keep their content, read
// once when the entry is made: the response is then one send() holding
// header and body, instead of a send() plus a sendfile() that would leave
// as two TCP segments. Content and validators come from the same snapshot,
// so they always agree, and such a hit looks at nothing else: a change in
// place shows when the period ends, as a rename does, and until then the
// previous version is served whole.
//
// Bounded: at most `max_entries` entries; when full, expired entries are
// dropped, and if none are, the whole cache is (cheap, and rare).
//
// Threading: loop thread only.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/common/result.h"
#include "protocols/common/served_tree.h"
#include "protocols/http/mime_types.h"
#include "reactor/connection.h"
#include "reactor/event_loop.h"

namespace reactor::http {

struct CachedFile {
  struct stat info {};
  bool directory = false;
  // Regular files only:
  SharedFile file;  // open for reading, also when the content is inline
  std::string entity_tag;
  std::string last_modified;
  std::string_view content_type;
  std::string content;  // the whole file, when inline
  bool inline_content = false;
  Clock::time_point expires;
};

class FileCache {
 public:
  struct Options {
    std::chrono::milliseconds ttl{1000};
    size_t max_entries = 1024;
    size_t inline_limit = 16 * 1024;
  };

  // The entry, or why `relative` cannot be served (from ServedTree).
  using Lookup = protocols::Result<std::shared_ptr<const CachedFile>>;

  FileCache(const protocols::ServedTree& root, const MimeTypes& types, Options options);

  // The entry for `relative` (see ServedTree::open_for_reading), fresh as
  // of `now`. Special files (FIFOs, devices) are TreeErrc::kNotServable.
  Lookup lookup(const std::string& relative, Clock::time_point now);

  // Drops expired entries (and their descriptors). Call now and then so a
  // deleted file's space is not held open for long.
  void purge_expired(Clock::time_point now);

  size_t size() const { return entries_.size(); }
  const Options& options() const { return options_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  Lookup load(const std::string& relative, Clock::time_point now,
              const std::shared_ptr<const CachedFile>& previous);
  void make_room(Clock::time_point now);

  const protocols::ServedTree& root_;
  const MimeTypes& types_;
  Options options_;
  std::unordered_map<std::string, std::shared_ptr<CachedFile>, Hash, std::equal_to<>> entries_;
};

}  // namespace reactor::http
