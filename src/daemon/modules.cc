#include "daemon/modules.h"

#include <memory>

#include "cellular/cellular_config.h"
#include "cellular/cellular_module.h"
#include "config/section.h"
#include "plugin/plugins_module.h"
#include "policy/hooks_module.h"
#include "policy/routing_module.h"
#include "probe/monitor_module.h"
#include "testmod/testmod_module.h"
#include "tunnel/tunnel_config.h"
#include "tunnel/tunnel_module.h"
#include "uplink/uplink_config.h"
#include "uplink/uplink_module.h"

namespace uplink {

const std::vector<ModuleSpec>& builtin_modules() {
  static const std::vector<ModuleSpec> list = {
      {"routing", nullptr, [](ModuleContext& c) { return std::make_unique<RoutingModule>(c); }},
      {"monitor", nullptr, [](ModuleContext& c) { return std::make_unique<MonitorModule>(c); }},
      // Cellular after routing: its bearer gateways (LinkNextHopEvent) go to a live routing.
      {"cellular", register_cellular_config, [](ModuleContext& c) { return make_cellular_module(c); }},
      // Tunnels after routing: their underlay follows routing's policy events.
      {"tunnel", register_tunnel_config, [](ModuleContext& c) { return make_tunnel_module(c); }},
      {"hooks", nullptr, [](ModuleContext& c) { return std::make_unique<HooksModule>(c); }},
      // The uplink before the plugins: it provides the MessageSink their messages go to.
      {"uplink", register_uplink_config, [](ModuleContext& c) { return make_uplink_module(c); }},
      {"plugins", plugin::register_plugins_config,
       [](ModuleContext& c) { return std::make_unique<plugin::PluginsModule>(c); }},
      {"testmod", register_testmod_config, [](ModuleContext& c) { return std::make_unique<TestModule>(c); }},
  };
  return list;
}

void register_module_configs(SectionRegistry& registry) {
  for (const auto& m : builtin_modules())
    if (m.register_config) m.register_config(registry);
}

void register_module_configs() {
  static bool done = false;
  if (done) return;
  done = true;
  register_module_configs(SectionRegistry::global());
}

}  // namespace uplink
