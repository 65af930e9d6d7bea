#include "daemon/routing_module.h"
#include "common/strings.h"

#include <utility>

#include "common/log.h"

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

// Sets `slot` for one synchronous call chain; restores it after (nesting-safe).
class CauseScope {
 public:
  CauseScope(std::string& slot, std::string cause) : slot_(slot), saved_(std::exchange(slot, std::move(cause))) {}
  ~CauseScope() { slot_ = std::move(saved_); }
  CauseScope(const CauseScope&) = delete;
  CauseScope& operator=(const CauseScope&) = delete;

 private:
  std::string& slot_;
  std::string saved_;
};

}  // namespace

RoutingModule::RoutingModule(TimeSource& time, RoutingKernel kernel, LinkStateSink& sink, QualityTuning tuning)
    : time_(time), kernel_(kernel), sink_(sink), tuning_(tuning) {}

RoutingModule::~RoutingModule() = default;

Result<void> RoutingModule::apply(const Config& next, const ConfigDiff& /*diff*/) {
  if (stopped_) return make_error("routing is stopped; configuration not applied");
  CauseScope cause(cause_, "config");
  std::erase_if(fed_, [&](const auto& kv) { return !next.links.count(kv.first); });
  if (!routing_) {
    auto r = std::make_unique<Routing>(next, time_, kernel_.netlink, kernel_.monitor, kernel_.nft, kernel_.conntrack,
                                       kernel_.hooks, tuning_);
    r->set_callbacks(RoutingCallbacks{
        .on_carrier = [this](const std::string& ifname, bool carrier) {
          if (signals_.on_carrier) signals_.on_carrier(ifname, carrier);
        },
        .on_address = [this](const std::string& ifname, const IpPrefix& address, bool added) {
          if (signals_.on_address) signals_.on_address(ifname, address, added);
        },
        .on_link_gone = [this](const std::string& ifname) {
          if (signals_.on_link_gone) signals_.on_link_gone(ifname);
        },
        .on_policy_change = [this](const PolicyChange& c) { on_policy_change(c); },
    });
    if (auto ok = r->start(); !ok) {
      // start() may have begun watching netlink with a handler into `r`.
      kernel_.monitor.stop();
      return make_error("cannot start routing: " + ok.error().message + "; nothing was programmed");
    }
    routing_ = std::move(r);
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

void RoutingModule::on_link_state(const std::string& link, LinkState state, const LinkQuality& quality,
                                  const std::string& reason) {
  if (!routing_ || stopped_) return;
  auto [it, first] = fed_.try_emplace(link, state);
  bool changed = first || it->second != state;
  it->second = state;
  CauseScope cause(cause_, link + " " + (changed ? std::string(to_string(state)) : std::string("quality")));
  routing_->on_link_state(link, state, quality, reason);
}

void RoutingModule::on_policy_change(const PolicyChange& c) {
  logger()->debug("policy-change: [{}] {} -> {}", c.policy, join(c.from, "last resort"), join(c.to, "last resort"));
  sink_.report_policy_active(c.policy, c.to);
  if (policy_listener_) policy_listener_(c, reason_for(c));
}

std::string RoutingModule::reason_for(const PolicyChange& c) const {
  // The engine has already dropped a removed policy from its decisions.
  if (routing_ && !routing_->decisions().count(c.policy)) return "removed";
  std::string why = cause_.empty() ? "quality" : cause_;
  return c.to.empty() ? why + "; last_resort" : why;
}

void RoutingModule::report_all_policies() {
  if (!routing_) return;
  for (const auto& [policy, decision] : routing_->decisions()) sink_.report_policy_active(policy, links_of(decision));
}

void RoutingModule::add_status(nlohmann::json& status) const {
  if (!routing_ || !status.contains("policies") || !status["policies"].is_array()) return;
  auto mine = routing_->status_json();
  for (auto& p : status["policies"]) {
    for (const auto& r : mine) {
      if (r["name"] == p["name"]) p["last_resort_active"] = r["last_resort_active"];
    }
  }
}

}  // namespace uplink
