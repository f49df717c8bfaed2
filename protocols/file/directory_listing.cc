#include "protocols/file/directory_listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace reactor::file {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

ListEntry entry_from_stat(const struct stat& info, std::string name) {
  ListEntry entry;
  entry.kind = entry_kind_of(info);
  entry.size = entry.kind == EntryKind::kDirectory ? 0 : static_cast<uint64_t>(info.st_size);
  entry.mtime = static_cast<int64_t>(info.st_mtim.tv_sec);
  entry.name = std::move(name);
  return entry;
}

}  // namespace

Outcome<ListOk> list_directory(const ServedRoot& root, const RequestPath& path) {
  Outcome<UniqueFd> opened = root.open(path, O_PATH);
  if (auto* error = std::get_if<RequestError>(&opened)) return *error;
  auto info = stat_of(std::get<UniqueFd>(opened).get(), path);
  if (auto* error = std::get_if<RequestError>(&info)) return *error;
  if (!S_ISDIR(std::get<struct stat>(info).st_mode)) {
    std::string shown = path.joined();
    return RequestError{ErrorCode::kNotDirectory, shown + ": not a directory"};
  }
  // Reopen the very directory we resolved (not the path again) for reading.
  int dir_fd = ::openat(std::get<UniqueFd>(opened).get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return error_from_errno(errno, path);
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dir_fd));
  if (!dir) {
    int error = errno;
    ::close(dir_fd);
    return error_from_errno(error, path);
  }

  ListOk list;
  for (;;) {
    errno = 0;
    dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return error_from_errno(errno, path);
      break;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (path.is_root() && name == root.hidden_name()) continue;
    struct stat entry_info {};
    if (::fstatat(dir_fd, entry->d_name, &entry_info, AT_SYMLINK_NOFOLLOW) < 0) {
      continue;  // vanished between readdir and stat
    }
    if (S_ISLNK(entry_info.st_mode)) {
      RequestPath target = path;
      target.components.emplace_back(name);
      Outcome<UniqueFd> resolved = root.open(target, O_PATH);
      if (std::holds_alternative<RequestError>(resolved)) continue;  // outside or dangling
      if (::fstat(std::get<UniqueFd>(resolved).get(), &entry_info) < 0) continue;
    }
    list.entries.push_back(entry_from_stat(entry_info, std::string(name)));
  }
  std::sort(list.entries.begin(), list.entries.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.name < b.name; });
  return list;
}

}  // namespace reactor::file
