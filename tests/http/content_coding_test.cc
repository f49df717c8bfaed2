// Accept-Encoding weights and the choice between a file and its
// precompressed siblings (RFC 9110 section 12.5.3).
#include "protocols/http/content_coding.h"

#include <doctest/doctest.h>

#include <vector>

using namespace reactor::http;

namespace {

AcceptedCodings parse(std::vector<std::string_view> values) {
  std::vector<HeaderField> fields = {{"Host", "x"}};
  for (std::string_view value : values) fields.push_back({"Accept-Encoding", value});
  return parse_accept_encoding(fields);
}

}  // namespace

TEST_CASE("accept-encoding: weights, aliases, wildcards") {
  AcceptedCodings none = parse({});
  CHECK(none.brotli == 0);
  CHECK(none.gzip == 0);
  CHECK(none.identity == 1000);

  AcceptedCodings plain = parse({"gzip, deflate, br"});
  CHECK(plain.brotli == 1000);
  CHECK(plain.gzip == 1000);
  CHECK(plain.identity == 1);  // unnamed: below anything named

  AcceptedCodings weighted = parse({"br;q=0.25, x-gzip ; q=0.5, identity;q=0.125"});
  CHECK(weighted.brotli == 250);
  CHECK(weighted.gzip == 500);
  CHECK(weighted.identity == 125);

  AcceptedCodings wildcard = parse({"*;q=0.7, gzip;q=0"});
  CHECK(wildcard.brotli == 700);
  CHECK(wildcard.gzip == 0);
  CHECK(wildcard.identity == 700);

  // Malformed weights drop their element only.
  for (std::string_view bad : {"br;q=1.5", "br;q=", "br;q=0.1234", "br;q=abc", "br;q=-1"}) {
    CAPTURE(bad);
    CHECK(parse({bad}).brotli == 0);
  }
  CHECK(parse({"br;q=1.000"}).brotli == 1000);
  CHECK(parse({"br;level=5;q=0.3"}).brotli == 300);
  // Repeated fields are one list.
  AcceptedCodings split = parse({"br;q=0.2", "gzip;q=0.3"});
  CHECK(split.brotli == 200);
  CHECK(split.gzip == 300);
  // An empty value: nothing but identity.
  CHECK(parse({""}).identity > 0);
  CHECK(parse({""}).gzip == 0);
}

TEST_CASE("accept-encoding: choosing what to send") {
  const AcceptedCodings both = parse({"gzip, br"});
  CHECK(choose_coding(both, true, true).coding == Coding::kBrotli);
  CHECK(choose_coding(both, false, true).coding == Coding::kGzip);
  CHECK(choose_coding(both, false, false).coding == Coding::kIdentity);
  CHECK_FALSE(choose_coding(both, false, false).refused);

  CHECK(choose_coding(parse({"br;q=0.1"}), true, true).coding == Coding::kBrotli);
  CHECK(choose_coding(parse({"identity, br;q=0.9"}), true, true).coding == Coding::kIdentity);

  const AcceptedCodings prefers_gzip = parse({"gzip, br;q=0.9"});
  CHECK(choose_coding(prefers_gzip, true, true).coding == Coding::kGzip);
  CHECK(choose_coding(prefers_gzip, true, false).coding == Coding::kBrotli);

  const AcceptedCodings identity_first = parse({"identity, gzip;q=0.5"});
  CHECK(choose_coding(identity_first, true, true).coding == Coding::kIdentity);

  const AcceptedCodings no_identity = parse({"identity;q=0, gzip"});
  CHECK(choose_coding(no_identity, false, true).coding == Coding::kGzip);
  CHECK(choose_coding(no_identity, true, false).refused);
  CHECK(choose_coding(parse({"*;q=0"}), true, true).refused);
  CHECK(choose_coding(parse({"*;q=0, identity"}), true, true).coding == Coding::kIdentity);

  CHECK(coding_name(Coding::kBrotli) == "br");
  CHECK(coding_name(Coding::kGzip) == "gzip");
  CHECK(coding_name(Coding::kIdentity).empty());
}
