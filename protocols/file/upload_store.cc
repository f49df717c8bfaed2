#include "protocols/file/upload_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <map>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "protocols/file/sha256.h"

namespace reactor::file {
namespace {

// Version 1 records (size, path) are still read; new ones are version 2
// (size, source mtime or "-", path).
constexpr std::string_view kRecordMagic1 = "rftp-upload 1\n";
constexpr std::string_view kRecordMagic = "rftp-upload 2\n";
constexpr size_t kMaxRecordBytes = kRecordMagic.size() + 2 * 24 + kMaxPathBytes + 3;

struct Record {
  uint64_t size = 0;
  int64_t source_mtime = kNoMtime;
};

std::string part_name(const std::string& key) {
  return key + ".part";
}
std::string record_name(const std::string& key) {
  return key + ".meta";
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one decimal line of `text` into `value`; false if it is not one.
template <typename Number>
bool take_number_line(std::string_view& text, Number& value) {
  size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + newline, value);
  if (error != std::errc() || end != text.data() + newline) return false;
  text.remove_prefix(newline + 1);
  return true;
}

// "rftp-upload 2\n<size>\n<mtime or ->\n<path>\n" (or version 1, without
// the mtime line) -> the record, if it is one and names `path`.
std::optional<Record> parse_record(std::string_view text, std::string_view path) {
  const bool version1 = text.starts_with(kRecordMagic1);
  if (!version1 && !text.starts_with(kRecordMagic)) return std::nullopt;
  text.remove_prefix(kRecordMagic.size());
  Record record;
  if (!take_number_line(text, record.size)) return std::nullopt;
  if (!version1) {
    if (text.starts_with("-\n")) {
      text.remove_prefix(2);
    } else if (!take_number_line(text, record.source_mtime)) {
      return std::nullopt;
    }
  }
  // The path guards against a hash collision and a record from elsewhere.
  if (text.size() != path.size() + 1 || !text.starts_with(path) || text.back() != '\n') {
    return std::nullopt;
  }
  return record;
}

// Names in the upload area, grouped by key: which of .part and .meta exist,
// and the newest mtime among them. Temporary records are listed apart.
struct AreaEntry {
  bool part = false;
  bool record = false;
  uint64_t part_size = 0;
  time_t newest = 0;
};
struct AreaListing {
  std::map<std::string, AreaEntry> uploads;
  std::vector<std::string> temporaries;
};

AreaListing list_area(int directory_fd) {
  AreaListing listing;
  int fd = ::openat(directory_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return listing;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return listing;
  }
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name.ends_with(".meta.tmp")) {
      listing.temporaries.emplace_back(name);
      continue;
    }
    const bool is_part = name.ends_with(".part");
    const bool is_record = name.ends_with(".meta");
    if (!is_part && !is_record) continue;
    struct stat info {};
    if (::fstatat(directory_fd, entry->d_name, &info, AT_SYMLINK_NOFOLLOW) < 0 ||
        !S_ISREG(info.st_mode)) {
      continue;
    }
    AreaEntry& upload = listing.uploads[std::string(name.substr(0, name.size() - 5))];
    if (is_part) {
      upload.part = true;
      upload.part_size = static_cast<uint64_t>(info.st_size);
    } else {
      upload.record = true;
    }
    upload.newest = std::max(upload.newest, info.st_mtim.tv_sec);
  }
  ::closedir(dir);
  return listing;
}

}  // namespace

namespace {

// What to do about an upload area the server may not write.
std::string read_only_hint(int error) {
  if (error != EACCES && error != EPERM && error != EROFS) return "";
  return " (to serve a directory the server may not write, add --read-only)";
}

}  // namespace

UploadStore::UploadStore(const protocols::ServedTree& root, bool read_only)
    : root_(root), read_only_(read_only) {
  std::string name(kDirectoryName);
  if (!read_only && ::mkdirat(root.fd(), name.c_str(), 0700) < 0 && errno != EEXIST) {
    const int error = errno;
    throw std::system_error(
        error, std::generic_category(),
        "cannot create " + root.real_path() + "/" + name + read_only_hint(error));
  }
  int fd = ::openat(root.fd(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && !(read_only && errno == ENOENT)) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot open " + root.real_path() + "/" + name);
  }
  directory_.reset(fd);
  if (!read_only && ::faccessat(directory_.get(), ".", W_OK, AT_EACCESS) < 0) {
    const int error = errno;
    throw std::system_error(
        error, std::generic_category(),
        root.real_path() + "/" + name + " is not writable" + read_only_hint(error));
  }
}

