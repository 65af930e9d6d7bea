#pragma once
// RoutingModule ("routing"): Routing (policy engine, kernel programmer,
// conntrack flush) as a module on the daemon's seams.
//
//   first apply --> Routing(config).start()   (adopts/removes a predecessor's objects)
//   later apply --> Routing::apply_config     (validated + nft dry run first: all or nothing)
//   stop()      --> Routing::stop()           (every route, rule and the nft table removed)
//
//   bus: LinkEvent, LinkQualityEvent --> state + quality from the LinkTable --> engine --> kernel
//   engine changes (each with its cause) --> bus: PolicyEvent (streamed), PolicyActive after applies
//   netlink (carrier, address, interface gone) --> bus: InterfaceEvent (the monitor turns them
//                                                   into hard signals for its links)
//   kernel objects of other modules (KernelObjects service) --> programmed with routing's own
//
// List order: routing BEFORE monitor. A new link's table and fwmark rule must
// exist before its first probe (probes carry the link's mark and are routed
// by that rule). On stop the daemon goes in reverse: probes stop first, then
// the kernel is cleaned.
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "core/module.h"
#include "net/conntrack.h"
#include "net/kernel_objects.h"
#include "net/netlink.h"
#include "net/nft_monitor.h"
#include "net/nftables.h"
#include "policy/policy_engine.h"
#include "policy/routing.h"

namespace uplink {

// The kernel seams Routing programs through (real ones in main, fakes in tests),
// taken from the module context's services.
struct RoutingKernel {
  Netlink& netlink;
  NetlinkMonitor& monitor;
  Nftables& nft;
  Conntrack& conntrack;
  KernelObjects* objects = nullptr;        // other owners' routes and rules
  NftChangeMonitor* nft_monitor = nullptr;  // edits of our nft table by others, noticed at once (else: the 30 s check)
};

class RoutingModule final : public Module {
 public:
  RoutingModule(ModuleContext& ctx, RoutingKernel kernel, QualityTuning tuning = {});
  // Takes the kernel from ctx.services (Netlink, NetlinkMonitor, Nftables,
  // Conntrack required; KernelObjects, NftChangeMonitor optional).
  explicit RoutingModule(ModuleContext& ctx);
  ~RoutingModule() override;
  RoutingModule(const RoutingModule&) = delete;
  RoutingModule& operator=(const RoutingModule&) = delete;

  std::string_view name() const override { return "routing"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  // Adds "last_resort_active" to each entry of status["policies"]; "kernel_objects" by owner.
  void add_status(nlohmann::json& status) const override;

  bool running() const { return routing_ != nullptr && !stopped_; }
  // nullptr before the first successful apply.
  const Routing* routing() const { return routing_.get(); }

 private:
  void feed(const std::string& link);
  void on_policy_change(const PolicyChange& change);
  void report_all_policies();

  TimeSource& time_;
  EventBus& bus_;
  LinkTable& links_;
  RoutingKernel kernel_;
  QualityTuning tuning_;
  std::unique_ptr<Routing> routing_;
  bool stopped_ = false;
  uint64_t sub_state_ = 0, sub_quality_ = 0, sub_next_hop_ = 0;
  // Next hops learned by modules (LinkNextHopEvent), kept for a routing (re)start.
  std::map<std::string, std::pair<std::optional<IpAddress>, std::optional<IpAddress>>> learned_;
};

}  // namespace uplink
