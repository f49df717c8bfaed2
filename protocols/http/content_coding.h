// Content codings a client accepts (Accept-Encoding, RFC 9110 section
// 12.5.3), for choosing between a file and its precompressed siblings.
//
// Only the codings the server can send are tracked: br, gzip (and its
// alias x-gzip) and identity. Weights are kept in thousandths, as the
// grammar allows three decimals.
//
// Threading: pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "protocols/http/request_parser.h"

namespace reactor::http {

struct AcceptedCodings {
  // 0 (not acceptable) to 1000. Identity is acceptable unless refused by
  // "identity;q=0" or by "*;q=0" with no entry of its own; unnamed, it
  // ranks below every coding the client named (weight 1), since a client
  // that lists "br;q=0.8" would rather have br than nothing at all.
  uint16_t brotli = 0;
  uint16_t gzip = 0;
  uint16_t identity = 1000;
};

// Reads every Accept-Encoding field among `fields`. With none, a client
// gets identity only: a compressed answer it never asked for would be
// unreadable to it. An element whose weight does not parse is ignored.
AcceptedCodings parse_accept_encoding(std::span<const HeaderField> fields);

enum class Coding : uint8_t { kIdentity, kBrotli, kGzip };

// The coding to answer with, given which siblings exist: the highest
// weight wins, ties go to br, then gzip, then identity (smaller first).
// kIdentity with `refused` set when nothing acceptable is available (406).
struct CodingChoice {
  Coding coding = Coding::kIdentity;
  bool refused = false;
};
CodingChoice choose_coding(const AcceptedCodings& accepted, bool have_brotli, bool have_gzip);

// "br", "gzip", or "" for identity.
std::string_view coding_name(Coding coding);

}  // namespace reactor::http