std::string UploadStore::key_of(const RequestPath& path) {
  return to_hex(sha256_of(path.joined()));
}

std::optional<UnfinishedUpload> UploadStore::find(const RequestPath& path) const {
  if (!directory_) return std::nullopt;
  std::string key = key_of(path);
  UniqueFd record(
      ::openat(directory_.get(), record_name(key).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!record) return std::nullopt;
  char text[kMaxRecordBytes];
  ssize_t length = ::pread(record.get(), text, sizeof text, 0);
  if (length <= 0) return std::nullopt;
  auto parsed = parse_record(std::string_view(text, static_cast<size_t>(length)), path.joined());
  if (!parsed) return std::nullopt;
  struct stat info {};
  if (::fstatat(directory_.get(), part_name(key).c_str(), &info, AT_SYMLINK_NOFOLLOW) < 0 ||
      !S_ISREG(info.st_mode)) {
    return std::nullopt;
  }
  auto held = static_cast<uint64_t>(info.st_size);
  if (held > parsed->size) return std::nullopt;  // not something we wrote
  return UnfinishedUpload{parsed->size, held, static_cast<int64_t>(info.st_mtim.tv_sec),
                          parsed->source_mtime};
}

Outcome<void> UploadStore::write_record(const std::string& key, const RequestPath& path,
                                        uint64_t size, int64_t source_mtime) {
  // Written aside and renamed: a reader never sees half a record.
  std::string temporary = record_name(key) + ".tmp";
  UniqueFd fd(::openat(directory_.get(), temporary.c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return error_from_errno(errno, path);
  std::string text(kRecordMagic);
  text += std::to_string(size) + "\n";
  text += source_mtime == kNoMtime ? std::string("-") : std::to_string(source_mtime);
  text += "\n" + path.joined() + "\n";
  if (!write_all(fd.get(), text)) return error_from_errno(errno, path);
  if (::renameat(directory_.get(), temporary.c_str(), directory_.get(), record_name(key).c_str()) <
      0) {
    return error_from_errno(errno, path);
  }
  return {};
}

Outcome<UniqueFd> UploadStore::begin(const RequestPath& path, uint64_t size, int64_t source_mtime) {
  if (!writable()) return RequestError{ErrorCode::kForbidden, "the server is read-only"};
  std::string key = key_of(path);
  UniqueFd part(::openat(directory_.get(), part_name(key).c_str(),
                         O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!part) return error_from_errno(errno, path);
  if (auto written = write_record(key, path, size, source_mtime); !written) {
    return written.error();
  }
  return part;
}

Outcome<UniqueFd> UploadStore::resume(const RequestPath& path, uint64_t size, uint64_t offset,
                                      std::optional<int64_t> source_mtime) {
  if (!writable()) return RequestError{ErrorCode::kForbidden, "the server is read-only"};
  std::string shown = path.joined();
  auto held = find(path);
  if (!held) {
    return RequestError{ErrorCode::kConflict, shown + ": no unfinished upload to resume"};
  }
  if (held->declared_size != size) {
    return RequestError{ErrorCode::kConflict, shown + ": the unfinished upload has size " +
                                                  std::to_string(held->declared_size) + ", not " +
                                                  std::to_string(size)};
  }
  if (held->held_bytes != offset) {
    return RequestError{ErrorCode::kConflict, shown + ": the server holds " +
                                                  std::to_string(held->held_bytes) +
                                                  " bytes, not " + std::to_string(offset)};
  }
  if (source_mtime && held->source_mtime != *source_mtime) {
    return RequestError{ErrorCode::kConflict,
                        shown +
                            ": the unfinished upload was started from a file with another "
                            "mtime; start over from 0"};
  }
  UniqueFd part(::openat(directory_.get(), part_name(key_of(path)).c_str(),
                         O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!part) return error_from_errno(errno, path);
  return part;
}

Outcome<UniqueFd> UploadStore::open_part(const RequestPath& path) const {
  if (!directory_)
    return RequestError{ErrorCode::kNotFound, path.joined() + ": no unfinished upload"};
  UniqueFd part(::openat(directory_.get(), part_name(key_of(path)).c_str(),
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!part) return error_from_errno(errno, path);
  return part;
}

Outcome<void> UploadStore::commit(const RequestPath& path, int part_fd,
                                  int64_t source_mtime) const {
  if (source_mtime != kNoMtime) {
    const struct timespec times[2] = {{0, UTIME_NOW}, {static_cast<time_t>(source_mtime), 0}};
    if (::futimens(part_fd, times) < 0) return error_from_errno(errno, path);
  }
  if (::fsync(part_fd) < 0) return error_from_errno(errno, path);
  const RequestPath parent_path = path.parent();
  protocols::Result<UniqueFd> parent = root_.open_or_create_directory(parent_path.joined());
  if (!parent) return error_from_tree(parent.error(), parent_path);
  int parent_fd = parent.value().get();
  const std::string& name = path.name();
  struct stat existing {};
  if (::fstatat(parent_fd, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(existing.st_mode)) {
    return RequestError{ErrorCode::kNotRegularFile, path.joined() + ": is a directory"};
  }
  std::string key = key_of(path);
  if (::renameat(directory_.get(), part_name(key).c_str(), parent_fd, name.c_str()) < 0) {
    int error = errno;
    if (error == EXDEV) {
      return RequestError{ErrorCode::kIoError,
                          path.joined() + ": lies on another file system than the upload area"};
    }
    return error_from_errno(error, path);
  }
  // The rename is durable only once its directory is.
  UniqueFd directory(::openat(parent_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory || ::fsync(directory.get()) < 0) return error_from_errno(errno, path);
  ::unlinkat(directory_.get(), record_name(key).c_str(), 0);
  return {};
}

Outcome<void> UploadStore::check_free_space(const RequestPath& path, uint64_t more_bytes,
                                            uint64_t min_free) const {
  if (min_free == 0 || !directory_) return {};
  struct statvfs info {};
  if (::fstatvfs(directory_.get(), &info) < 0) return error_from_errno(errno, path);
  const uint64_t available = static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
  if (available < min_free || available - min_free < more_bytes) {
    return RequestError{ErrorCode::kTooLarge,
                        path.joined() + ": " + std::to_string(more_bytes) +
                            " more bytes would leave less than the server's minimum of " +
                            std::to_string(min_free) + " bytes free (" + std::to_string(available) +
                            " available)"};
  }
  return {};
}

std::vector<std::string> UploadStore::expired_keys(std::chrono::seconds max_age) const {
  std::vector<std::string> keys;
  if (!directory_) return keys;
  const time_t now = ::time(nullptr);
  for (const auto& [key, upload] : list_area(directory_.get()).uploads) {
    if (now - upload.newest > max_age.count()) keys.push_back(key);
  }
  return keys;
}

void UploadStore::remove(const std::string& key) const {
  if (!directory_) return;
  // The record first: without it the .part is no resumable upload any more.
  ::unlinkat(directory_.get(), record_name(key).c_str(), 0);
  ::unlinkat(directory_.get(), part_name(key).c_str(), 0);
}

size_t UploadStore::sweep_leftovers() const {
  if (!writable()) return 0;
  size_t removed = 0;
  AreaListing listing = list_area(directory_.get());
  for (const std::string& name : listing.temporaries) {
    if (::unlinkat(directory_.get(), name.c_str(), 0) == 0) ++removed;
  }
  for (const auto& [key, upload] : listing.uploads) {
    if (upload.part && upload.record && upload.part_size > 0) continue;  // resumable
    if (upload.record && ::unlinkat(directory_.get(), record_name(key).c_str(), 0) == 0) ++removed;
    if (upload.part && ::unlinkat(directory_.get(), part_name(key).c_str(), 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace reactor::file
