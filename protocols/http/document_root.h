// DocumentRoot: opens files by a normalised relative path without ever
// leaving the served directory.
//
// url_path.h already removes "." and ".." segments, but a symlink inside
// the root may still point anywhere. Two enforcement strategies:
//  - openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel refuses
//    (EXDEV) any resolution step that would leave the root, symlinks and
//    absolute link targets included, with no race against renames.
//  - where openat2 is unavailable (kernels before 5.6, or a seccomp filter
//    that forbids it), the file is opened normally and the path the kernel
//    reports for the *opened descriptor* (/proc/self/fd/N) must lie under
//    the root's real path. Checking the descriptor rather than the name
//    leaves no window between check and use.
// Symlinks that stay inside the root work with both.
//
// Files are opened O_NONBLOCK so that a FIFO or device node placed in the
// root cannot block the loop thread in open(); callers serve only regular
// files and directories.
//
// Threading: const methods may be called from any thread.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "reactor/unique_fd.h"

namespace reactor::http {

class DocumentRoot {
 public:
  enum class Strategy { kOpenat2, kProcCheck };

  struct OpenResult {
    UniqueFd fd;
    struct stat info {};
    int error = 0;  // errno when !fd; EXDEV means "would escape the root"
  };

  // Opens `directory` and picks the best available strategy. Throws
  // std::system_error if it is not an openable directory.
  explicit DocumentRoot(const std::string& directory);
  // Forces a strategy (tests exercise both).
  DocumentRoot(const std::string& directory, Strategy strategy);

  // Opens `relative` (from DecodedPath; "" is the root itself) read-only
  // and fstat()s it. Never opens anything outside the root.
  OpenResult open(const std::string& relative) const;

  Strategy strategy() const { return strategy_; }
  // The root's canonical absolute path.
  const std::string& real_path() const { return real_path_; }

 private:
  OpenResult open_beneath(const char* relative) const;
  OpenResult open_and_verify(const char* relative) const;

  UniqueFd root_;
  std::string real_path_;
  Strategy strategy_;
};

}  // namespace reactor::http
