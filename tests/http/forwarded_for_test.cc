// Unit tests: which client the access log believes behind a trusted proxy.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string_view>
#include <vector>

#include "protocols/http/forwarded_for.h"

using reactor::http::AddressRange;
using reactor::http::HeaderField;
using reactor::http::TrustedProxies;

namespace {

TrustedProxies trusting(std::vector<std::string_view> texts) {
  std::vector<AddressRange> ranges;
  for (std::string_view text : texts) {
    const auto range = AddressRange::parse(text);
    REQUIRE(range);
    ranges.push_back(*range);
  }
  return TrustedProxies(std::move(ranges));
}

}  // namespace

TEST_CASE("AddressRange::parse accepts addresses, prefixes and 'unix', nothing else") {
  for (std::string_view good : {"127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "fd00::/8", "::/0",
                                "192.168.1.7/32", "unix"}) {
    CAPTURE(good);
    CHECK(AddressRange::parse(good));
  }
  for (std::string_view bad : {"", "localhost", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0/8",
                               "10.0.0.0/-1", "10.0.0.0/8x", "1.2.3.4 "}) {
    CAPTURE(bad);
    CHECK(!AddressRange::parse(bad));
  }
}

TEST_CASE("TrustedProxies: prefixes match on bit boundaries, in both families") {
  const TrustedProxies proxies = trusting({"10.1.2.0/23", "fd12:3456::/33"});
  CHECK(proxies.trusts("10.1.2.1"));
  CHECK(proxies.trusts("10.1.3.255"));
  CHECK(!proxies.trusts("10.1.4.0"));
  CHECK(!proxies.trusts("10.1.1.255"));
  CHECK(proxies.trusts("::ffff:10.1.3.4"));  // a dual-stack listener's view of an IPv4 peer
  CHECK(proxies.trusts("fd12:3456:7fff::1"));
  CHECK(!proxies.trusts("fd12:3456:8000::1"));
  CHECK(!proxies.trusts("not an address"));
}

TEST_CASE("TrustedProxies::client walks X-Forwarded-For right to left past trusted hops") {
  const TrustedProxies proxies = trusting({"10.0.0.0/8"});
  auto client = [&](std::vector<std::string_view> values) {
    std::vector<HeaderField> fields = {{"Host", "example"}};
    for (std::string_view value : values) fields.push_back({"X-Forwarded-For", value});
    return std::string(proxies.client("10.0.0.1", fields));
  };
  CHECK(client({}) == "10.0.0.1");
  CHECK(client({"203.0.113.9"}) == "203.0.113.9");
  // The client's own claim (left) is not believed past an untrusted hop.
  CHECK(client({"6.6.6.6, 203.0.113.9, 10.0.0.2"}) == "203.0.113.9");
  CHECK(client({"6.6.6.6,203.0.113.9", "10.0.0.2"}) == "203.0.113.9");  // repeated fields
  CHECK(client({"10.0.0.3, 10.0.0.2"}) == "10.0.0.3");  // all trusted: the left-most
  CHECK(client({"2001:db8::7 , ,10.0.0.2"}) == "2001:db8::7");
  // Garbage stops the walk at the last address believed.
  CHECK(client({"203.0.113.9, <script>, 10.0.0.2"}) == "10.0.0.2");
  CHECK(client({"evil\"line"}) == "10.0.0.1");
  // Field names compare case-insensitively; other fields are not read.
  std::vector<HeaderField> fields = {{"x-FORWARDED-for", "198.51.100.4"}, {"X-Real-IP", "6.6.6.6"}};
  CHECK(proxies.client("10.0.0.1", fields) == "198.51.100.4");
}
