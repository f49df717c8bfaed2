// Range requests (RFC 9110 section 14): parsing a Range header against the
// size of the selected file.
//
// Work is bounded whatever the client sends (the Apache "Range DoS"): at
// most kMaxRanges ranges are accepted, and a set that overlaps or is out
// of order is answered with the whole file instead of many parts, which
// RFC 9110 section 14.2 explicitly permits.
//
// Threading: pure function; any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace reactor::http {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive, as in Content-Range
  uint64_t length() const { return last - first + 1; }
};

struct RangeSet {
  static constexpr size_t kMaxRanges = 16;

  enum class Outcome : uint8_t {
    kFullFile,       // no usable Range: answer 200 with the whole file
    kSatisfiable,    // answer 206 with `ranges` (one part, or multipart)
    kUnsatisfiable,  // answer 416 with "Content-Range: bytes */SIZE"
  };

  Outcome outcome = Outcome::kFullFile;
  size_t count = 0;
  std::array<ByteRange, kMaxRanges> ranges{};
};

// Interprets `header` (the Range field value) for a file of `file_size`
// bytes. Syntax errors and units other than "bytes" mean kFullFile.
RangeSet parse_range(std::string_view header, uint64_t file_size);

}  // namespace reactor::http
