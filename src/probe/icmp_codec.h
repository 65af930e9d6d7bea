#pragma once
// ICMP / ICMPv6 echo packets for the icmp prober: 8-byte header plus a
// 16-byte payload (a per-probe random nonce and the send time), so a reply
// is matched on identifier, sequence and nonce and never credited to
// another probe, another link or another program's ping.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace uplink::probe {

struct EchoKey {
  uint16_t id = 0;
  uint16_t seq = 0;
  uint64_t nonce = 0;
  auto operator<=>(const EchoKey&) const = default;
};

inline constexpr size_t kEchoPayload = 16;
inline constexpr size_t kEchoPacket = 8 + kEchoPayload;

// An echo request. IPv4 carries its checksum; for ICMPv6 the kernel fills
// it in (raw ICMPv6 sockets always checksum, RFC 3542 §3.1).
std::vector<uint8_t> build_echo_request(bool v6, const EchoKey& key, uint64_t send_ns);

// An echo reply as read from a raw socket (IPv4: with the IP header), or
// nullopt for anything else (requests, errors, short or foreign packets).
std::optional<EchoKey> parse_echo_reply(bool v6, const uint8_t* data, size_t len);

uint16_t inet_checksum(const uint8_t* data, size_t len);

}  // namespace uplink::probe
