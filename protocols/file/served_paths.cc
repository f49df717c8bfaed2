#include "protocols/file/served_paths.h"

#include <cstring>

namespace reactor::file {
namespace {

using protocols::TreeErrc;

std::string display(const RequestPath& path) {
  std::string joined = path.joined();
  return joined.empty() ? "/" : joined;
}

}  // namespace

std::string displayable_utf8(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string shown;
  while (!text.empty()) {
    const size_t length = decode_utf8(text).second;
    const std::string_view piece = length > 0 ? text.substr(0, length) : kReplacement;
    if (shown.size() + piece.size() > max_bytes) break;
    shown.append(piece);
    text.remove_prefix(length > 0 ? length : 1);
  }
  return shown;
}

RequestError error_from_tree(std::error_code error, const RequestPath& path) {
  const std::string where = display(path);
  if (error == TreeErrc::kOutsideRoot) {
    return {ErrorCode::kForbidden, where + ": leads outside the served directory"};
  }
  if (error == TreeErrc::kReserved) {
    return {ErrorCode::kForbidden, where + ": reserved for the server"};
  }
  if (error == TreeErrc::kNotServable) {
    return {ErrorCode::kNotRegularFile, where + ": not a regular file"};
  }
  if (error == TreeErrc::kNotDirectory) {
    return {ErrorCode::kNotDirectory, where + ": not a directory"};
  }
  if (error == TreeErrc::kTooManyEntries) {
    return {ErrorCode::kTooLarge, where + ": more than " + std::to_string(kMaxListEntries) +
                                      " entries, too many for one LIST"};
  }
  if (error.category() == std::generic_category()) return error_from_errno(error.value(), path);
  return {ErrorCode::kIoError, where + ": " + error.message()};
}

RequestError error_from_errno(int error, const RequestPath& path) {
  std::string where = display(path);
  switch (error) {
    case ENOENT:
    case ENOTDIR:  // a component of the path is a file
      return {ErrorCode::kNotFound, where + ": not found"};
    case EXDEV:
      return {ErrorCode::kForbidden, where + ": leads outside the served directory"};
    case EACCES:
    case EPERM:
      return {ErrorCode::kForbidden, where + ": permission denied"};
    case ELOOP:
      return {ErrorCode::kForbidden, where + ": too many levels of symbolic links"};
    case EROFS:
      return {ErrorCode::kForbidden, where + ": read-only file system"};
    case ENAMETOOLONG:
      return {ErrorCode::kTooLarge, where + ": name too long"};
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return {ErrorCode::kTooLarge, where + ": " + std::strerror(error)};
    case EISDIR:
      return {ErrorCode::kNotRegularFile, where + ": is a directory"};
    default:
      return {ErrorCode::kIoError, where + ": " + std::strerror(error)};
  }
}

EntryKind entry_kind_of(const struct stat& info) {
  if (S_ISREG(info.st_mode)) return EntryKind::kFile;
  if (S_ISDIR(info.st_mode)) return EntryKind::kDirectory;
  return EntryKind::kOther;
}

Outcome<protocols::TreeObject> look_up(const protocols::ServedTree& tree, const RequestPath& path) {
  auto found = tree.look_up(path.joined());
  if (!found) return error_from_tree(found.error(), path);
  return std::move(found.value());
}

Outcome<protocols::TreeObject> open_regular_file(const protocols::ServedTree& tree,
                                                 const RequestPath& path) {
  auto opened = tree.open_for_reading(path.joined());
  if (!opened) return error_from_tree(opened.error(), path);
  if (!S_ISREG(opened->info.st_mode)) {
    return RequestError{ErrorCode::kNotRegularFile, display(path) + ": not a regular file"};
  }
  return std::move(opened.value());
}

Outcome<ListOk> list_directory(const protocols::ServedTree& tree, const RequestPath& path) {
  protocols::ListingOptions options;
  options.max_entries = kMaxListEntries;
  auto listing = tree.list(path.joined(), options);
  if (!listing) {
    return error_from_tree(listing.error(), path);
  }
  ListOk list;
  list.entries.reserve(listing->entries.size());
  for (protocols::TreeEntry& entry : listing->entries) {
    ListEntry item;
    item.kind = entry_kind_of(entry.info);
    item.size = item.kind == EntryKind::kDirectory ? 0 : static_cast<uint64_t>(entry.info.st_size);
    item.mtime = static_cast<int64_t>(entry.info.st_mtim.tv_sec);
    item.name = std::move(entry.name);
    list.entries.push_back(std::move(item));
  }
  return list;
}

}  // namespace reactor::file
