#include "protocols/http/byte_range.h"

#include "protocols/http/char_class.h"
#include "protocols/http/header_text.h"

namespace reactor::http {

namespace {

// Larger than any file; keeps arithmetic on huge positions overflow-free.
constexpr uint64_t kHuge = uint64_t{1} << 62;

// 1*DIGIT, saturating at kHuge. Returns false if `text` is not all digits.
bool parse_position(std::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  value = 0;
  for (char c : text) {
    if (!is_digit(static_cast<unsigned char>(c))) return false;
    if (value < kHuge) value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > kHuge) value = kHuge;
  return true;
}

}  // namespace

RangeSet parse_range(std::string_view header, uint64_t file_size) {
  RangeSet result;
  RangeSet full;  // the kFullFile answer
  header = trim_ows(header);
  const size_t equals = header.find('=');
  if (equals == std::string_view::npos ||
      !equals_lower(trim_ows(header.substr(0, equals)), "bytes")) {
    return full;
  }
  std::string_view specs = header.substr(equals + 1);

  size_t parsed = 0;
  bool syntax_error = false;
  bool too_many = false;
  bool saw_any = false;
  for_each_list_element(specs, [&](std::string_view spec) {
    saw_any = true;
    if (++parsed > RangeSet::kMaxRanges) {
      too_many = true;
      return true;
    }
    const size_t dash = spec.find('-');
    if (dash == std::string_view::npos) {
      syntax_error = true;
      return true;
    }
    const std::string_view first_text = spec.substr(0, dash);
    const std::string_view last_text = spec.substr(dash + 1);
    ByteRange range;
    if (first_text.empty()) {
      // "-N": the final N bytes.
      uint64_t suffix = 0;
      if (!parse_position(last_text, suffix)) {
        syntax_error = true;
        return true;
      }
      if (suffix == 0 || file_size == 0) return false;  // unsatisfiable, keep looking
      range.first = suffix >= file_size ? 0 : file_size - suffix;
      range.last = file_size - 1;
    } else {
      uint64_t first = 0;
      if (!parse_position(first_text, first)) {
        syntax_error = true;
        return true;
      }
      uint64_t last = kHuge;
      if (!last_text.empty()) {
        if (!parse_position(last_text, last) || last < first) {
          syntax_error = true;
          return true;
        }
      }
      if (first >= file_size) return false;  // unsatisfiable, keep looking
      range.first = first;
      range.last = last >= file_size ? file_size - 1 : last;
    }
    result.ranges[result.count++] = range;
    return false;
  });

  if (syntax_error || too_many || !saw_any) return full;
  if (result.count == 0) {
    result.outcome = RangeSet::Outcome::kUnsatisfiable;
    return result;
  }
  for (size_t i = 1; i < result.count; ++i) {
    if (result.ranges[i].first <= result.ranges[i - 1].last) return full;
  }
  result.outcome = RangeSet::Outcome::kSatisfiable;
  return result;
}

}  // namespace reactor::http
