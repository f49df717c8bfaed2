// How reactor-fileclient prints answers: one `ls` line per entry, `stat`
// as "key: value" lines, `hash` in sha256sum's format. Stable, so scripts
// can parse them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/file/messages.h"

namespace reactor::file::client {

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

// "<64 hex digits>  <path>", as sha256sum prints it.
std::string format_hash_line(const HashOk& hash);

// The last component of a remote path ("a/b/c.txt" -> "c.txt"), ignoring
// trailing slashes; "" if there is none.
std::string last_component(std::string_view remote_path);

// `directory` + "/" + `name`, without doubling slashes; just `name` when
// the directory is empty.
std::string join_remote(std::string_view directory, std::string_view name);

}  // namespace reactor::file::client
