// How reactor-fileclient prints answers: one `ls` line per entry, `stat`
// as "key: value" lines, `hash` in sha256sum's format, or (--json) one JSON
// object per line. Stable, so scripts can parse them.
//
// Every string that comes from the server (names, paths, error messages,
// the server's name) goes through escape_text() before it reaches the
// terminal: a file named "\x1b]0;pwned\x07" must not retitle the window,
// and a name with a newline must not look like two entries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/file/escaped_text.h"
#include "protocols/file/messages.h"

namespace reactor::file::client {

// escape_text() (protocols/file/escaped_text.h) makes what the server sent
// safe to print; the server uses the same for its log.
using reactor::file::escape_text;

// "2024-05-01T12:00:00Z" (UTC, ISO 8601).
std::string format_time(int64_t unix_seconds);

// "-" file, "d" directory, "?" other, "u" unfinished upload.
char kind_letter(EntryKind kind);
// "file", "directory", "other", "unfinished upload".
std::string_view kind_word(EntryKind kind);

// "d            0  2024-05-01T12:00:00Z  name": kind, size right-aligned
// in 12 columns, mtime, then the name last (it may contain spaces).
std::string format_list_line(const ListEntry& entry);

// path/kind/size/modified lines, plus the unfinished upload if any.
std::string format_stat(std::string_view path, const StatOk& stat);

// "<64 hex digits>  <path>", as sha256sum prints it; like sha256sum, a
// line whose path had to be escaped starts with a backslash.
std::string format_hash_line(const HashOk& hash);

// --json: one object per line, no newline at the end. Non-ASCII is
// written as \uXXXX escapes, so the line is safe on any terminal; a name
// that is not valid UTF-8 cannot be a JSON string as is, so "name"/"path"
// then holds it with U+FFFD for each bad byte and "name_hex"/"path_hex"
// holds the exact bytes in hex.
//   {"name":"a.txt","kind":"file","size":11,"mtime":1700000000,"modified":"2023-11-14T22:13:20Z"}
std::string format_list_json(const ListEntry& entry);
//   {"path":"a.txt","kind":"file","size":11,"mtime":...,"modified":"...","upload_held":0}
std::string format_stat_json(std::string_view path, const StatOk& stat);
//   {"path":"a.txt","sha256":"<64 hex digits>"}
std::string format_hash_json(const HashOk& hash);

// The last component of a remote path ("a/b/c.txt" -> "c.txt"), ignoring
// trailing slashes; "" if there is none.
std::string last_component(std::string_view remote_path);

// `directory` + "/" + `name`, without doubling slashes; just `name` when
// the directory is empty.
std::string join_remote(std::string_view directory, std::string_view name);

}  // namespace reactor::file::client
