#include "protocols/common/served_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>

namespace reactor::protocols {

namespace {

class TreeCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "served tree"; }
  std::string message(int value) const override {
    switch (static_cast<TreeErrc>(value)) {
      case TreeErrc::kOutsideRoot:
        return "leads outside the served directory";
      case TreeErrc::kReserved:
        return "reserved for the server";
      case TreeErrc::kNotServable:
        return "not a regular file or directory";
      case TreeErrc::kNotDirectory:
        return "not a directory";
      case TreeErrc::kTooManyEntries:
        return "too many directory entries";
    }
    return "served tree error " + std::to_string(value);
  }
};

constexpr int kReadFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

std::error_code last_error() {
  return {errno, std::generic_category()};
}

bool servable(const struct stat& info) {
  return S_ISREG(info.st_mode) || S_ISDIR(info.st_mode);
}

bool same_object(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

long call_openat2(int directory_fd, const char* path, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, directory_fd, path, &how, sizeof how);
    // EAGAIN: a concurrent rename made the kernel give up this resolution.
    if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return fd;
  }
}

bool openat2_works(int root_fd) {
  const long fd = call_openat2(root_fd, ".", O_PATH);
  if (fd < 0) return false;  // ENOSYS, or EPERM from a seccomp filter
  ::close(static_cast<int>(fd));
  return true;
}

// `path` ("a/b/c") in components; "" and "." vanish, ".." stays.
void push_components_front(std::deque<std::string>& pending, std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  pending.insert(pending.begin(), parts.begin(), parts.end());
}

bool is_under(std::string_view path, std::string_view prefix, std::string_view& rest) {
  if (prefix == "/") {
    rest = path.substr(1);
    return true;
  }
  if (!path.starts_with(prefix)) return false;
  if (path.size() == prefix.size()) {
    rest = {};
    return true;
  }
  if (path[prefix.size()] != '/') return false;
  rest = path.substr(prefix.size() + 1);
  return true;
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

}  // namespace

const std::error_category& tree_category() {
  static const TreeCategory category;
  return category;
}

std::error_code make_error_code(TreeErrc value) {
  return {static_cast<int>(value), tree_category()};
}

// Where resolution ended: the object (O_PATH) and how to open it for real.
struct ServedTree::Resolved {
  UniqueFd object;
  struct stat info {};
  // Walked: the directory holding the object and its name there ("" when
  // the object is the root). Resolved by openat2: empty, reopen by path.
  bool walked = false;
  UniqueFd parent;
  std::string name;
};

ServedTree::ServedTree(const std::string& directory, std::string reserved_name)
    : ServedTree(directory, std::move(reserved_name), Strategy::kOpenat2) {
  if (!openat2_works(root_.get())) strategy_ = Strategy::kWalk;
}

ServedTree::ServedTree(const std::string& directory, std::string reserved_name, Strategy strategy)
    : root_(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)),
      reserved_name_(std::move(reserved_name)),
      strategy_(strategy) {
  if (!root_) throw std::system_error(errno, std::generic_category(), "cannot open " + directory);
  char resolved[PATH_MAX];
  if (::realpath(directory.c_str(), resolved) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "cannot resolve " + directory);
  }
  real_path_ = resolved;
  root_spellings_.push_back(real_path_);
  std::string given = std::filesystem::absolute(directory).lexically_normal().string();
  while (given.size() > 1 && given.back() == '/') given.pop_back();
  if (given != real_path_) root_spellings_.push_back(std::move(given));
}

bool ServedTree::is_reserved(std::string_view relative) const {
  if (reserved_name_.empty()) return false;
  while (relative.starts_with("./")) relative.remove_prefix(2);
  while (relative.starts_with('/')) relative.remove_prefix(1);
  const std::string_view first = relative.substr(0, relative.find('/'));
  return first == reserved_name_;
}

bool ServedTree::lies_in_reserved(int fd) const {
  if (reserved_name_.empty()) return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  const ssize_t length = ::readlink(link, target, sizeof target);
  // Without /proc the walk's own check (at the root, by name) is what
  // holds; the openat2 path then falls back to it below.
  if (length <= 0 || static_cast<size_t>(length) >= sizeof target) return false;
  const std::string_view resolved(target, static_cast<size_t>(length));
  std::string_view rest;
  if (!is_under(resolved, real_path_, rest)) return false;
  return rest.substr(0, rest.find('/')) == reserved_name_;
}

