#pragma once
// What changed between two validated configurations, so a reload applies
// only the difference (a link whose probe changed restarts its prober; one
// whose only change is `enabled` is just switched).
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace uplink {

struct ConfigDiff {
  std::vector<std::string> links_added, links_removed, links_changed;
  std::vector<std::string> policies_added, policies_removed, policies_changed;
  bool rules_changed = false;
  bool daemon_changed = false;
  // Module sections (config/section.h) added, removed or changed, by name ("uplink", "tunnels").
  std::vector<std::string> sections_changed;
  // For every changed link or policy, the names of the fields that differ
  // ("enabled", "probe", "quality", "extension", "members", "private", ...).
  // Keyed "links.wan1" / "policies.default".
  std::map<std::string, std::vector<std::string>> fields;

  bool empty() const;
  // One line, e.g. "links: +cell2 -wan3 ~wan1(enabled); policies: ~default(members); rules changed;
  // sections: ~uplink".
  std::string summary() const;
  // Convenience for appliers: did this field of this link change?
  bool link_field_changed(const std::string& link, const std::string& field) const;
  bool section_changed(std::string_view name) const;
};

// Order of names in each vector follows `after` (added/changed) or `before` (removed).
ConfigDiff diff_configs(const Config& before, const Config& after);

}  // namespace uplink
