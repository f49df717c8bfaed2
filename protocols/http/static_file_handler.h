// StaticFileHandler: turns a valid GET/HEAD request into a response for
// the file or directory it names under the document root.
//
//  - regular file: 200 with Content-Type/Length, Last-Modified, a strong
//    ETag and Accept-Ranges; 304/412 for conditional requests; 206 for one
//    range, multipart/byteranges for several; 416 when none is satisfiable.
//  - directory without a trailing slash: 301 to the slash form (query kept).
//  - directory: its index.html if there is one, else a listing (or 403
//    when listings are off).
//  - anything else (missing, outside the root, special file): 403/404.
//
// The handler never decides persistence or framing of the request; the
// caller passes that in the ResponseContext.
//
// Threading: loop thread only (it uses the loop's FileCache).
#pragma once

#include <cstdint>
#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/byte_range.h"
#include "protocols/http/file_cache.h"
#include "protocols/http/request.h"
#include "protocols/http/response_head.h"
#include "protocols/http/response_output.h"
#include "protocols/http/status.h"
#include "protocols/http/url_path.h"
#include "reactor/event_loop.h"

namespace reactor::http {

// What the access log needs to know about a response.
struct ResponseSummary {
  Status status = Status::kOk;
  uint64_t body_bytes = 0;  // 0 for HEAD and bodiless statuses
};

class StaticFileHandler {
 public:
  struct Options {
    bool directory_listing = true;
  };

  StaticFileHandler(const protocols::ServedTree& root, FileCache& cache, Options options);

  // Appends the complete response to `request` (method GET or HEAD) to `out`.
  ResponseSummary respond(const Request& request, const ResponseContext& context,
                          Clock::time_point now, ResponseOutput& out);

  // A complete error response for a request that was refused before
  // reaching the file system (parse errors, 405, 501, 503...).
  static ResponseSummary respond_error(Status status, const ResponseContext& context,
                                       ResponseOutput& out);

  // The multipart boundary (random per process; exposed for tests).
  const std::string& boundary() const { return boundary_; }

 private:
  ResponseSummary respond_open_error(std::error_code error, const ResponseContext& context,
                                     ResponseOutput& out);
  ResponseSummary serve_directory(const Request& request, const ResponseContext& context,
                                  Clock::time_point now, ResponseOutput& out);
  ResponseSummary redirect_to_directory(const Request& request, const ResponseContext& context,
                                        ResponseOutput& out);
  ResponseSummary serve_listing(const Request& request, const ResponseContext& context,
                                ResponseOutput& out);
  ResponseSummary serve_file(const Request& request, const ResponseContext& context,
                             const CachedFile& file, ResponseOutput& out);
  ResponseSummary serve_multipart(const ResponseContext& context, const CachedFile& file,
                                  const RangeSet& ranges, ResponseOutput& out);
  static void append_body(const CachedFile& file, uint64_t offset, uint64_t length,
                          ResponseOutput& out);

  const protocols::ServedTree& root_;
  FileCache& cache_;
  Options options_;
  std::string boundary_;
  // Reused between requests so the hot path does not allocate.
  DecodedPath path_;
  std::string scratch_;
};

}  // namespace reactor::http
