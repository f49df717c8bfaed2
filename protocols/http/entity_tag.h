// Entity tags (RFC 9110 section 8.8.3): making a strong validator for a
// file and matching tag lists such as If-None-Match: W/"a", "b".
//
// Threading: pure functions; any thread.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

namespace reactor::http {

// "\"<inode>-<size>-<mtime in ns>\"" in hex. Strong: any change of the
// file's identity, length or modification time gives a different tag, and
// files are only served whole-file-consistent through these three.
std::string make_entity_tag(const struct stat& info);

enum class TagComparison { kStrong, kWeak };

// True if the field value `list` ("*" or a comma-separated list of
// entity-tags) contains a tag matching `current` (which must be a strong
// tag, quotes included). "*" matches any current representation. A
// malformed list matches nothing from the point where it goes wrong.
bool entity_tag_list_matches(std::string_view list, std::string_view current,
                             TagComparison comparison);

}  // namespace reactor::http
