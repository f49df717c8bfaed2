#include "protocols/http/preconditions.h"

#include <optional>

#include "protocols/http/entity_tag.h"
#include "protocols/http/header_text.h"
#include "protocols/http/http_date.h"

namespace reactor::http {

namespace {

enum class Conditional : uint8_t { kIfMatch, kIfNoneMatch, kIfUnmodifiedSince, kOther };

Conditional classify(std::string_view name) {
  if (name.size() < 8 || to_lower_ascii(name[0]) != 'i' || to_lower_ascii(name[1]) != 'f') {
    return Conditional::kOther;
  }
  if (equals_lower(name, "if-match")) return Conditional::kIfMatch;
  if (equals_lower(name, "if-none-match")) return Conditional::kIfNoneMatch;
  if (equals_lower(name, "if-unmodified-since")) return Conditional::kIfUnmodifiedSince;
  return Conditional::kOther;
}

}  // namespace

Precondition evaluate_preconditions(const Request& request, const Validators& validators) {
  bool has_if_match = false;
  bool if_match_satisfied = false;
  bool has_if_none_match = false;
  bool if_none_match_matched = false;
  std::string_view if_unmodified_since;
  for (const HeaderField& field : request.fields) {
    switch (classify(field.name)) {
      case Conditional::kIfMatch:
        has_if_match = true;
        if (entity_tag_list_matches(field.value, validators.entity_tag, TagComparison::kStrong)) {
          if_match_satisfied = true;
        }
        break;
      case Conditional::kIfNoneMatch:
        has_if_none_match = true;
        if (entity_tag_list_matches(field.value, validators.entity_tag, TagComparison::kWeak)) {
          if_none_match_matched = true;
        }
        break;
      case Conditional::kIfUnmodifiedSince:
        if (if_unmodified_since.empty()) if_unmodified_since = field.value;
        break;
      case Conditional::kOther:
        break;
    }
  }

  // Step 1/2: the state-changing preconditions, which a GET may carry too.
  if (has_if_match) {
    if (!if_match_satisfied) return Precondition::kFailed;
  } else if (!if_unmodified_since.empty()) {
    const std::optional<time_t> since = parse_http_date(if_unmodified_since);
    if (since && validators.last_modified > *since) return Precondition::kFailed;
  }
  // Step 3/4: cache validation. If-Modified-Since only counts without
  // If-None-Match, which is the more precise of the two.
  if (has_if_none_match) {
    return if_none_match_matched ? Precondition::kNotModified : Precondition::kProceed;
  }
  if (!request.if_modified_since.empty()) {
    const std::optional<time_t> since = parse_http_date(request.if_modified_since);
    if (since && validators.last_modified <= *since) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

bool if_range_permits(std::string_view if_range, const Validators& validators) {
  if_range = trim_ows(if_range);
  if (if_range.empty()) return true;
  if (if_range.front() == '"' || if_range.starts_with("W/")) {
    // Strong comparison against exactly one tag; a weak tag never matches.
    return if_range == validators.entity_tag;
  }
  const std::optional<time_t> date = parse_http_date(if_range);
  return date && *date == validators.last_modified;
}

}  // namespace reactor::http
