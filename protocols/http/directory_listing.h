// Directory listings: the HTML page shown for a directory without an
// index.html.
//
// Entries are sorted (directories first, then by byte-wise name), names
// are HTML-escaped, links are percent-encoded relative references, and each
// row shows the size and modification time (UTC). Which entries appear is
// the served tree's policy (ServedTree::list): symlinks only if they
// resolve inside the root, never the reserved entry; special files (FIFOs,
// sockets, devices) are left out here since they are never served. At
// most kMaxListingEntries rows are produced, with a note when there are
// more, so a huge directory cannot make one request do unbounded work.
//
// Threading: any thread; reads the file system (blocking, like open()).
#pragma once

#include <cstddef>
#include <string>

#include "protocols/common/result.h"
#include "protocols/common/served_tree.h"

namespace reactor::http {

inline constexpr size_t kMaxListingEntries = protocols::kDefaultMaxListingEntries;

// Appends the listing page of the directory `relative` ("" for the root,
// else "a/b" without slashes at either end) to `out`. Fails, appending
// nothing, if the directory cannot be read (the caller answers 403 or 404).
// With `hide_dotfiles`, names starting with '.' are left out (but
// ".well-known" in the root), as they are not served either.
protocols::Result<void> render_directory_listing(const protocols::ServedTree& root,
                                                 const std::string& relative, std::string& out,
                                                 bool hide_dotfiles = false);

}  // namespace reactor::http
