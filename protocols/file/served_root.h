// ServedRoot: the directory a server serves, and the only way the server
// reaches files in it.
//
// Every open goes through openat2(2) with RESOLVE_BENEATH relative to the
// root's descriptor, so the kernel itself refuses any resolution that
// would leave the root -- "..", a symlink pointing out, or a directory
// renamed under us mid-walk. RESOLVE_BENEATH also refuses absolute
// symlinks, even ones that point back inside; for those we let realpath()
// propose the symlink-free path and open *that* beneath the root again,
// so a race can only turn a success into a refusal, never into an escape.
//
// One name directly in the root can be reserved for the server's own state
// (unfinished uploads): no request reaches it, by its name or through a
// symlink, and LIST leaves it out.
//
// Threading: immutable after construction; any thread may call it.
#pragma once

#include <sys/stat.h>

#include <string>
#include <variant>

#include "protocols/file/protocol.h"
#include "protocols/file/request_path.h"
#include "reactor/unique_fd.h"

namespace reactor::file {

template <typename T>
using Outcome = std::variant<T, RequestError>;

class ServedRoot {
 public:
  // Opens `directory`. Throws std::system_error if it cannot be opened or
  // is not a directory. `hidden_name` ("" for none) is the reserved entry.
  explicit ServedRoot(const std::string& directory, std::string hidden_name = "");

  // The canonical absolute path of the root.
  const std::string& real_path() const { return real_path_; }
  int fd() const { return root_.get(); }
  const std::string& hidden_name() const { return hidden_name_; }
  // True if `path` names the reserved entry or something inside it.
  bool is_hidden(const RequestPath& path) const;

  // Opens an existing object (open(2) `flags`; O_CLOEXEC is added),
  // following symlinks only while they stay inside the root.
  Outcome<UniqueFd> open(const RequestPath& path, int flags) const;

  // Opens `path` as a directory, creating missing components (mode 0755),
  // like mkdir -p. A component that exists but is not a directory is
  // kNotDirectory.
  Outcome<UniqueFd> open_or_create_directory(const RequestPath& path) const;

 private:
  int open_beneath(const std::string& relative, int flags) const;
  Outcome<UniqueFd> open_via_realpath(const RequestPath& path, int flags) const;
  // True if the opened `fd` turned out to lie in the reserved entry.
  bool resolves_into_hidden(int fd) const;

  UniqueFd root_;
  std::string real_path_;
  std::string hidden_name_;
};

// File, directory or other (kUnfinishedUpload is never returned here).
EntryKind entry_kind_of(const struct stat& info);

// fstat() wrapper returning the error as an Outcome.
Outcome<struct stat> stat_of(int fd, const RequestPath& path);

// Maps an errno from touching `path` to the ERROR the client should get.
RequestError error_from_errno(int error, const RequestPath& path);

}  // namespace reactor::file
