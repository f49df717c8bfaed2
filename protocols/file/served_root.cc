#include "protocols/file/served_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace reactor::file {
namespace {

std::string display(const RequestPath& path) {
  std::string joined = path.joined();
  return joined.empty() ? "/" : joined;
}

}  // namespace

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

Outcome<struct stat> stat_of(int fd, const RequestPath& path) {
  struct stat info {};
  if (::fstat(fd, &info) < 0) return error_from_errno(errno, path);
  return info;
}

ServedRoot::ServedRoot(const std::string& directory, std::string hidden_name)
    : hidden_name_(std::move(hidden_name)) {
  root_.reset(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) {
    throw std::system_error(errno, std::generic_category(), "cannot open " + directory);
  }
  char resolved[PATH_MAX];
  if (::realpath(directory.c_str(), resolved) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "cannot resolve " + directory);
  }
  real_path_ = resolved;
}

int ServedRoot::open_beneath(const std::string& relative, int flags) const {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const char* name = relative.empty() ? "." : relative.c_str();
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_.get(), name, &how, sizeof how);
    // EAGAIN: a concurrent rename somewhere made the kernel give up; retry.
    if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return static_cast<int>(fd);
  }
}

bool ServedRoot::is_hidden(const RequestPath& path) const {
  return !hidden_name_.empty() && !path.components.empty() && path.components[0] == hidden_name_;
}

bool ServedRoot::resolves_into_hidden(int fd) const {
  if (hidden_name_.empty()) return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  ssize_t length = ::readlink(link, target, sizeof target);
  // Without /proc the lexical check (is_hidden) is all we have; a symlink
  // into the state directory can only be planted by a local user anyway.
  if (length <= 0 || static_cast<size_t>(length) >= sizeof target) return false;
  std::string_view resolved(target, static_cast<size_t>(length));
  std::string hidden = real_path_ == "/" ? "/" + hidden_name_ : real_path_ + "/" + hidden_name_;
  return resolved == hidden || (resolved.starts_with(hidden) && resolved.size() > hidden.size() &&
                                resolved[hidden.size()] == '/');
}

Outcome<UniqueFd> ServedRoot::open(const RequestPath& path, int flags) const {
  if (is_hidden(path)) {
    return RequestError{ErrorCode::kForbidden, path.joined() + ": reserved for the server"};
  }
  Outcome<UniqueFd> result;
  int fd = open_beneath(path.joined(), flags);
  if (fd >= 0) {
    result = UniqueFd(fd);
  } else if (errno == EXDEV) {
    result = open_via_realpath(path, flags);
  } else {
    return error_from_errno(errno, path);
  }
  if (auto* opened = std::get_if<UniqueFd>(&result);
      opened && resolves_into_hidden(opened->get())) {
    return RequestError{ErrorCode::kForbidden, path.joined() + ": reserved for the server"};
  }
  return result;
}

Outcome<UniqueFd> ServedRoot::open_via_realpath(const RequestPath& path, int flags) const {
  std::string absolute = real_path_ + "/" + path.joined();
  char resolved[PATH_MAX];
  if (::realpath(absolute.c_str(), resolved) == nullptr) {
    // Whatever failed happened while following a link that left the root
    // at some point; telling "missing" from "denied" out there would leak
    // facts about the outside, so every such failure is a refusal.
    return error_from_errno(EXDEV, path);
  }
  std::string_view candidate = resolved;
  std::string_view root = real_path_;
  std::string relative;
  if (candidate == root) {
    relative.clear();
  } else if (root == "/" || (candidate.size() > root.size() && candidate.starts_with(root) &&
                             candidate[root.size()] == '/')) {
    relative = std::string(candidate.substr(root == "/" ? 1 : root.size() + 1));
  } else {
    return error_from_errno(EXDEV, path);
  }
  int fd = open_beneath(relative, flags);
  if (fd < 0) return error_from_errno(errno, path);
  return UniqueFd(fd);
}

Outcome<UniqueFd> ServedRoot::open_or_create_directory(const RequestPath& path) const {
  Outcome<UniqueFd> current = open(RequestPath{}, O_PATH | O_DIRECTORY);
  RequestPath prefix;
  for (const std::string& component : path.components) {
    if (std::holds_alternative<RequestError>(current)) return current;
    int parent_fd = std::get<UniqueFd>(current).get();
    prefix.components.push_back(component);
    Outcome<UniqueFd> next = open(prefix, O_PATH);
    if (auto* error = std::get_if<RequestError>(&next);
        error != nullptr && error->code == ErrorCode::kNotFound) {
      // mkdirat() on the already resolved parent and a single name: the new
      // directory can only land inside it (a symlink there is not followed).
      if (::mkdirat(parent_fd, component.c_str(), 0755) < 0 && errno != EEXIST) {
        return error_from_errno(errno, prefix);
      }
      next = open(prefix, O_PATH);
    }
    if (auto* fd = std::get_if<UniqueFd>(&next)) {
      auto info = stat_of(fd->get(), prefix);
      if (auto* error = std::get_if<RequestError>(&info)) return *error;
      if (!S_ISDIR(std::get<struct stat>(info).st_mode)) {
        return RequestError{ErrorCode::kNotDirectory,
                            prefix.joined() + ": exists and is not a directory"};
      }
    }
    current = std::move(next);
  }
  return current;
}

}  // namespace reactor::file
