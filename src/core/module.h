#pragma once
// The one registration API every module plugs into (ARCHITECTURE.md §4).
//
//   src/daemon/modules.cc lists the modules once:  { "routing", ... }, { "monitor", ... }, ...
//   each ModuleSpec brings, from its own folder:
//     register_config(SectionRegistry&)  its config sections / link-kind keys (also used by
//                                        `uplinkd --check-config` and `uplinkctl config check`)
//     create(ModuleContext&)             the Module; in its constructor it registers its
//                                        control verbs (ctx.verbs), subscribes to topics
//                                        (ctx.bus), and takes the services it needs
//                                        (ctx.services: kernel handles, prober factory, ...)
//     kernel objects                     through KernelObjects (net/kernel_objects.h), under
//                                        its own owner name: the programmer removes only
//                                        what no live owner desires
//
//   Daemon::apply_config(next)
//      diff = diff_configs(current, next)
//      for m in modules (list order):  m->apply(next, diff)
//         on error: already-applied modules, newest first, get
//                   apply(current, diff_configs(next, current)); return error
//      commit: link table entries, events, config = next
#include <any>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "config/diff.h"
#include "control/verbs.h"
#include "core/event_bus.h"
#include "core/link_table.h"

namespace boost::asio {
class io_context;
}

namespace uplink {

class SectionRegistry;  // config/section.h

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;

  // Moves the module from the running configuration to `next` (`diff` says
  // what changed). All or nothing: on error the module must be exactly as
  // before the call. It is also called with the previous configuration to
  // roll back when a module after it fails, so it must accept any valid
  // configuration in any order.
  virtual Result<void> apply(const Config& next, const ConfigDiff& diff) = 0;

  // Undoes everything the module added outside the process (routes, rules,
  // nftables, child processes). Called once when the daemon stops.
  virtual void stop() {}

  // Extra sections of `uplinkctl status --json` ("tunnels", "queue", ...).
  virtual void add_status(nlohmann::json& /*status*/) const {}
  // Extra Prometheus samples, complete lines with # HELP / # TYPE.
  virtual void add_metrics(std::string& /*text*/) const {}
  // Extra fields of `uplinkctl link show NAME --json` (e.g. "probes": per-target figures).
  virtual void add_link_detail(const std::string& /*link*/, nlohmann::json& /*detail*/) const {}
};

// Shared handles a module may need, by type: main() provides the real ones
// (Netlink, Nftables, Conntrack, KernelObjects, ProberFactory, io_context, ...),
// tests provide fakes. A module asks only for what it uses.
class Services {
 public:
  template <class T>
  void provide(T& service) {
    items_[std::type_index(typeid(T))] = &service;
  }
  // nullptr when not provided.
  template <class T>
  T* find() const {
    auto it = items_.find(std::type_index(typeid(T)));
    return it == items_.end() ? nullptr : static_cast<T*>(it->second);
  }
  // Throws std::logic_error naming the type when not provided: a wiring bug.
  template <class T>
  T& get() const {
    if (T* t = find<T>()) return *t;
    throw std::logic_error(std::string("service not provided: ") + typeid(T).name());
  }

 private:
  std::map<std::type_index, void*> items_;
};

// What every module is created with.
struct ModuleContext {
  TimeSource& time;
  EventBus& bus;
  LinkTable& links;
  control::VerbRegistry& verbs;
  Services& services;
};

struct ModuleSpec {
  std::string name;
  // Optional: the config sections and link-kind keys the module owns.
  std::function<void(SectionRegistry&)> register_config;
  std::function<std::unique_ptr<Module>(ModuleContext&)> create;
};

}  // namespace uplink
