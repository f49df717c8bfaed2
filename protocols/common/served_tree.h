// ServedTree: the directory a server serves, and the only way the HTTP
// and RFTP modules reach files in it.
//
// Paths are relative ("" is the root, else "a/b/c"); the protocols apply
// their own lexical rules first (url_path.h, request_path.h). What the
// file system then says is decided here, once, for both:
//
//  - Symlinks: one is followed only if its target stays inside the root at
//    every hop. A relative target is resolved from the link's directory,
//    and a ".." that would climb above the root refuses the whole path,
//    even if later components come back in ("up -> ../.." then
//    "up/<root-name>/x"). An absolute target is followed if it names a
//    place inside the root (by the root's canonical or configured path).
//    More than kMaxSymlinkHops links in one path: ELOOP.
//  - Enforcement: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) does
//    the whole resolution in the kernel, race-free, and refuses (EXDEV)
//    both an escape and an absolute link. Only then, and always where
//    openat2 is missing (ENOSYS, or EPERM from a seccomp filter), the path
//    is walked one component at a time with O_PATH | O_NOFOLLOW from
//    descriptors already inside the root, reading each link and applying
//    the rule above. The walk never asks the kernel to resolve "..", so
//    renames elsewhere cannot make it leave the root.
//  - Nothing blocks: an object is first reached with O_PATH (which runs no
//    driver and never waits for a FIFO writer), its kind checked, and only
//    a regular file or a directory is then opened for reading, always with
//    O_NONBLOCK. FIFOs, sockets and devices can be looked at (stat), never
//    opened.
//  - Hidden entries: one name directly in the root may be reserved for the
//    server's own state (RFTP's ".rftp-uploads"). No path reaches it, by
//    its name or through a symlink, and listings leave it out. Every other
//    entry, dot files included, is an ordinary entry for both protocols.
//  - Listings are capped (ListingOptions::max_entries): names are read
//    first, and a directory with more entries than the cap costs one
//    readdir pass over cap+1 names, never a stat per entry.
//
// Errors are std::error_code: errno values (generic category) plus the
// TreeErrc values below; protocols map them to their own answers.
//
// Threading: immutable after construction; any thread may call it (RFTP
// commits uploads from its worker pool).
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/result.h"
#include "reactor/unique_fd.h"

namespace reactor::protocols {

// Failures that are the tree's policy rather than an errno.
enum class TreeErrc {
  kOutsideRoot = 1,  // the path, or a symlink on it, leads out of the root
  kReserved,         // the server's reserved entry, or a path through it
  kNotServable,      // a FIFO, socket or device: never opened
  kNotDirectory,     // listed or created as a directory, but it is none
  kTooManyEntries,   // a listing above ListingOptions::max_entries
};

const std::error_category& tree_category();
std::error_code make_error_code(TreeErrc value);

}  // namespace reactor::protocols

template <>
struct std::is_error_code_enum<reactor::protocols::TreeErrc> : std::true_type {};

namespace reactor::protocols {

inline constexpr size_t kDefaultMaxListingEntries = 10000;
inline constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit

// An object of the tree, reached and fstat()ed.
struct TreeObject {
  UniqueFd fd;
  struct stat info {};
};

struct TreeEntry {
  std::string name;
  // For a symlink, its target's (the link is listed only if it resolves
  // inside the root).
  struct stat info {};
};

struct ListingOptions {
  size_t max_entries = kDefaultMaxListingEntries;
  // FIFOs, sockets and devices (and links to them) are listed.
  bool include_special = true;
  // Above max_entries: keep the first max_entries read (in directory
  // order) and say so, rather than fail with TreeErrc::kTooManyEntries.
  bool truncate = false;
};

struct Listing {
  std::vector<TreeEntry> entries;  // sorted bytewise by name
  bool truncated = false;          // only with ListingOptions::truncate
};

class ServedTree {
 public:
  enum class Strategy { kOpenat2, kWalk };

  // Opens `directory`, picking openat2 when the kernel lets us use it.
  // `reserved_name` ("" for none) is the hidden entry. Throws
  // std::system_error if `directory` is not an openable directory.
  explicit ServedTree(const std::string& directory, std::string reserved_name = "");
  // Forces a strategy (tests exercise both).
  ServedTree(const std::string& directory, std::string reserved_name, Strategy strategy);

  // Reaches `relative` with O_PATH: any kind of object, nothing opened.
  // For stat, and as a directory to resolve names beneath.
  Result<TreeObject> look_up(std::string_view relative) const;

  // Opens a regular file or a directory read-only (O_NONBLOCK). Anything
  // else is TreeErrc::kNotServable, refused before it is opened.
  Result<TreeObject> open_for_reading(std::string_view relative) const;

  // Opens (O_PATH) the directory `relative`, creating missing components
  // with mode 0755 like mkdir -p. A component that is not a directory:
  // TreeErrc::kNotDirectory.
  Result<UniqueFd> open_or_create_directory(std::string_view relative) const;

  // The entries of directory `relative`, without ".", ".." and the
  // reserved entry; symlinks that lead out of the root are left out.
  // Not a directory: TreeErrc::kNotDirectory. More than
  // options.max_entries entries: TreeErrc::kTooManyEntries, or a truncated
  // listing if options.truncate.
  Result<Listing> list(std::string_view relative, const ListingOptions& options = {}) const;

  // True if `relative` names the reserved entry or something inside it
  // (lexically; open and look_up also catch the way through a symlink).
  bool is_reserved(std::string_view relative) const;

  Strategy strategy() const { return strategy_; }
  // The root's canonical absolute path.
  const std::string& real_path() const { return real_path_; }
  // The root's O_PATH descriptor, for operations on names directly in it.
  int fd() const { return root_.get(); }
  const std::string& reserved_name() const { return reserved_name_; }

 private:
  struct Resolved;
  Result<Resolved> resolve(std::string_view relative) const;
  Result<Resolved> walk(std::string_view relative) const;
  Result<UniqueFd> open_beneath(std::string_view relative, int flags) const;
  bool lies_in_reserved(int fd) const;

  UniqueFd root_;
  std::string real_path_;
  // Absolute spellings of the root a symlink may use: canonical, as given.
  std::vector<std::string> root_spellings_;
  std::string reserved_name_;
  Strategy strategy_;
};

}  // namespace reactor::protocols
