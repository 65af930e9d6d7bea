#pragma once
// What the daemon shows: JSON for the control protocol (the field names are
// the contract of ARCHITECTURE.md §2) and the Prometheus text exposition.
#include <string>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/daemon.h"

namespace uplink {

using Json = nlohmann::json;

// name, kind, interface, state, since, reason, latency_ms, jitter_ms, loss_pct,
// table (numbers or null) + fwmark, gateway, metered, enabled.
Json link_json(const LinkConfig& c, const LinkEntry& rt);
// link_json + "config": {probe, quality, cellular keys}.
Json link_detail_json(const LinkConfig& c, const LinkEntry& rt);
// name, mode, active + members, last_resort.
Json policy_json(const PolicyConfig& c, const PolicyRuntime& rt);
Json rule_json(const RuleConfig& r);

// {"daemon":{...}, "links":[...], "policies":[...]} + what modules add.
Json status_json(const Daemon& d);
Json links_json(const Daemon& d);

// `extra`: samples from outside the daemon core (e.g. control connections).
std::string metrics_text(const Daemon& d, const std::string& extra = "");

}  // namespace uplink
