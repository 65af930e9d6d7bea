#pragma once
// The keys a `kind = "cellular"` link adds (ARCHITECTURE.md §3 "Cellular
// links"), registered through config/section.h. The core keeps modem, apn,
// sim_slot and private_routes; this extension owns the rest:
//
//   [links.cell1]
//   apn_user = "u"                        # optional
//   apn_password = "file:/etc/uplinkd/secrets/cell1"   # masked everywhere
//   ip_type  = "ipv4v6"                   # ipv4 | ipv6 | ipv4v6
//   roaming  = false
//   sim_pin  = "file:/etc/uplinkd/secrets/pin"          # optional: unlocks a PIN-locked SIM
//   [links.cell1.sim]                     # optional: SIM-slot failover
//   slots = [1, 2]  switch_after = "2m"  connect_timeout = "120s"
//   min_dwell = "10m"  max_switches_per_hour = 3  return_after = "1h"
//   [links.cell1.reconnect]
//   backoff_initial = "5s"  backoff_max = "5m"  reset_after = 3
//   [links.cell1.quality]
//   min_signal = 20   min_rsrp = -110   min_sinr = 0
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/config.h"
#include "config/section_value.h"

namespace uplink {

class SectionRegistry;

enum class IpType { ipv4, ipv6, ipv4v6 };
std::string_view to_string(IpType t);

struct SimFailoverConfig {
  std::vector<int> slots;                  // preferred first, 1-based, distinct
  Duration switch_after = std::chrono::minutes(2);
  Duration connect_timeout = std::chrono::seconds(120);
  Duration min_dwell = std::chrono::minutes(10);
  int max_switches_per_hour = 3;
  Duration return_after = std::chrono::hours(1);
  friend bool operator==(const SimFailoverConfig&, const SimFailoverConfig&) = default;
};

struct ReconnectConfig {
  Duration backoff_initial = std::chrono::seconds(5);
  Duration backoff_max = std::chrono::minutes(5);
  // A zombie bearer (connected, probes fail): reconnects before the modem is reset.
  int reset_after = 3;
  friend bool operator==(const ReconnectConfig&, const ReconnectConfig&) = default;
};

// Radio thresholds: below one -> degraded; back above it plus the hysteresis
// margin (5 %, 3 dB) -> up again.
struct RadioThresholds {
  std::optional<int> min_signal;   // percent
  std::optional<double> min_rsrp;  // dBm
  std::optional<double> min_sinr;  // dB
  bool any() const { return min_signal || min_rsrp || min_sinr; }
  friend bool operator==(const RadioThresholds&, const RadioThresholds&) = default;
};

struct CellularLink final : SectionValue {
  std::string apn_user;
  Secret apn_password;
  std::optional<Secret> sim_pin;
  IpType ip_type = IpType::ipv4v6;
  bool roaming = false;
  std::optional<SimFailoverConfig> sim;
  ReconnectConfig reconnect;
  RadioThresholds radio;
  int sim_line = 0, sim_column = 0;  // where [sim] slots were written (messages; not part of equality)

  bool equals(const SectionValue& other) const override;
  std::string to_toml(bool mask_secrets) const override;
  std::string quality_toml() const override;
};

// The extension of a cellular link (defaults when it has none, which cannot
// happen after a load: the parser runs for every cellular link).
const CellularLink& cellular_of(const LinkConfig& link);

// Registers the cellular link extension.
void register_cellular_config(SectionRegistry& registry);

}  // namespace uplink
