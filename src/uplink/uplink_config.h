#pragma once
// The [uplink] section (ARCHITECTURE.md §3 "Uplink"): types only, no TOML.
// The parser is uplink_config_parse.cc, registered by register_uplink_config().
//
// [uplink]                       broker, platform, client_id, access_token | username/password,
//                                cert_file/key_file, ca_file, keepalive, policy, telemetry_interval,
//                                max_message, socket, topic, window, reconnect_min/max, rpc_methods
// [uplink.queue]                 path, max_size, sync, commit_interval, replay_rate
// [[uplink.classes]]             name, ttl (first = most important)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/section_value.h"
#include "uplink/queue.h"

namespace uplink {

class SectionRegistry;

enum class Platform { generic, thingsboard };
std::string_view to_string(Platform p);

struct BrokerUrl {
  bool tls = false;
  std::string host;  // as written (IPv6 without brackets)
  uint16_t port = 0;
  std::string original;
  friend bool operator==(const BrokerUrl&, const BrokerUrl&) = default;
};
// "mqtt://HOST[:PORT]" | "mqtts://HOST[:PORT]" (1883 / 8883 by default); HOST may be "[v6]".
Result<BrokerUrl> parse_broker_url(std::string_view text);

struct UplinkConfig final : SectionValue {
  BrokerUrl broker;
  Platform platform = Platform::generic;
  std::string client_id;                   // default: "uplinkd-" + hostname
  std::optional<Secret> access_token;      // ThingsBoard device token: the MQTT username
  std::string username;
  std::optional<Secret> password;
  std::string cert_file, key_file, ca_file;  // paths (TLS)
  Duration keepalive = std::chrono::seconds(30);
  std::string policy;                      // "" = no steering (the kernel's choice)
  int policy_line = 0, policy_column = 0;  // where it is written (cross-check messages); not compared
  Duration telemetry_interval = std::chrono::seconds(30);
  uint64_t max_message = 256 << 10;
  std::string socket = "/run/uplinkd/uplink.sock";
  std::string topic;                       // generic: default topic ("" = "uplinkd/CLIENT_ID/CLASS")
  int window = 64;                         // QoS 1 messages in flight
  Duration reconnect_min = std::chrono::seconds(1);
  Duration reconnect_max = std::chrono::seconds(60);
  std::vector<std::string> rpc_methods = {"status"};  // ThingsBoard RPC methods answered; others refused

  // [uplink.queue]
  std::string queue_path = "/var/lib/uplinkd/queue";
  uint64_t max_size = 256ull << 20;
  SyncMode sync = SyncMode::batch;
  Duration commit_interval = std::chrono::milliseconds(10);
  double replay_rate = 5000;
  // [[uplink.classes]]
  std::vector<QueueClass> classes = {{"alarm", std::chrono::hours(24 * 30)}, {"telemetry", std::chrono::hours(24 * 7)}};

  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;

  QueueOptions queue_options() const;
  // Fields whose change needs a new connection / a new queue.
  bool same_connection(const UplinkConfig& o) const;
  bool same_queue(const UplinkConfig& o) const;
};

// Registers [uplink] (parse + validate) in `registry`.
void register_uplink_config(SectionRegistry& registry);

}  // namespace uplink