Result<UniqueFd> ServedTree::open_beneath(std::string_view relative, int flags) const {
  const std::string path = relative.empty() ? std::string(".") : std::string(relative);
  const long fd = call_openat2(root_.get(), path.c_str(), flags);
  if (fd < 0) return last_error();
  return UniqueFd(static_cast<int>(fd));
}

Result<ServedTree::Resolved> ServedTree::resolve(std::string_view relative) const {
  if (is_reserved(relative)) return make_error_code(TreeErrc::kReserved);
  if (strategy_ == Strategy::kOpenat2) {
    Result<UniqueFd> opened = open_beneath(relative, O_PATH);
    if (opened) {
      Resolved resolved;
      resolved.object = std::move(opened.value());
      if (::fstat(resolved.object.get(), &resolved.info) != 0) return last_error();
      if (lies_in_reserved(resolved.object.get())) return make_error_code(TreeErrc::kReserved);
      return resolved;
    }
    // EXDEV: an escape, or a link the kernel will not judge (an absolute
    // one, or one that leaves and comes back): the walk decides.
    if (opened.error() != std::errc::cross_device_link) return opened.error();
  }
  return walk(relative);
}

Result<ServedTree::Resolved> ServedTree::walk(std::string_view relative) const {
  std::deque<std::string> pending;
  push_components_front(pending, relative);
  // Directories entered so far below the root; ".." pops one.
  std::vector<UniqueFd> entered;
  int hops = 0;
  auto current = [&] { return entered.empty() ? root_.get() : entered.back().get(); };

  while (!pending.empty()) {
    std::string name = std::move(pending.front());
    pending.pop_front();
    if (name == "..") {
      if (entered.empty()) return make_error_code(TreeErrc::kOutsideRoot);
      entered.pop_back();
      continue;
    }
    if (entered.empty() && name == reserved_name_ && !reserved_name_.empty()) {
      return make_error_code(TreeErrc::kReserved);
    }
    UniqueFd object(::openat(current(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!object) return last_error();
    struct stat info {};
    if (::fstat(object.get(), &info) != 0) return last_error();

    if (S_ISLNK(info.st_mode)) {
      if (++hops > kMaxSymlinkHops) {
        return std::make_error_code(std::errc::too_many_symbolic_link_levels);
      }
      char target[PATH_MAX];
      const ssize_t length = ::readlinkat(object.get(), "", target, sizeof target);
      if (length < 0) return last_error();
      if (length == 0 || static_cast<size_t>(length) >= sizeof target) {
        return std::make_error_code(std::errc::no_such_file_or_directory);
      }
      const std::string_view text(target, static_cast<size_t>(length));
      if (text.front() == '/') {
        std::string_view rest;
        const bool inside =
            std::any_of(root_spellings_.begin(), root_spellings_.end(),
                        [&](const std::string& root) { return is_under(text, root, rest); });
        if (!inside) return make_error_code(TreeErrc::kOutsideRoot);
        entered.clear();
        push_components_front(pending, rest);
      } else {
        push_components_front(pending, text);
      }
      continue;
    }

    if (pending.empty()) {
      Resolved resolved;
      resolved.object = std::move(object);
      resolved.info = info;
      resolved.walked = true;
      resolved.parent.reset(::fcntl(current(), F_DUPFD_CLOEXEC, 0));
      if (!resolved.parent) return last_error();
      resolved.name = std::move(name);
      return resolved;
    }
    if (!S_ISDIR(info.st_mode)) return std::make_error_code(std::errc::not_a_directory);
    entered.push_back(std::move(object));
  }

  // The path ended on a directory already entered (or is the root).
  Resolved resolved;
  resolved.walked = true;
  resolved.object.reset(::fcntl(current(), F_DUPFD_CLOEXEC, 0));
  if (!resolved.object) return last_error();
  if (::fstat(resolved.object.get(), &resolved.info) != 0) return last_error();
  return resolved;  // name "": reopened as "." of itself
}

Result<TreeObject> ServedTree::look_up(std::string_view relative) const {
  Result<Resolved> resolved = resolve(relative);
  if (!resolved) return resolved.error();
  return TreeObject{std::move(resolved->object), resolved->info};
}

Result<TreeObject> ServedTree::open_for_reading(std::string_view relative) const {
  Result<Resolved> resolved = resolve(relative);
  if (!resolved) return resolved.error();
  if (!servable(resolved->info)) return make_error_code(TreeErrc::kNotServable);

  UniqueFd opened;
  if (!resolved->walked) {
    Result<UniqueFd> again = open_beneath(relative, kReadFlags);
    if (!again) return again.error();
    opened = std::move(again.value());
  } else if (resolved->name.empty()) {
    opened.reset(::openat(resolved->object.get(), ".", kReadFlags | O_DIRECTORY));
  } else {
    opened.reset(::openat(resolved->parent.get(), resolved->name.c_str(), kReadFlags | O_NOFOLLOW));
  }
  if (!opened) return last_error();
  TreeObject object{std::move(opened), {}};
  if (::fstat(object.fd.get(), &object.info) != 0) return last_error();
  // Replaced between the look and the open (by a FIFO, say): treat it as
  // gone rather than serve something that was never checked.
  if (!same_object(object.info, resolved->info)) {
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  return object;
}

Result<UniqueFd> ServedTree::open_or_create_directory(std::string_view relative) const {
  Result<TreeObject> current = look_up("");
  if (!current) return current.error();
  std::string prefix;
  while (!relative.empty()) {
    const size_t slash = relative.find('/');
    const std::string component(relative.substr(0, slash));
    relative = slash == std::string_view::npos ? std::string_view() : relative.substr(slash + 1);
    if (component.empty() || component == ".") continue;
    if (!prefix.empty()) prefix += '/';
    prefix += component;
    Result<TreeObject> next = look_up(prefix);
    if (!next && next.error() == std::errc::no_such_file_or_directory) {
      // mkdirat() on the already resolved parent and a single name: the
      // new directory can only land inside it (a symlink is not followed).
      if (::mkdirat(current->fd.get(), component.c_str(), 0755) < 0 && errno != EEXIST) {
        return last_error();
      }
      next = look_up(prefix);
    }
    if (!next) return next.error();
    if (!S_ISDIR(next->info.st_mode)) return make_error_code(TreeErrc::kNotDirectory);
    current = std::move(next);
  }
  return std::move(current->fd);
}

Result<Listing> ServedTree::list(std::string_view relative, const ListingOptions& options) const {
  Result<TreeObject> found = look_up(relative);
  if (!found) return found.error();
  if (!S_ISDIR(found->info.st_mode)) return make_error_code(TreeErrc::kNotDirectory);
  // Reopen the very directory resolved, not the path again, for reading.
  const int dir_fd = ::openat(found->fd.get(), ".", kReadFlags | O_DIRECTORY);
  if (dir_fd < 0) return last_error();
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dir_fd));
  if (!dir) {
    const std::error_code error = last_error();
    ::close(dir_fd);
    return error;
  }

  // Names first: a directory above the cap costs one readdir pass, not a
  // stat per entry.
  const bool at_root = relative.empty();
  std::vector<std::string> names;
  bool truncated = false;
  for (;;) {
    errno = 0;
    const dirent* item = ::readdir(dir.get());
    if (item == nullptr) {
      if (errno != 0) return last_error();
      break;
    }
    const std::string_view name = item->d_name;
    if (name == "." || name == "..") continue;
    if (at_root && !reserved_name_.empty() && name == reserved_name_) continue;
    if (names.size() == options.max_entries) {
      if (!options.truncate) return make_error_code(TreeErrc::kTooManyEntries);
      truncated = true;
      break;
    }
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());

  Listing listing;
  listing.truncated = truncated;
  listing.entries.reserve(names.size());
  std::string path;
  for (std::string& name : names) {
    struct stat info {};
    if (::fstatat(dir_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    if (S_ISLNK(info.st_mode)) {
      // Judged the way a request for it would be: a link that leads out
      // (or dangles, or loops) is not even named.
      path.assign(relative);
      if (!path.empty()) path += '/';
      path += name;
      Result<TreeObject> target = look_up(path);
      if (!target) continue;
      info = target->info;
    }
    if (!options.include_special && !servable(info)) continue;
    listing.entries.push_back(TreeEntry{std::move(name), info});
  }
  return listing;
}

}  // namespace reactor::protocols
