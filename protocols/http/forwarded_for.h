// Behind a reverse proxy: which client to log for a request.
//
// A proxy in front of the server connects on behalf of its clients and
// says who they are in X-Forwarded-For ("client, proxy1, proxy2": each hop
// appends the address it received the request from). Anyone can send that
// field, so it is believed only from peers the operator trusts
// (--trusted-proxy, nginx's set_real_ip_from with real_ip_recursive on):
// starting from the peer, walk the list right to left past trusted
// addresses; the first untrusted one is the client. An entry that is not
// an address stops the walk at the last address believed.
//
// Threading: immutable after construction; any thread.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/http/request_parser.h"
#include "reactor/socket_address.h"

namespace reactor::http {

// ADDR, ADDR/PREFIX (IPv4 or IPv6), or "unix" for every Unix-socket peer.
class AddressRange {
 public:
  // Returns nullopt for anything else (a prefix beyond 32/128, a name).
  static std::optional<AddressRange> parse(std::string_view text);

  bool contains(const in6_addr& address) const;  // IPv4 as ::ffff:a.b.c.d
  bool is_unix() const { return unix_; }

 private:
  in6_addr network_{};
  int prefix_bits_ = 128;
  bool unix_ = false;
};

class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(std::vector<AddressRange> ranges) : ranges_(std::move(ranges)) {}

  bool empty() const { return ranges_.empty(); }
  bool trusts(const SocketAddress& peer) const;
  // An address in text form, as found in X-Forwarded-For.
  bool trusts(std::string_view address_text) const;

  // The client to log for a request from a trusted `peer_text` carrying
  // `fields` (all of its header fields; X-Forwarded-For may repeat, and
  // repeated fields read as one comma-separated list). Returns `peer_text`
  // when there is no usable X-Forwarded-For; otherwise a view into a field.
  std::string_view client(std::string_view peer_text, std::span<const HeaderField> fields) const;

 private:
  bool trusts_address(const in6_addr& address) const;

  std::vector<AddressRange> ranges_;
};

}  // namespace reactor::http
