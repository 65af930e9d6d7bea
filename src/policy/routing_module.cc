#include "policy/routing_module.h"

#include <utility>

#include "common/log.h"
#include "common/strings.h"
#include "core/topics.h"

namespace uplink {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("routing");
  return l;
}

std::vector<std::string> links_of(const PolicyDecision& d) {
  std::vector<std::string> out;
  for (const auto& m : d.active) out.push_back(m.link);
  return out;
}

RoutingKernel kernel_from(const Services& s) {
  return RoutingKernel{s.get<Netlink>(), s.get<NetlinkMonitor>(), s.get<Nftables>(), s.get<Conntrack>(),
                       s.find<KernelObjects>(), s.find<NftChangeMonitor>()};
}

}  // namespace

RoutingModule::RoutingModule(ModuleContext& ctx) : RoutingModule(ctx, kernel_from(ctx.services)) {}

RoutingModule::RoutingModule(ModuleContext& ctx, RoutingKernel kernel, QualityTuning tuning)
    : time_(ctx.time), bus_(ctx.bus), links_(ctx.links), kernel_(kernel), tuning_(tuning) {
  sub_state_ = bus_.subscribe<LinkEvent>([this](const LinkEvent& e) { feed(e.link); });
  sub_quality_ = bus_.subscribe<LinkQualityEvent>([this](const LinkQualityEvent& e) { feed(e.link); });
  sub_next_hop_ = bus_.subscribe<LinkNextHopEvent>([this](const LinkNextHopEvent& e) {
    learned_[e.link] = {e.gateway4, e.gateway6};
    if (!e.gateway4 && !e.gateway6) learned_.erase(e.link);
    if (routing_ && !stopped_) routing_->set_learned_next_hops(e.link, e.gateway4, e.gateway6);
  });
}

RoutingModule::~RoutingModule() {
  bus_.unsubscribe(sub_state_);
  bus_.unsubscribe(sub_quality_);
  bus_.unsubscribe(sub_next_hop_);
}

Result<void> RoutingModule::apply(const Config& next, const ConfigDiff& /*diff*/) {
  if (stopped_) return make_error("routing is stopped; configuration not applied");
  if (!routing_) {
    auto r = std::make_unique<Routing>(next, time_, kernel_.netlink, kernel_.monitor, kernel_.nft, kernel_.conntrack,
                                       tuning_, kernel_.objects);
    auto interface = [this](InterfaceEvent e) { bus_.publish(e); };
    r->set_callbacks(RoutingCallbacks{
        .on_carrier = [interface](const std::string& ifname, bool carrier) {
          interface(InterfaceEvent{ifname, InterfaceEvent::Kind::carrier, carrier, {}});
        },
        .on_address = [interface](const std::string& ifname, const IpPrefix& address, bool added) {
          interface(InterfaceEvent{ifname, InterfaceEvent::Kind::address, added, address});
        },
        .on_link_gone = [interface](const std::string& ifname) {
          interface(InterfaceEvent{ifname, InterfaceEvent::Kind::gone, false, {}});
        },
        .on_policy_change = [this](const PolicyChange& c) { on_policy_change(c); },
    });
    if (auto ok = r->start(); !ok) {
      // start() may have begun watching netlink with a handler into `r`.
      kernel_.monitor.stop();
      return make_error("cannot start routing: " + ok.error().message + "; nothing was programmed");
    }
    routing_ = std::move(r);
    for (const auto& [link, gws] : learned_) routing_->set_learned_next_hops(link, gws.first, gws.second);
    if (kernel_.nft_monitor) {
      auto watching = kernel_.nft_monitor->start([this] {
        if (!routing_ || stopped_) return;
        logger()->info("table inet uplinkd changed by another process: repairing");
        routing_->repair_soon();
      });
      if (!watching) logger()->warn("{}", watching.error().message);
    }
    logger()->info("routing started: {} links, {} policies, {} rules", next.links.size(), next.policies.size(),
                   next.rules.size());
    // Links already decided (a re-created module): the engine starts from what the table knows.
    for (const auto& [name, e] : links_.all())
      if (next.links.count(name) && e.state != LinkState::unknown) feed(name);
  } else if (auto ok = routing_->apply_config(next); !ok) {
    return ok;
  }
  // Every policy's active links, new ones included (the daemon has their
  // entries before modules apply).
  report_all_policies();
  return {};
}

void RoutingModule::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (kernel_.nft_monitor) kernel_.nft_monitor->stop();  // before our own removal of the table
  if (!routing_) return;
  if (auto ok = routing_->stop(); !ok) {
    logger()->error("routing stop: {}; what is left carries protocol 85 / table inet uplinkd and is adopted or "
                    "removed at the next start",
                    ok.error().message);
    return;
  }
  logger()->info("routing stopped: routes, rules and the nftables table removed");
}

void RoutingModule::feed(const std::string& link) {
  if (!routing_ || stopped_) return;
  const LinkEntry* e = links_.find(link);
  if (!e) return;
  routing_->on_link_state(link, e->state, e->quality);
}

void RoutingModule::on_policy_change(const PolicyChange& c) {
  bus_.publish(PolicyEvent{time_.wall_now(), c.policy, c.from, c.to, c.reason, c.cause_link, c.cause});
}

void RoutingModule::report_all_policies() {
  if (!routing_) return;
  for (const auto& [policy, decision] : routing_->decisions()) bus_.publish(PolicyActive{policy, links_of(decision)});
}

void RoutingModule::add_status(nlohmann::json& status) const {
  if (!routing_ || !status.contains("policies") || !status["policies"].is_array()) return;
  auto mine = routing_->status_json();
  for (auto& p : status["policies"]) {
    for (const auto& r : mine) {
      if (r["name"] == p["name"]) p["last_resort_active"] = r["last_resort_active"];
    }
  }
  if (kernel_.objects && !kernel_.objects->by_owner().empty()) {
    auto owned = nlohmann::json::object();
    for (const auto& [owner, objs] : kernel_.objects->by_owner()) {
      auto routes = nlohmann::json::array(), rules = nlohmann::json::array();
      for (const auto& r : objs.routes) routes.push_back(r.to_string());
      for (const auto& r : objs.rules) rules.push_back(r.to_string());
      owned[owner] = {{"routes", routes}, {"rules", rules}};
    }
    status["kernel_objects"] = owned;
  }
}

}  // namespace uplink
