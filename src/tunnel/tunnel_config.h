#pragma once
// [tunnels.NAME] (ARCHITECTURE.md §3 "Tunnels") and the `tunnel` key of
// `kind = "wireguard"` links, registered through config/section.h.
//
//   [tunnels.vpn1]
//   interface   = "wgvpn1"
//   backend     = "auto"                      # auto | kernel | wireguard-go
//   private_key = "file:/etc/uplinkd/secrets/vpn1.key"   # masked in `config show`
//   listen_port = 51820                       # optional
//   address     = ["10.99.0.2/32"]
//   underlay    = "default"                   # policy whose active link carries the UDP
//   fwmark      = 0x10000                     # optional; default derived, outside daemon.fwmark_mask
//   [[tunnels.vpn1.peers]]
//   public_key  = "base64..."
//   endpoint    = "203.0.113.10:51820"        # numeric only
//   allowed_ips = ["10.200.0.0/16"]
//   persistent_keepalive = "25s"
//
//   [links.vpn1]
//   kind = "wireguard"
//   interface = "wgvpn1"                      # must be the tunnel's interface
//   tunnel = "vpn1"
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/ip.h"
#include "config/config.h"
#include "config/section_value.h"
#include "tunnel/wg_uapi.h"

namespace uplink {

class SectionRegistry;

enum class WgBackendChoice { automatic, kernel, wireguard_go };
std::string_view to_string(WgBackendChoice b);

struct TunnelPeerConfig {
  std::string public_key;  // base64, checked
  std::optional<WgEndpoint> endpoint;
  std::vector<IpPrefix> allowed_ips;
  std::optional<Duration> persistent_keepalive;  // whole seconds
  friend bool operator==(const TunnelPeerConfig&, const TunnelPeerConfig&) = default;
};

// An interface address: host bits allowed ("10.99.0.2/24").
struct IfAddress {
  IpAddress addr;
  int length = 0;
  std::string to_string() const { return addr.to_string() + "/" + std::to_string(length); }
  IpPrefix prefix() const { return IpPrefix{addr, length}; }
  friend bool operator==(const IfAddress&, const IfAddress&) = default;
};

struct TunnelConfig {
  std::string name;
  std::string interface;
  WgBackendChoice backend = WgBackendChoice::automatic;
  Secret private_key;
  std::optional<uint16_t> listen_port;
  std::vector<IfAddress> address;
  std::string underlay;                 // a policy name
  std::optional<uint32_t> fwmark_set;   // as written
  uint32_t fwmark = 0;                  // effective (written or derived)
  std::vector<TunnelPeerConfig> peers;
  // Where it was written, for cross-checks; never part of equality.
  struct Positions {
    int line = 0, column = 0;
    int interface_line = 0, interface_column = 0;
    int underlay_line = 0, underlay_column = 0;
    int fwmark_line = 0, fwmark_column = 0;
    friend bool operator==(const Positions&, const Positions&) { return true; }
  } at;

  // Every field but the positions (a new field takes part by itself).
  friend bool operator==(const TunnelConfig&, const TunnelConfig&) = default;
  // The device configuration for the UAPI (private key included: handle with care).
  WgDeviceSpec device_spec() const;
};

struct TunnelsSection final : SectionValue {
  std::map<std::string, TunnelConfig> tunnels;
  std::vector<std::string> order;  // as written
  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;
};

// The `tunnel` key of a wireguard link.
struct WireguardLink final : SectionValue {
  std::string tunnel;
  int line = 0, column = 0;
  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;
};

// The wireguard link that carries `tunnel`, if any.
const LinkConfig* link_of_tunnel(const Config& c, const std::string& tunnel);

// Derived tunnel device marks live outside daemon.fwmark_mask (so routing's
// link marks never match a tunnel's UDP): the first of bits 16-23, 24-31, 0-7
// clear of the mask; tunnel i (file order) gets (i + 1) << shift. nullopt when
// no such byte is free.
std::optional<uint32_t> derived_tunnel_mark(uint32_t fwmark_mask, size_t index);

// Registers [tunnels] and the wireguard link extension.
void register_tunnel_config(SectionRegistry& registry);

}  // namespace uplink
