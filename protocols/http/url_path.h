// The path part of a request target, turned into a file path relative to
// the document root -- and back into a URL for links and redirects.
//
// Decoding: %XX escapes are decoded first (so UTF-8 names, spaces and %2F
// all work, %2F acting as a separator), then the path is split on '/' and
// normalised like RFC 3986 remove_dot_segments: empty and "." segments
// vanish, ".." removes the previous segment and never climbs above the
// root. Whatever the input, the result is a relative path with no "."/".."
// segments and no leading '/'. It can still name a symlink that leads out
// of the root; the ServedTree (protocols/common) is what stops that.
//
// Threading: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/http/status.h"

namespace reactor::http {

struct DecodedPath {
  std::string relative;  // "" for the root, else "a/b/c" (reused between requests)
  // The URL named a directory form ("/a/b/", "/a/..") rather than "/a/b".
  bool trailing_slash = false;
  // A ".." segment was removed: a traversal attempt (browsers resolve them
  // before sending), which must not be mistaken for a client-side route.
  bool climbed = false;
};

// Decodes a still percent-encoded path that starts with '/' into `out`
// (a buffer reused between requests). Fails with 400 for a malformed
// escape or a NUL byte (which no file name can contain).
protocols::Result<void, Status> decode_request_path(std::string_view encoded, DecodedPath& out);

// Appends `segment` percent-encoded so that it is one path segment of a
// URL: every byte except RFC 3986 unreserved characters is escaped, so the
// result is also safe inside an HTML attribute and an HTTP header.
void append_encoded_segment(std::string& out, std::string_view segment);

// Appends "/" + the encoded segments of `relative` (+ "/" if requested).
void append_encoded_path(std::string& out, std::string_view relative, bool trailing_slash);

}  // namespace reactor::http
