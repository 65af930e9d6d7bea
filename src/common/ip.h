#pragma once
// IPv4/IPv6 addresses and prefixes, parsed strictly (no host bits in a prefix).
#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace uplink {

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6; 0 = unset
  std::array<uint8_t, 16> bytes{};

  static Result<IpAddress> parse(std::string_view text);
  bool is_v4() const;
  bool is_v6() const;
  bool valid() const { return family != 0; }
  size_t byte_len() const { return is_v4() ? 4 : 16; }
  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress addr;
  int length = 0;

  // "10.0.0.0/8", "2001:db8::/32"; a bare address means a host prefix.
  // Host bits set ("10.0.0.1/8") are an error: the user probably meant something else.
  static Result<IpPrefix> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  std::string to_string() const;
  auto operator<=>(const IpPrefix&) const = default;
};

// A numeric socket address: "127.0.0.1:9109" or "[::1]:9109" (port 1-65535;
// no host names). A parse error says what is wrong in a phrase that follows
// the text ("has no port"), for the caller to frame.
struct IpEndpoint {
  IpAddress addr;
  uint16_t port = 0;

  static Result<IpEndpoint> parse(std::string_view text);
  std::string to_string() const;
};

}  // namespace uplink
