#pragma once
// The wireguard-go UAPI (the "cross-platform userspace implementation"
// protocol) over /var/run/wireguard/NAME.sock, and WireGuard key/endpoint text.
//
//   request  get=1\n\n                       -> key=value lines ... errno=N\n\n
//   request  set=1\n  device keys            -> errno=N\n\n
//                     public_key=... (peer section) ...
//                     \n
//
// Keys travel as lowercase hex; errno is sent negative by wireguard-go (we take
// the absolute value). A set is not atomic and the daemon closes the
// connection after an error: one connection per request (UapiClient).
//
// Pure text functions here are unit-tested; AsioUapiClient does the socket
// I/O asynchronously on the io_context with a deadline.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ip.h"
#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace uplink {

using WgKey = std::array<uint8_t, 32>;

// Standard base64 of exactly 32 bytes (44 characters, one '=' pad); nullopt otherwise.
std::optional<WgKey> decode_wg_key(std::string_view base64);
// Why `base64` is not a WireGuard key ("is 43 characters, a key is 44 ..."), or nullopt.
std::optional<std::string> check_wg_key(std::string_view base64);
std::string wg_key_hex(const WgKey& key);
std::string wg_key_base64(const WgKey& key);
// Lowercase hex of 64 digits -> key; nullopt otherwise.
std::optional<WgKey> wg_key_from_hex(std::string_view hex);

// Numeric "ip:port" or "[ipv6]:port" only (no host names: no resolver on the
// hot path, and a name would hide which WAN the tunnel uses).
struct WgEndpoint {
  IpAddress address;
  uint16_t port = 0;
  std::string to_string() const;  // "203.0.113.10:51820", "[2001:db8::1]:51820"
  friend bool operator==(const WgEndpoint&, const WgEndpoint&) = default;
};
Result<WgEndpoint> parse_wg_endpoint(std::string_view text);

// What uplinkd configures on a device (set=1). Keys are base64 here.
struct WgPeerSpec {
  std::string public_key;
  std::optional<WgEndpoint> endpoint;
  std::vector<IpPrefix> allowed_ips;
  int persistent_keepalive_s = 0;  // 0 = off
  friend bool operator==(const WgPeerSpec&, const WgPeerSpec&) = default;
};
struct WgDeviceSpec {
  std::string private_key;  // base64; never logged
  std::optional<uint16_t> listen_port;
  uint32_t fwmark = 0;
  std::vector<WgPeerSpec> peers;
  friend bool operator==(const WgDeviceSpec&, const WgDeviceSpec&) = default;
};

// The full set=1 request: device keys, replace_peers=true, then each peer with
// replace_allowed_ips=true. Error if a key does not decode.
Result<std::string> format_wg_set(const WgDeviceSpec& spec);
// set=1 that only rewrites the endpoints of existing peers (update_only=true):
// clears the cached source address after the underlay moved.
Result<std::string> format_wg_endpoint_update(const std::vector<WgPeerSpec>& peers);
inline constexpr std::string_view kWgGetRequest = "get=1\n\n";

// What get=1 reports.
struct WgPeerStatus {
  std::string public_key;  // base64
  std::optional<WgEndpoint> endpoint;
  int64_t last_handshake_sec = 0;  // 0 = never
  int64_t last_handshake_nsec = 0;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  int persistent_keepalive_s = 0;
  std::vector<IpPrefix> allowed_ips;
};
struct WgDeviceStatus {
  bool has_private_key = false;
  uint16_t listen_port = 0;
  uint32_t fwmark = 0;
  std::vector<WgPeerStatus> peers;
};

// The errno of a reply ("errno=-22" -> 22); error when the reply has no errno line.
Result<int> parse_wg_errno(std::string_view reply);
// A get=1 reply; error when errno != 0 or a line is malformed. The private key is dropped at once.
Result<WgDeviceStatus> parse_wg_get(std::string_view reply);

// The UAPI as a seam: the module talks to this; tests use a fake.
class UapiClient {
 public:
  using GetDone = std::function<void(Result<WgDeviceStatus>)>;
  using SetDone = std::function<void(Result<void>)>;
  virtual ~UapiClient() = default;
  // Both complete on the io_context thread, never inline from the call.
  virtual void get(const std::string& ifname, GetDone done) = 0;
  virtual void set(const std::string& ifname, std::string request, SetDone done) = 0;
  // True when the socket of `ifname` exists and accepts a connection (synchronous:
  // a local connect() either succeeds or fails at once).
  virtual bool device_present(const std::string& ifname) = 0;
};

std::string wg_socket_path(std::string_view socket_dir, std::string_view ifname);
inline constexpr std::string_view kWgSocketDir = "/var/run/wireguard";

// One connection per request over an Asio local stream socket, async, with a deadline.
class AsioUapiClient final : public UapiClient {
 public:
  AsioUapiClient(boost::asio::io_context& io, std::string socket_dir = std::string(kWgSocketDir),
                 Duration timeout = std::chrono::seconds(2));
  void get(const std::string& ifname, GetDone done) override;
  void set(const std::string& ifname, std::string request, SetDone done) override;
  bool device_present(const std::string& ifname) override;

 private:
  // Sends `request`, reads until "\n\n" after an errno line, or the deadline.
  void exchange(const std::string& ifname, std::string request, std::function<void(Result<std::string>)> done);
  boost::asio::io_context& io_;
  std::string dir_;
  Duration timeout_;
};

}  // namespace uplink
