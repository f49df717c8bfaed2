// Lexical checks of the paths clients send, before the file system is
// touched: the RFTP rules for relative UTF-8 paths, "." and "..", and the
// length limits. What the file system then says (symlinks, permissions)
// is the served tree's business (served_paths.h).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/file/protocol.h"

namespace reactor::file {

// A request path with "", "." and ".." resolved: components only, each a
// valid file name. No components means the served root itself.
struct RequestPath {
  std::vector<std::string> components;

  bool is_root() const { return components.empty(); }
  // "a/b/c"; "" for the root.
  std::string joined() const;
  // "a/b" for "a/b/c"; the root for a single component.
  RequestPath parent() const;
  // The last component ("" for the root).
  const std::string& name() const;
};

// Applies the protocol's path rules:
//  - longer than kMaxPathBytes                          -> kTooLarge
//  - absolute, NUL byte or invalid UTF-8                -> kForbidden
//  - ".." climbing above the root (existing or not)     -> kForbidden
//  - a component longer than kMaxNameBytes              -> kTooLarge
// Empty and "." components are ignored.
Outcome<RequestPath> parse_request_path(std::string_view raw);

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);
// The UTF-8 sequence at the start of `text` under the same rules: its code
// point and length, or a length of 0 if it is not a well-formed sequence.
// The one decoder of protocols/file (paths, log and terminal escaping).
std::pair<char32_t, size_t> decode_utf8(std::string_view text);

}  // namespace reactor::file
