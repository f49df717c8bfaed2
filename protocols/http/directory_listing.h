// Directory listings: the HTML page (or JSON document) shown for a
// directory without an index.html.
//
// Entries are sorted directories first, then by byte-wise name -- or by
// size or modification time with ?sort=size|date (&order=desc reverses;
// the column headers are links that do this, no JavaScript). Names are
// HTML-escaped, links are percent-encoded relative references, and each
// row shows the size in human units (exact bytes in the tooltip) and the
// modification time (UTC). Long names wrap inside their column (CSS), so
// the size and date columns stay on screen. ?format=json, or an Accept
// field that names application/json before text/html, gives the same
// entries as JSON (name, type, size, mtime in Unix seconds). Which entries appear is
// the served tree's policy (ServedTree::list): symlinks only if they
// resolve inside the root, never the reserved entry; special files (FIFOs,
// sockets, devices) are left out here since they are never served. At
// most kMaxListingEntries rows are produced, with a note when there are
// more, so a huge directory cannot make one request do unbounded work.
//
// Threading: any thread; reads the file system (blocking, like open()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/common/served_tree.h"

namespace reactor::http {

inline constexpr size_t kMaxListingEntries = protocols::kDefaultMaxListingEntries;

// How a listing was asked for: from the query (?sort=name|size|date,
// &order=asc|desc, &format=html|json) and the Accept field. Unknown values
// are ignored (the defaults: by name, ascending, HTML).
struct ListingQuery {
  enum class SortKey { kName, kSize, kDate };
  SortKey sort = SortKey::kName;
  bool descending = false;
  bool json = false;

  static ListingQuery parse(std::string_view query, std::string_view accept);
};

// Appends the listing of the directory `relative` ("" for the root, else
// "a/b" without slashes at either end) to `out`. Fails, appending nothing,
// if the directory cannot be read (the caller answers 403 or 404).
// With `hide_dotfiles`, names starting with '.' are left out (but
// ".well-known" in the root), as they are not served either.
protocols::Result<void> render_directory_listing(const protocols::ServedTree& root,
                                                 const std::string& relative,
                                                 const ListingQuery& query, std::string& out,
                                                 bool hide_dotfiles = false);

// "512 B", "1.5 KiB", "23 MiB": one decimal below ten units, none above.
void append_human_size(std::string& out, uint64_t bytes);

}  // namespace reactor::http
