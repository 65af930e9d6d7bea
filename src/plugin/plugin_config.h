#pragma once
// [plugins.NAME] (ARCHITECTURE.md §3 "Plugins"): the typed configuration.
//
//   [plugins.anomaly]
//   path       = "/usr/lib/uplinkd/plugins/libuplink_anomaly.so"   required, absolute
//   class      = "alarm"              default class of what it publishes ("" = the uplink's least important)
//   inputs     = ["udp://127.0.0.1:5005", "unix:/run/uplinkd/anomaly.sock"]
//   memory_max = "128MiB"             cgroup v2 memory.max, else RLIMIT_DATA in the host
//   cpu_max    = 50                   percent of one core: cgroup v2 cpu.max, else nice 19 + SIGSTOP/SIGCONT governor
//   heartbeat_timeout   = "10s"       no heartbeat answer this long: SIGKILL and restart
//   restart_backoff_max = "5m"
//   model_dir  = "/var/lib/uplinkd/models/anomaly"
//   model_public_key = "file:/etc/uplinkd/model-signing.pub"   ed25519, base64/hex/raw 32 bytes
//   model_probation  = "60s"          (extension) a crash this soon after an install rolls it back
//   user       = "uplink-plugin"      (extension) run the host as this user
//   [plugins.anomaly.config]          passed to the plugin as a JSON object
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "config/section_value.h"

namespace uplink::plugin {

using namespace std::chrono_literals;

struct InputSpec {
  enum class Kind { udp, unix_stream };
  Kind kind = Kind::udp;
  std::string host;   // udp: a numeric address
  uint16_t port = 0;  // udp
  std::string path;   // unix
  std::string original;
  friend bool operator==(const InputSpec&, const InputSpec&) = default;
};
// "udp://127.0.0.1:5005", "udp://[::1]:5005", "unix:///run/x.sock" (also "unix:/run/x.sock").
Result<InputSpec> parse_input(std::string_view text);

struct PluginConfig {
  std::string name;
  std::string path;
  std::string msg_class;
  std::vector<InputSpec> inputs;
  std::optional<uint64_t> memory_max;
  std::optional<double> cpu_max;
  Duration heartbeat_timeout = 10s;
  Duration restart_backoff_max = 5min;
  std::string model_dir;
  std::optional<Secret> model_public_key;
  std::string public_key;  // the decoded 32-byte key (empty when none)
  Duration model_probation = 60s;
  std::string user;
  std::string config_json = "{}";  // [plugins.NAME.config] as JSON
  std::string config_toml;         // the same table as TOML body lines (write-back)
  friend bool operator==(const PluginConfig&, const PluginConfig&) = default;
};

struct PluginsSection final : SectionValue {
  std::map<std::string, PluginConfig> plugins;
  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;
};

}  // namespace uplink::plugin

namespace uplink {
class SectionRegistry;
namespace plugin {
// Registers the "plugins" section (parse + validate).
void register_plugins_config(SectionRegistry& registry);
}  // namespace plugin
}  // namespace uplink
