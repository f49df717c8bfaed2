#include "protocols/http/directory_listing.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <vector>

#include "protocols/http/html_escape.h"
#include "protocols/http/url_path.h"

namespace reactor::http {

namespace {

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

}  // namespace

protocols::Result<void> render_directory_listing(const protocols::ServedTree& root,
                                                 const std::string& relative, std::string& out,
                                                 bool hide_dotfiles) {
  protocols::ListingOptions options;
  options.max_entries = kMaxListingEntries;
  options.include_special = false;  // never served, so not offered
  options.truncate = true;
  protocols::Result<protocols::Listing> listing = root.list(relative, options);
  if (!listing) return listing.error();
  std::vector<protocols::TreeEntry>& entries = listing->entries;
  const bool truncated = listing->truncated;
  if (hide_dotfiles) {
    std::erase_if(entries, [&relative](const protocols::TreeEntry& entry) {
      return entry.name.starts_with('.') && !(relative.empty() && entry.name == ".well-known");
    });
  }
  // Directories first; the tree already sorted by byte-wise name.
  std::stable_partition(entries.begin(), entries.end(), [](const protocols::TreeEntry& entry) {
    return S_ISDIR(entry.info.st_mode);
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
  for (const protocols::TreeEntry& entry : entries) {
    const bool directory = S_ISDIR(entry.info.st_mode);
    out += "<tr><td><a href=\"";
    append_encoded_segment(out, entry.name);
    if (directory) out += '/';
    out += "\">";
    append_html_escaped(out, entry.name);
    if (directory) out += '/';
    out += "</a></td><td class=\"size\">";
    if (directory) {
      out += '-';
    } else {
      append_number(out, static_cast<unsigned long long>(entry.info.st_size));
    }
    out += "</td><td>";
    append_time(out, entry.info.st_mtim.tv_sec);
    out += "</td></tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (truncated) {
    out += "<p>Only the first ";
    append_number(out, kMaxListingEntries);
    out += " entries are shown.</p>\n";
  }
  out += "</body>\n</html>\n";
  return {};
}

}  // namespace reactor::http
