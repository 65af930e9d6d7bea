#pragma once
// Module unit tests without a Daemon (src/probe, src/policy): the seams of a
// ModuleContext (bus, link table, verbs, services) and apply(), which does
// the daemon's part of a configuration change around one module's apply
// (daemon.cc): entries of added links before it, removals and the
// administrative state after it (so "wan1 up -> disabled (admin)" comes after
// the apply, as in the daemon).
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "config/diff.h"
#include "control/verbs.h"
#include "core/event_bus.h"
#include "core/link_table.h"
#include "core/module.h"

namespace uplink::testing {

class ModuleHarness {
 public:
  explicit ModuleHarness(TimeSource& time)
      : links(time, bus), ctx{time, bus, links, verbs, services} {
    services.provide<TimeSource>(time);
  }
  ModuleHarness(const ModuleHarness&) = delete;
  ModuleHarness& operator=(const ModuleHarness&) = delete;

  Result<void> apply(Module& m, const Config& next) {
    ConfigDiff diff = diff_configs(current, next);
    for (const auto& name : diff.links_added) links.add(name, next.links.at(name).enabled, "added");
    auto r = m.apply(next, diff);
    if (!r) {
      for (const auto& name : diff.links_added) links.remove(name);
      return r;
    }
    std::vector<std::pair<std::string, bool>> admin;
    for (const auto& name : diff.links_changed)
      if (current.links.at(name).enabled != next.links.at(name).enabled)
        admin.emplace_back(name, next.links.at(name).enabled);
    for (const auto& name : diff.links_removed) links.remove(name);
    current = next;
    for (const auto& [name, enabled] : admin) links.set_enabled(name, enabled);
    return r;
  }
  // The effective state in the table (unknown for a link it does not hold).
  LinkState state(const std::string& link) const {
    const LinkEntry* e = links.find(link);
    return e ? e->state : LinkState::unknown;
  }
  std::string reason(const std::string& link) const {
    const LinkEntry* e = links.find(link);
    return e ? e->reason : "";
  }

  EventBus bus;
  LinkTable links;
  control::VerbRegistry verbs;
  Services services;
  Config current;  // the "running" configuration: the last one applied successfully
  ModuleContext ctx;
};

}  // namespace uplink::testing
