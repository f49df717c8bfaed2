// Directory listings: the HTML page shown for a directory without an
// index.html.
//
// Entries are sorted (directories first, then by byte-wise name), names
// are HTML-escaped, links are percent-encoded relative references, and each
// row shows the size and modification time (UTC). Symlinks are listed only
// if they resolve inside the document root (checked through DocumentRoot,
// like any request would be); special files (FIFOs, sockets, devices) are
// not listed since they are never served. At most kMaxEntries rows are
// produced, so a huge directory cannot make one request do unbounded work.
//
// Threading: any thread; reads the file system (blocking, like open()).
#pragma once

#include <cstddef>
#include <string>

#include "protocols/http/document_root.h"

namespace reactor::http {

inline constexpr size_t kMaxListingEntries = 10000;

// Appends the listing page of the directory `relative` ("" for the root,
// else "a/b" without slashes at either end) to `out`. Returns false if the
// directory cannot be read (the caller answers 403 or 404).
bool render_directory_listing(const DocumentRoot& root, const std::string& relative,
                              std::string& out);

}  // namespace reactor::http
