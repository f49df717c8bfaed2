#include "protocols/http/document_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace reactor::http {

namespace {

constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

long call_openat2(int directory_fd, const char* path) {
  open_how how{};
  how.flags = kOpenFlags;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, directory_fd, path, &how, sizeof how);
}

bool openat2_works(int root_fd) {
  const long fd = call_openat2(root_fd, ".");
  if (fd < 0) return false;  // ENOSYS, or EPERM from a seccomp filter
  ::close(static_cast<int>(fd));
  return true;
}

std::string canonical_path(const std::string& directory) {
  char resolved[PATH_MAX];
  if (::realpath(directory.c_str(), resolved) == nullptr) {
    throw std::system_error(errno, std::generic_category(), directory);
  }
  return resolved;
}

}  // namespace

DocumentRoot::DocumentRoot(const std::string& directory)
    : DocumentRoot(directory, Strategy::kOpenat2) {
  if (!openat2_works(root_.get())) strategy_ = Strategy::kProcCheck;
}

DocumentRoot::DocumentRoot(const std::string& directory, Strategy strategy)
    : root_(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), strategy_(strategy) {
  if (!root_) throw std::system_error(errno, std::generic_category(), directory);
  real_path_ = canonical_path(directory);
}

DocumentRoot::OpenResult DocumentRoot::open(const std::string& relative) const {
  const char* path = relative.empty() ? "." : relative.c_str();
  OpenResult result = strategy_ == Strategy::kOpenat2 ? open_beneath(path) : open_and_verify(path);
  if (result.fd && ::fstat(result.fd.get(), &result.info) != 0) {
    result.error = errno;
    result.fd.reset();
  }
  return result;
}

DocumentRoot::OpenResult DocumentRoot::open_beneath(const char* relative) const {
  OpenResult result;
  long fd;
  do {
    fd = call_openat2(root_.get(), relative);
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  if (fd < 0) {
    result.error = errno;
  } else {
    result.fd.reset(static_cast<int>(fd));
  }
  return result;
}

DocumentRoot::OpenResult DocumentRoot::open_and_verify(const char* relative) const {
  OpenResult result;
  int fd;
  do {
    fd = ::openat(root_.get(), relative, kOpenFlags);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    result.error = errno;
    return result;
  }
  result.fd.reset(fd);

  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  const ssize_t length = ::readlink(link, target, sizeof target - 1);
  if (length < 0) {
    // Without /proc we cannot prove where we are: refuse.
    result.error = EACCES;
    result.fd.reset();
    return result;
  }
  const std::string_view opened(target, static_cast<size_t>(length));
  const std::string_view root = real_path_;
  const bool beneath =
      opened == root || root == "/" ||
      (opened.size() > root.size() && opened.starts_with(root) && opened[root.size()] == '/');
  if (!beneath) {
    result.error = EXDEV;
    result.fd.reset();
  }
  return result;
}

}  // namespace reactor::http
