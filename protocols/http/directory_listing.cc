#include "protocols/http/directory_listing.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <vector>

#include <nlohmann/json.hpp>

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

using SortKey = ListingQuery::SortKey;

void sort_entries(std::vector<protocols::TreeEntry>& entries, const ListingQuery& query) {
  // The tree lists by byte-wise name; other keys keep that order for ties.
  auto key_less = [&query](const protocols::TreeEntry& a, const protocols::TreeEntry& b) {
    if (query.sort == SortKey::kSize) return a.info.st_size < b.info.st_size;
    if (a.info.st_mtim.tv_sec != b.info.st_mtim.tv_sec) {
      return a.info.st_mtim.tv_sec < b.info.st_mtim.tv_sec;
    }
    return a.info.st_mtim.tv_nsec < b.info.st_mtim.tv_nsec;
  };
  if (query.sort != SortKey::kName) {
    std::stable_sort(entries.begin(), entries.end(),
                     [&](const auto& a, const auto& b) { return key_less(a, b); });
  }
  if (query.descending) std::reverse(entries.begin(), entries.end());
  // Directories first, whatever the key.
  std::stable_partition(entries.begin(), entries.end(), [](const protocols::TreeEntry& entry) {
    return S_ISDIR(entry.info.st_mode);
  });
}

// A column header: a link that sorts by `key`, reversing the order when
// the listing is already sorted by it ascending.
void append_sort_header(std::string& out, const ListingQuery& query, SortKey key,
                        std::string_view key_name, std::string_view label,
                        std::string_view css_class) {
  const bool current = query.sort == key;
  out += "<th class=\"";
  out += css_class;
  out += "\"><a href=\"?sort=";
  out += key_name;
  if (current && !query.descending) out += "&amp;order=desc";
  out += "\">";
  out += label;
  if (current) out += query.descending ? " &#9660;" : " &#9650;";
  out += "</a></th>";
}

void render_json(const std::string& title, const std::vector<protocols::TreeEntry>& entries,
                 bool truncated, std::string& out) {
  nlohmann::json document;
  document["path"] = title;
  document["truncated"] = truncated;
  nlohmann::json& list = document["entries"] = nlohmann::json::array();
  for (const protocols::TreeEntry& entry : entries) {
    const bool directory = S_ISDIR(entry.info.st_mode);
    list.push_back({{"name", entry.name},
                    {"type", directory ? "directory" : "file"},
                    {"size", directory ? 0 : static_cast<uint64_t>(entry.info.st_size)},
                    {"mtime", static_cast<int64_t>(entry.info.st_mtim.tv_sec)}});
  }
  // Names are bytes, not always UTF-8: replace what JSON cannot carry
  // instead of throwing.
  out += document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += '\n';
}

}  // namespace

ListingQuery ListingQuery::parse(std::string_view query, std::string_view accept) {
  ListingQuery result;
  bool format_given = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = pair.substr(0, equals);
    const std::string_view value = pair.substr(equals + 1);
    if (name == "sort") {
      if (value == "name") result.sort = SortKey::kName;
      if (value == "size") result.sort = SortKey::kSize;
      if (value == "date") result.sort = SortKey::kDate;
    } else if (name == "order") {
      if (value == "asc") result.descending = false;
      if (value == "desc") result.descending = true;
    } else if (name == "format" && (value == "json" || value == "html")) {
      result.json = value == "json";
      format_given = true;
    }
  }
  if (!format_given) {
    // Content negotiation, kept simple: JSON when the client names it
    // before (or without) HTML. A browser's Accept names text/html first.
    const size_t json = accept.find("application/json");
    const size_t html = accept.find("text/html");
    if (json != std::string_view::npos && (html == std::string_view::npos || json < html)) {
      result.json = true;
    }
  }
  return result;
}

void append_human_size(std::string& out, uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    append_number(out, bytes);
    out += " B";
    return;
  }
  // Tenths of the unit, rounded, so 1535 bytes is "1.5 KiB".
  size_t unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  const auto tenths = static_cast<uint64_t>(value * 10 + 0.5);
  if (tenths < 100) {
    append_number(out, tenths / 10);
    out += '.';
    append_number(out, tenths % 10);
  } else {
    append_number(out, (tenths + 5) / 10);
  }
  out += ' ';
  out += kUnits[unit];
}

protocols::Result<void> render_directory_listing(const protocols::ServedTree& root,
                                                 const std::string& relative,
                                                 const ListingQuery& query, std::string& out,
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
  sort_entries(entries, query);

  std::string title = "/" + relative;
  if (!relative.empty()) title += '/';
  if (query.json) {
    render_json(title, entries, truncated, out);
    return {};
  }

  out.reserve(out.size() + 1200 + entries.size() * 200);
  out +=
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width\">\n<title>Index of ";
  append_html_escaped(out, title);
  // A fixed layout: the size and date columns have their width, the name
  // column takes the rest and long names wrap inside it, so no name can
  // push the other columns off the screen. Cells carry no classes (CSS
  // selects them by position): a listing at the cap has 10,000 rows.
  out +=
      "</title>\n<style>body{font-family:system-ui,sans-serif;margin:2em}"
      "table{border-collapse:collapse;width:100%;table-layout:fixed}"
      "th,td{padding:.15em 1.2em .15em 0;text-align:left;vertical-align:top}"
      "td:first-child{overflow-wrap:anywhere}"
      "th.size{width:6.5em}th.date{width:11em}td+td{white-space:nowrap}"
      "td:nth-child(2),th.size{text-align:right;font-variant-numeric:tabular-nums}"
      "th a{color:inherit}</style>\n</head>\n<body>\n"
      "<h1>Index of ";
  append_html_escaped(out, title);
  out += "</h1>\n<table>\n<thead><tr>";
  append_sort_header(out, query, SortKey::kName, "name", "Name", "name");
  append_sort_header(out, query, SortKey::kSize, "size", "Size", "size");
  append_sort_header(out, query, SortKey::kDate, "date", "Last modified (UTC)", "date");
  out += "</tr></thead>\n<tbody>\n";
  if (!relative.empty()) {
    out += "<tr><td><a href=\"../\">../</a></td><td>-</td><td></td></tr>\n";
  }
  for (const protocols::TreeEntry& entry : entries) {
    const bool directory = S_ISDIR(entry.info.st_mode);
    out += "<tr><td><a href=\"";
    append_encoded_segment(out, entry.name);
    if (directory) out += '/';
    out += "\">";
    append_html_escaped(out, entry.name);
    if (directory) out += '/';
    out += "</a></td>";
    if (directory) {
      out += "<td>-</td>";
    } else {
      const auto size = static_cast<uint64_t>(entry.info.st_size);
      out += "<td title=\"";
      append_number(out, size);
      out += " bytes\">";
      append_human_size(out, size);
      out += "</td>";
    }
    out += "<td>";
    append_time(out, entry.info.st_mtim.tv_sec);
    out += "</td></tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (truncated) {
    out += "<p>Only the first ";
    append_number(out, kMaxListingEntries);
    out +=
        " entries (by name) are shown, sorted as asked; the directory holds more. "
        "Fetch files by name, or list them with reactor-fileclient.</p>\n";
  }
  out += "</body>\n</html>\n";
  return {};
}

}  // namespace reactor::http
