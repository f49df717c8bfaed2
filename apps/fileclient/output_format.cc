#include "apps/fileclient/output_format.h"

#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "protocols/file/escaped_text.h"
#include "protocols/file/request_path.h"
#include "protocols/file/sha256.h"

namespace reactor::file::client {
namespace {

// A JSON string field for text that may not be UTF-8.
void set_text_field(nlohmann::ordered_json& object, const std::string& key, std::string_view text) {
  if (is_valid_utf8(text)) {
    object[key] = std::string(text);
    return;
  }
  std::string lossy;
  std::string hex;
  static constexpr char kHexDigits[] = "0123456789abcdef";
  for (unsigned char c : text) {
    hex += kHexDigits[c >> 4];
    hex += kHexDigits[c & 15];
  }
  while (!text.empty()) {
    auto [code, length] = decode_utf8(text);
    if (length == 0) {
      lossy += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      lossy += text.substr(0, length);
      text.remove_prefix(length);
    }
  }
  object[key] = lossy;
  object[key + "_hex"] = hex;
}

std::string dump_line(const nlohmann::ordered_json& object) {
  // ensure_ascii: every non-ASCII character as \uXXXX, so no byte of the
  // line can be a terminal control (UTF-8 C1 controls included).
  return object.dump(-1, ' ', true);
}

}  // namespace

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
  return prefix + format_time(entry.mtime) + "  " + escape_text(entry.name);
}

std::string format_stat(std::string_view path, const StatOk& stat) {
  std::string text;
  text += "path: " + escape_text(path.empty() ? "/" : path) + "\n";
  text += "kind: " + std::string(kind_word(stat.kind)) + "\n";
  text += "size: " + std::to_string(stat.size) + "\n";
  text += "modified: " + format_time(stat.mtime) + "\n";
  if (stat.kind == EntryKind::kUnfinishedUpload || stat.upload_offset > 0) {
    text += "upload held: " + std::to_string(stat.upload_offset) + "\n";
  }
  return text;
}

std::string format_hash_line(const HashOk& hash) {
  std::string path = escape_text(hash.path);
  std::string line = to_hex(hash.digest) + "  " + path;
  return path == hash.path ? line : "\\" + line;
}

std::string format_list_json(const ListEntry& entry) {
  nlohmann::ordered_json object;
  set_text_field(object, "name", entry.name);
  object["kind"] = std::string(kind_word(entry.kind));
  object["size"] = entry.size;
  object["mtime"] = entry.mtime;
  object["modified"] = format_time(entry.mtime);
  return dump_line(object);
}

std::string format_stat_json(std::string_view path, const StatOk& stat) {
  nlohmann::ordered_json object;
  set_text_field(object, "path", path);
  object["kind"] = std::string(kind_word(stat.kind));
  object["size"] = stat.size;
  object["mtime"] = stat.mtime;
  object["modified"] = format_time(stat.mtime);
  object["upload_held"] = stat.upload_offset;
  return dump_line(object);
}

std::string format_hash_json(const HashOk& hash) {
  nlohmann::ordered_json object;
  set_text_field(object, "path", hash.path);
  object["sha256"] = to_hex(hash.digest);
  return dump_line(object);
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
