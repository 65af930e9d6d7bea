#pragma once
// What the policy engine decided: per policy, the links that carry its new
// flows and with which weight. Pure data, shared by src/policy (which decides) and src/net (desired kernel
// state is built from it), header-only so uplink_net needs no link to policy.
#include <map>
#include <string>
#include <vector>

namespace uplink {

struct ActiveMember {
  std::string link;
  int weight = 1;
  bool operator==(const ActiveMember&) const = default;
};

struct PolicyDecision {
  std::vector<ActiveMember> active;  // empty = last resort
  bool operator==(const PolicyDecision&) const = default;
  bool last_resort() const { return active.empty(); }
};

// By policy name.
using Decisions = std::map<std::string, PolicyDecision>;

}  // namespace uplink
