#include "net/kernel_state.h"

#include <sys/socket.h>

namespace uplink {

std::string Route::to_string() const {
  std::string s = family == AF_INET6 ? "-6 " : "";
  if (type == RouteType::unreachable) s += "unreachable ";
  if (type == RouteType::blackhole) s += "blackhole ";
  s += dst.length == 0 ? "default" : dst.to_string();
  if (type == RouteType::unicast && multipath.empty()) {
    if (gateway) s += " via " + gateway->to_string();
    s += " oif " + std::to_string(oif);
  }
  for (const auto& nh : multipath) {
    s += " nexthop";
    if (nh.gateway) s += " via " + nh.gateway->to_string();
    s += " oif " + std::to_string(nh.oif) + " weight " + std::to_string(nh.weight);
  }
  s += " table " + std::to_string(table);
  return s;
}

std::string Rule::to_string() const {
  std::string s = (family == AF_INET6 ? "-6 pref " : "pref ") + std::to_string(priority);
  if (src) s += " from " + src->to_string();
  if (fwmask) {
    char buf[48];
    snprintf(buf, sizeof buf, " fwmark 0x%x/0x%x", fwmark, fwmask);
    s += buf;
  }
  switch (action) {
    case RuleAction::lookup: s += " lookup " + std::to_string(table); break;
    case RuleAction::unreachable: s += " unreachable"; break;
    case RuleAction::blackhole: s += " blackhole"; break;
  }
  if (suppress_prefixlen >= 0) s += " suppress_prefixlength " + std::to_string(suppress_prefixlen);
  return s;
}

std::string NftState::render() const {
  std::string out = skeleton;
  for (const auto& [chain, lines] : chains) {
    std::string empty = "\tchain " + chain + " {\n\t}\n";
    auto pos = out.find(empty);
    if (pos == std::string::npos) continue;
    std::string full = "\tchain " + chain + " {\n";
    for (const auto& l : lines) full += "\t\t" + l + "\n";
    full += "\t}\n";
    out.replace(pos, empty.size(), full);
  }
  return out;
}

}  // namespace uplink
