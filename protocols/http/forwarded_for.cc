#include "protocols/http/forwarded_for.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

#include "protocols/http/header_text.h"

namespace reactor::http {
namespace {

// Text to an IPv6 address, IPv4 mapped to ::ffff:a.b.c.d so that one
// comparison covers both families (and dual-stack peers match v4 ranges).
std::optional<in6_addr> parse_address(std::string_view text) {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  in6_addr address{};
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    address.s6_addr[10] = 0xff;
    address.s6_addr[11] = 0xff;
    std::memcpy(&address.s6_addr[12], &v4, 4);
    return address;
  }
  if (inet_pton(AF_INET6, buffer, &address) == 1) return address;
  return std::nullopt;
}

bool is_v4_mapped(const in6_addr& address) {
  return IN6_IS_ADDR_V4MAPPED(&address);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<AddressRange> AddressRange::parse(std::string_view text) {
  AddressRange range;
  if (text == "unix") {
    range.unix_ = true;
    return range;
  }
  const size_t slash = text.find('/');
  const auto address = parse_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  range.network_ = *address;
  const int family_bits =
      is_v4_mapped(*address) && text.find(':') == std::string_view::npos ? 32 : 128;
  int prefix = family_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        prefix < 0 || prefix > family_bits) {
      return std::nullopt;
    }
  }
  range.prefix_bits_ = prefix + (128 - family_bits);
  // Host bits cleared, so contains() compares whole bytes and a mask.
  for (int bit = range.prefix_bits_; bit < 128; ++bit) {
    range.network_.s6_addr[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return range;
}

bool AddressRange::contains(const in6_addr& address) const {
  if (unix_) return false;
  const int whole_bytes = prefix_bits_ / 8;
  if (std::memcmp(network_.s6_addr, address.s6_addr, static_cast<size_t>(whole_bytes)) != 0) {
    return false;
  }
  const int rest = prefix_bits_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff00u >> rest);
  return (address.s6_addr[whole_bytes] & mask) == network_.s6_addr[whole_bytes];
}

bool TrustedProxies::trusts_address(const in6_addr& address) const {
  for (const AddressRange& range : ranges_) {
    if (range.contains(address)) return true;
  }
  return false;
}

bool TrustedProxies::trusts(const SocketAddress& peer) const {
  if (peer.is_unix()) {
    for (const AddressRange& range : ranges_) {
      if (range.is_unix()) return true;
    }
    return false;
  }
  return trusts(peer.ip());
}

bool TrustedProxies::trusts(std::string_view address_text) const {
  const auto address = parse_address(address_text);
  return address && trusts_address(*address);
}

std::string_view TrustedProxies::client(std::string_view peer_text,
                                        std::span<const HeaderField> fields) const {
  std::string_view believed = peer_text;
  // Fields right to left, and each field's list right to left: the same
  // order as one combined list.
  for (auto field = fields.rbegin(); field != fields.rend(); ++field) {
    if (!equals_lower(field->name, "x-forwarded-for")) continue;
    std::string_view list = field->value;
    while (!list.empty()) {
      const size_t comma = list.rfind(',');
      const std::string_view entry =
          trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      if (entry.empty()) continue;  // "a,,b": an empty element is no hop
      const auto address = parse_address(entry);
      if (!address) return believed;
      believed = entry;
      if (!trusts_address(*address)) return believed;
    }
  }
  return believed;
}

}  // namespace reactor::http
