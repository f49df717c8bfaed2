#include "protocols/http/file_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "protocols/http/entity_tag.h"
#include "protocols/http/http_date.h"

namespace reactor::http {

namespace {

// ctime too: a write that keeps the size and restores the mtime (touch -r,
// rsync --times) still moves the ctime, which no one can set.
bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec &&
         a.st_mode == b.st_mode;
}

// Whether a hit within the period may be answered from the entry without
// looking at the file. Inline content is a snapshot: head and body come
// from one read, so it answers one version, whole, however the file
// changes meanwhile, and a change shows when the period ends, as a rename
// does. A file sent from its descriptor is not: sendfile() reads the bytes
// at send time, so one fstat() must see that nobody wrote to, truncated or
// touched the file, or the old length would go out with the new bytes.
// That fstat() is the only system call a hit costs besides the send; for
// a 1 KiB file it was a sixth of the server's CPU time per request, which
// is why snapshots are spared it.
bool answerable_from_cache(const CachedFile& entry) {
  if (entry.directory || entry.inline_content) return true;
  struct stat now {};
  return ::fstat(entry.file->get(), &now) == 0 && same_file(entry.info, now);
}

// Reads the whole (small) file; false if it changed size under us.
bool read_content(int fd, size_t size, std::string& content) {
  content.resize(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, content.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

FileCache::FileCache(const protocols::ServedTree& root, const MimeTypes& types, Options options)
    : root_(root), types_(types), options_(options) {}

FileCache::Lookup FileCache::lookup(const std::string& relative, Clock::time_point now) {
  const auto found = entries_.find(std::string_view(relative));
  if (found == entries_.end()) return load(relative, now, nullptr);
  if (now >= found->second->expires) return load(relative, now, found->second);
  // Within the period the path is trusted to name the same file (a rename
  // over it shows after the period); whether its content is trusted too
  // depends on where the body comes from.
  if (answerable_from_cache(*found->second)) return Lookup(found->second);
  return load(relative, now, nullptr);
}

FileCache::Lookup FileCache::load(const std::string& relative, Clock::time_point now,
                                  const std::shared_ptr<const CachedFile>& previous) {
  protocols::Result<protocols::TreeObject> found = root_.open_for_reading(relative);
  if (!found) {
    entries_.erase(relative);
    return found.error();
  }
  protocols::TreeObject& opened = found.value();
  const bool cacheable = options_.ttl.count() > 0;
  const auto expires = now + options_.ttl;

  if (previous && same_file(previous->info, opened.info)) {
    // Unchanged: keep the entry (and its descriptor or content), trust it
    // for another period.
    auto entry = entries_.find(std::string_view(relative));
    if (entry != entries_.end()) {
      entry->second->expires = expires;
      return Lookup(entry->second);
    }
  }

  auto entry = std::make_shared<CachedFile>();
  entry->info = opened.info;
  entry->expires = expires;
  if (S_ISDIR(opened.info.st_mode)) {
    entry->directory = true;
  } else if (S_ISREG(opened.info.st_mode)) {
    entry->entity_tag = make_entity_tag(opened.info);
    entry->last_modified = format_http_date(opened.info.st_mtim.tv_sec);
    entry->content_type = types_.content_type_for(relative);
    const auto size = static_cast<size_t>(opened.info.st_size);
    entry->inline_content =
        size <= options_.inline_limit && read_content(opened.fd.get(), size, entry->content);
    if (!entry->inline_content) entry->content.clear();
    // Kept for inline content too: each hit checks it with fstat().
    entry->file = std::make_shared<const UniqueFd>(std::move(opened.fd));
  } else {
    // open_for_reading() hands out nothing else; keep the cache honest
    // should that ever change.
    entries_.erase(relative);
    return protocols::make_error_code(protocols::TreeErrc::kNotServable);
  }

  if (cacheable) {
    const auto existing = entries_.find(std::string_view(relative));
    if (existing != entries_.end()) {
      existing->second = entry;
    } else {
      make_room(now);
      entries_.emplace(relative, entry);
    }
  }
  return Lookup(std::shared_ptr<const CachedFile>(std::move(entry)));
}

void FileCache::make_room(Clock::time_point now) {
  if (entries_.size() < options_.max_entries) return;
  purge_expired(now);
  if (entries_.size() >= options_.max_entries) entries_.clear();
}

void FileCache::purge_expired(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& item) { return item.second->expires <= now; });
}

}  // namespace reactor::http
