// The served tree as RFTP sees it: ServedTree (protocols/common) reached
// with RequestPaths, its errors turned into the ERROR codes of
// docs/PROTOCOL.md, and LIST built from its listing.
//
// Threading: pure functions over a ServedTree; any thread.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <system_error>

#include "protocols/common/result.h"
#include "protocols/common/served_tree.h"
#include "protocols/file/messages.h"
#include "protocols/file/protocol.h"
#include "protocols/file/request_path.h"

namespace reactor::file {

// The most entries one LIST_OK carries; a bigger directory is ERROR 6.
inline constexpr size_t kMaxListEntries = protocols::kDefaultMaxListingEntries;

// Maps a failure touching `path` to the ERROR the client should get.
RequestError error_from_tree(std::error_code error, const RequestPath& path);
RequestError error_from_errno(int error, const RequestPath& path);

// File, directory or other (kUnfinishedUpload is never returned here).
EntryKind entry_kind_of(const struct stat& info);

// Reaches `path` without opening it (any kind): for STAT and PUT checks.
Outcome<protocols::TreeObject> look_up(const protocols::ServedTree& tree, const RequestPath& path);

// Opens `path` for GET or HASH: a regular file, or ERROR 8 -- a FIFO or
// device is refused before it is opened, so nothing blocks.
Outcome<protocols::TreeObject> open_regular_file(const protocols::ServedTree& tree,
                                                 const RequestPath& path);

// LIST: entries sorted bytewise by name, with dot files, special files as
// kind 2, symlinks with their target's kind and size when the target is
// inside the root (left out otherwise), never the reserved entry. A
// directory's size is 0. Not a directory: ERROR 9. More than
// kMaxListEntries entries: ERROR 6, so one request cannot hold the loop.
Outcome<ListOk> list_directory(const protocols::ServedTree& tree, const RequestPath& path);

// `text` as valid UTF-8 of at most `max_bytes` bytes: each invalid byte
// becomes U+FFFD, and a cut never splits a character. ERROR messages echo
// client paths, and every RFTP str must be UTF-8.
std::string displayable_utf8(std::string_view text, size_t max_bytes);

}  // namespace reactor::file
