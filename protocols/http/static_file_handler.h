// StaticFileHandler: turns a valid GET/HEAD request into a response for
// the file or directory it names under the document root.
//
//  - regular file: 200 with Content-Type/Length, Last-Modified, a strong
//    ETag and Accept-Ranges; 304/412 for conditional requests; 206 for one
//    range, multipart/byteranges for several; 416 when none is satisfiable.
//  - with `precompressed`: FILE.br or FILE.gz instead of FILE when the
//    client's Accept-Encoding prefers it, the sibling is a regular file in
//    the tree and not older than FILE. Same Content-Type, its own ETag,
//    ranges over the compressed bytes, Vary: Accept-Encoding whenever a
//    sibling exists; 406 when the client refuses identity and no sibling
//    it takes exists.
//  - directory without a trailing slash: 301 to the slash form (query kept).
//  - directory: its index.html or else index.htm if there is one, else a
//    listing (or 403 when listings are off).
//  - anything else (missing, outside the root, special file): 403/404.
//  - with a `fallback` file: that file, 200, instead of 404 for a path that
//    does not exist (ENOENT, so not a symlink out of the root, not a
//    reserved or special file) and whose last segment has no '.', unless
//    the URL held a ".." segment. "/app/users/42" and "/app/" get it;
//    "/app.js", "/img/logo.png" and "/v1.2/x" ... are 404 ("v1.2" is not the
//    last segment, so "/v1.2/x" does get it; "/x/v1.2" does not).
//  - with `auth`: 401 with WWW-Authenticate before anything else unless
//    the request carries valid Basic credentials.
//  - Cache-Control on files (200/206/304) and listings, by Options.
//  - OPTIONS with `cors`: 204 with Allow, and for a preflight (Origin and
//    Access-Control-Request-Method) the Access-Control-Allow-* fields.
//
// The handler never decides persistence or framing of the request; the
// caller passes that in the ResponseContext.
//
// Threading: loop thread only (it uses the loop's FileCache).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "protocols/common/served_tree.h"
#include "protocols/http/basic_auth.h"
#include "protocols/http/byte_range.h"
#include "protocols/http/content_coding.h"
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

// True if a component of `relative` (a decoded path below the root)
// starts with '.', other than a leading ".well-known" (ACME, security.txt):
// what --dotfiles deny hides.
bool names_dotfile(std::string_view relative);

class StaticFileHandler {
 public:
  struct Options {
    bool directory_listing = true;
    bool precompressed = false;
    // Answer OPTIONS (CORS preflight included) with 204 instead of 405.
    bool cors = false;
    // Cache-Control for files and listings; nullopt: kDefaultCacheControl
    // for everything but HTML and listings, which revalidate (no-cache).
    // "" sends none.
    std::optional<std::string> cache_control{};
    // Relative path of the SPA fallback file, "" for none.
    std::string fallback{};
    // Basic authentication for every request served here (not the
    // preflight, which browsers send without credentials). Null: none.
    BasicAuth* auth = nullptr;
    // 404 for a path with a component starting with '.', except a first
    // one of ".well-known"; such names are left out of listings too.
    bool hide_dotfiles = true;
  };

  // Without HTML, nothing refers to an asset by a fixed name for long, and
  // the HTML revalidates on every use: five minutes of staleness at most
  // after a deploy, instead of a browser's heuristic (a tenth of the
  // file's age: days for an old file), and no revalidation in between.
  static constexpr std::string_view kDefaultCacheControl = "max-age=300";

  StaticFileHandler(const protocols::ServedTree& root, FileCache& cache, Options options);

  // Appends the complete response to `request` (method GET or HEAD) to `out`.
  ResponseSummary respond(const Request& request, const ResponseContext& context,
                          Clock::time_point now, ResponseOutput& out);

  // A complete error response for a request that was refused before
  // reaching the file system (parse errors, 405, 501, 503...).
  static ResponseSummary respond_error(Status status, const ResponseContext& context,
                                       ResponseOutput& out);

  // The answer to a request analyze_request() refused with `status`: the
  // error page, or for OPTIONS with `cors` the 204 a preflight expects.
  ResponseSummary respond_refused(Status status, const Request& request,
                                  const ResponseContext& context, ResponseOutput& out);

  // The multipart boundary (random per process; exposed for tests).
  const std::string& boundary() const { return boundary_; }

 private:
  // The fallback file applies to the current path_ (see the class comment).
  bool wants_fallback(std::error_code error) const;
  ResponseSummary respond_open_error(std::error_code error, const ResponseContext& context,
                                     ResponseOutput& out);
  ResponseSummary serve_directory(const Request& request, const ResponseContext& context,
                                  Clock::time_point now, ResponseOutput& out);
  ResponseSummary redirect_to_directory(const Request& request, const ResponseContext& context,
                                        ResponseOutput& out);
  ResponseSummary serve_listing(const Request& request, const ResponseContext& context,
                                ResponseOutput& out);
  // What is sent for a file: its own bytes or a precompressed sibling's.
  struct Representation {
    std::shared_ptr<const CachedFile> sibling;  // keeps `body` alive when it is one
    const CachedFile* body = nullptr;
    std::string_view content_type;  // the original file's
    std::string_view entity_tag;
    Coding coding = Coding::kIdentity;
    bool vary = false;  // a sibling exists: the answer depends on Accept-Encoding
  };

  ResponseSummary serve_file(const Request& request, const ResponseContext& context,
                             const std::string& relative, const CachedFile& file,
                             Clock::time_point now, ResponseOutput& out);
  ResponseSummary serve_multipart(const ResponseContext& context, const Representation& chosen,
                                  const RangeSet& ranges, ResponseOutput& out);
  // False when the client accepts none of what exists (406).
  bool choose_representation(const Request& request, const std::string& relative,
                             const CachedFile& file, Clock::time_point now, Representation& chosen);
  std::shared_ptr<const CachedFile> find_sibling(const std::string& relative,
                                                 std::string_view suffix,
                                                 const CachedFile& original, Clock::time_point now);
  ResponseSummary respond_options(const Request& request, const ResponseContext& context,
                                  ResponseOutput& out);
  // The Cache-Control value for a response of this type ("": none).
  std::string_view cache_control_for(std::string_view content_type) const;
  void append_representation_fields(std::string& out, const Representation& chosen) const;
  static void append_body(const CachedFile& file, uint64_t offset, uint64_t length,
                          ResponseOutput& out);

  const protocols::ServedTree& root_;
  FileCache& cache_;
  Options options_;
  std::string boundary_;
  // Reused between requests so the hot path does not allocate.
  DecodedPath path_;
  std::string scratch_;
  std::string sibling_path_;
  std::string sibling_tag_;
};

}  // namespace reactor::http
