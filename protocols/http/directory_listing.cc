#include "protocols/http/directory_listing.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <memory>
#include <vector>

#include "protocols/http/html_escape.h"
#include "protocols/http/url_path.h"

namespace reactor::http {

namespace {

struct Entry {
  std::string name;
  bool directory = false;
  off_t size = 0;
  time_t modified = 0;
};

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

void append_time(std::string& out, time_t seconds) {
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &tm);
  out += text;
}

void append_number(std::string& out, unsigned long long value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

// Reads up to kMaxListingEntries + 1 entries (one more, to know whether the
// listing was cut short).
bool read_entries(const DocumentRoot& root, const std::string& relative,
                  std::vector<Entry>& entries) {
  DocumentRoot::OpenResult opened = root.open(relative);
  if (!opened.fd || !S_ISDIR(opened.info.st_mode)) return false;
  const int dir_fd = opened.fd.get();
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(opened.fd.release()));
  if (!dir) {
    ::close(dir_fd);
    return false;
  }
  while (entries.size() <= kMaxListingEntries) {
    const dirent* item = ::readdir(dir.get());
    if (item == nullptr) break;
    const std::string_view name = item->d_name;
    if (name == "." || name == "..") continue;

    struct stat info {};
    if (::fstatat(dir_fd, item->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISLNK(info.st_mode)) {
      // Follow it the way a request would, so a link that leads out of
      // the root is not even named here.
      std::string target = relative;
      if (!target.empty()) target += '/';
      target += name;
      DocumentRoot::OpenResult linked = root.open(target);
      if (!linked.fd) continue;
      info = linked.info;
    }
    if (!S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) continue;
    entries.push_back(
        Entry{std::string(name), S_ISDIR(info.st_mode), info.st_size, info.st_mtim.tv_sec});
  }
  return true;
}

}  // namespace

bool render_directory_listing(const DocumentRoot& root, const std::string& relative,
                              std::string& out) {
  std::vector<Entry> entries;
  if (!read_entries(root, relative, entries)) return false;
  const bool truncated = entries.size() > kMaxListingEntries;
  if (truncated) entries.resize(kMaxListingEntries);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.directory != b.directory) return a.directory;
    return a.name < b.name;
  });

  std::string title = "/" + relative;
  if (!relative.empty()) title += '/';

  out.reserve(out.size() + 600 + entries.size() * 160);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>Index of ";
  append_html_escaped(out, title);
  out +=
      "</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em}"
      "table{border-collapse:collapse}th,td{padding:.15em 1.2em .15em 0;text-align:left}"
      "td.size{text-align:right;font-variant-numeric:tabular-nums}</style>\n</head>\n<body>\n"
      "<h1>Index of ";
  append_html_escaped(out, title);
  out +=
      "</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th><th>Last modified (UTC)</th></tr>"
      "</thead>\n<tbody>\n";
  if (!relative.empty()) {
    out += "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td><td></td></tr>\n";
  }
  for (const Entry& entry : entries) {
    out += "<tr><td><a href=\"";
    append_encoded_segment(out, entry.name);
    if (entry.directory) out += '/';
    out += "\">";
    append_html_escaped(out, entry.name);
    if (entry.directory) out += '/';
    out += "</a></td><td class=\"size\">";
    if (entry.directory) {
      out += '-';
    } else {
      append_number(out, static_cast<unsigned long long>(entry.size));
    }
    out += "</td><td>";
    append_time(out, entry.modified);
    out += "</td></tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (truncated) {
    out += "<p>Only the first ";
    append_number(out, kMaxListingEntries);
    out += " entries are shown.</p>\n";
  }
  out += "</body>\n</html>\n";
  return true;
}

}  // namespace reactor::http
