#include "protocols/http/entity_tag.h"

#include <cstdio>

#include "protocols/http/header_text.h"

namespace reactor::http {

std::string make_entity_tag(const struct stat& info) {
  const unsigned long long mtime_ns =
      static_cast<unsigned long long>(info.st_mtim.tv_sec) * 1000000000ull +
      static_cast<unsigned long long>(info.st_mtim.tv_nsec);
  char text[80];
  const int length = std::snprintf(text, sizeof text, "\"%llx-%llx-%llx\"",
                                   static_cast<unsigned long long>(info.st_ino),
                                   static_cast<unsigned long long>(info.st_size), mtime_ns);
  return std::string(text, static_cast<size_t>(length));
}

bool entity_tag_list_matches(std::string_view list, std::string_view current,
                             TagComparison comparison) {
  size_t i = 0;
  const auto skip_separators = [&] {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) ++i;
  };
  skip_separators();
  if (trim_ows(list.substr(i)) == "*") return true;
  while (i < list.size()) {
    bool weak = false;
    if (list.compare(i, 2, "W/") == 0) {
      weak = true;
      i += 2;
    }
    if (i >= list.size() || list[i] != '"') return false;
    const size_t close = list.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    const std::string_view tag = list.substr(i, close + 1 - i);  // with quotes
    i = close + 1;
    if (tag == current && (comparison == TagComparison::kWeak || !weak)) return true;
    skip_separators();
  }
  return false;
}

}  // namespace reactor::http
