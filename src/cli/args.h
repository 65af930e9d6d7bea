#pragma once
// Pure translations from uplinkctl arguments to request fields (unit-tested).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace uplink::cli {

using Json = nlohmann::json;

// ["probe.interval=500ms", "metered=true"] -> {"probe.interval":"500ms","metered":"true"}.
// Values stay strings: the daemon's editor knows each key's type.
Result<Json> parse_assignments(const std::vector<std::string>& items);

// "wan1", "wan1:2", "wan1:1:3" -> {"link":"wan1","tier":1,"weight":3} (tier/weight only if given).
Result<Json> parse_member(const std::string& spec);
Result<Json> parse_members(const std::vector<std::string>& specs);

}  // namespace uplink::cli
