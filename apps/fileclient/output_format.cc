#include "apps/fileclient/output_format.h"

#include <ctime>

#include "protocols/file/sha256.h"

namespace reactor::file::client {

std::string format_time(int64_t unix_seconds) {
  time_t seconds = static_cast<time_t>(unix_seconds);
  tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr) return std::to_string(unix_seconds);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

char kind_letter(EntryKind kind) {
  switch (kind) {
    case EntryKind::kFile:
      return '-';
    case EntryKind::kDirectory:
      return 'd';
    case EntryKind::kOther:
      return '?';
    case EntryKind::kUnfinishedUpload:
      return 'u';
  }
  return '?';
}

std::string_view kind_word(EntryKind kind) {
  switch (kind) {
    case EntryKind::kFile:
      return "file";
    case EntryKind::kDirectory:
      return "directory";
    case EntryKind::kOther:
      return "other";
    case EntryKind::kUnfinishedUpload:
      return "unfinished upload";
  }
  return "other";
}

std::string format_list_line(const ListEntry& entry) {
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "%c %12llu  ", kind_letter(entry.kind),
                static_cast<unsigned long long>(entry.size));
  return prefix + format_time(entry.mtime) + "  " + entry.name;
}

std::string format_stat(std::string_view path, const StatOk& stat) {
  std::string text;
  text += "path: " + std::string(path.empty() ? "/" : path) + "\n";
  text += "kind: " + std::string(kind_word(stat.kind)) + "\n";
  text += "size: " + std::to_string(stat.size) + "\n";
  text += "modified: " + format_time(stat.mtime) + "\n";
  if (stat.kind == EntryKind::kUnfinishedUpload || stat.upload_offset > 0) {
    text += "upload held: " + std::to_string(stat.upload_offset) + "\n";
  }
  return text;
}

std::string format_hash_line(const HashOk& hash) {
  return to_hex(hash.digest) + "  " + hash.path;
}

std::string last_component(std::string_view remote_path) {
  while (!remote_path.empty() && remote_path.back() == '/') remote_path.remove_suffix(1);
  size_t slash = remote_path.rfind('/');
  std::string_view name =
      slash == std::string_view::npos ? remote_path : remote_path.substr(slash + 1);
  if (name == "." || name == "..") return "";
  return std::string(name);
}

std::string join_remote(std::string_view directory, std::string_view name) {
  while (!directory.empty() && directory.back() == '/') directory.remove_suffix(1);
  if (directory.empty()) return std::string(name);
  return std::string(directory) + "/" + std::string(name);
}

}  // namespace reactor::file::client
