// Small text helpers for header values: case-insensitive comparison and
// iteration over comma-separated lists (RFC 9110 section 5.6.1).
//
// Threading: pure functions; any thread.
#pragma once

#include <string_view>

namespace reactor::http {

constexpr char to_lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// ASCII case-insensitive equality; `lower` must already be lower case.
constexpr bool equals_lower(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (to_lower_ascii(text[i]) != lower[i]) return false;
  }
  return true;
}

// Strips spaces and tabs from both ends.
constexpr std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Calls visit(element) for each non-empty element of a comma-separated
// list, trimmed. Stops early when visit returns true; returns whether it did.
template <typename Visit>
constexpr bool for_each_list_element(std::string_view list, Visit&& visit) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && visit(element)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace reactor::http
