#include "policy/routing.h"

#include <algorithm>

#include "common/log.h"
#include "net/facts.h"
#include "common/marks.h"

namespace uplink {

namespace {

auto log() { return get_logger("policy"); }

constexpr Duration kRefreshDelay = std::chrono::milliseconds(50);

}  // namespace

Routing::Routing(const Config& config, TimeSource& time, Netlink& netlink, NetlinkMonitor& monitor, Nftables& nft,
                 Conntrack& conntrack, QualityTuning tuning, KernelObjects* shared)
    : config_(config),
      time_(time),
      netlink_(netlink),
      monitor_(monitor),
      nft_(nft),
      conntrack_(conntrack),
      engine_(time, tuning),
      programmer_(netlink, nft, time, ProgrammerTuning{}, shared),
      refresh_timer_(time.make_timer()) {
  engine_.on_change([this](const std::vector<PolicyChange>& changes) { on_changes(changes); });
}

Routing::~Routing() = default;

Result<void> Routing::start() {
  if (auto ok = validate_for_kernel(config_); !ok) return ok;
  if (auto ok = monitor_.start([this](const NetlinkEvent& e) { on_netlink(e); }); !ok)
    log()->warn("{}", ok.error().message);  // degraded, not fatal: the periodic sync still repairs
  started_ = true;
  engine_.set_config(config_);
  auto facts = gather_facts(netlink_, interfaces());
  if (!facts) return make_error("routing start: " + facts.error().message);
  facts_ = std::move(*facts);
  overlay_learned();
  auto ks = build_kernel_state(config_, engine_.decisions(), facts_);
  if (!ks) return ks.error();
  log_warnings(*ks);
  // The first apply reads the kernel back: it adopts a predecessor's objects
  // that match and removes the rest.
  if (auto ok = programmer_.apply(*ks); !ok)
    log()->warn("initial programming failed, retrying in the background: {}", ok.error().message);
  return {};
}

Result<void> Routing::stop() {
  started_ = false;
  monitor_.stop();
  refresh_timer_->cancel();
  return programmer_.remove_all(config_.daemon.fail_closed);
}

Result<void> Routing::apply_config(const Config& config) {
  if (auto ok = validate_for_kernel(config); !ok) return make_error("configuration not applied: " + ok.error().message);
  auto ks = build_kernel_state(config, engine_.decisions(), facts_);
  if (!ks) return make_error("configuration not applied: " + ks.error().message);
  if (auto ok = nft_.check(nft_full_load(ks->nft)); !ok)
    return make_error("configuration not applied: the nftables ruleset would not load: " + ok.error().message);
  // Links that disappear: their flows must re-form elsewhere.
  std::vector<std::pair<std::string, uint32_t>> gone;
  for (const auto& [name, l] : config_.links) {
    auto it = config.links.find(name);
    if (it == config.links.end() || it->second.fwmark != l.fwmark) gone.emplace_back(name, l.fwmark);
  }
  auto old_marks = MarkLayout::from_mask(config_.daemon.fwmark_mask);
  config_ = config;
  if (started_) {
    engine_.set_config(config_);  // reprograms through on_changes if decisions changed
    refresh_facts();
    program();
    for (const auto& [name, mark] : gone) {
      link_usage_.erase(name);
      if (!old_marks) continue;
      conntrack_.flush_mark_async(mark, old_marks->link_mask, [name = name](Result<size_t> n) {
        if (n) log()->info("link {} removed: {} conntrack entries deleted", name, *n);
        else log()->warn("link {} removed: {}", name, n.error().message);
      });
    }
  }
  return {};
}

void Routing::on_link_state(const std::string& link, LinkState state, const LinkQuality& quality) {
  LinkState old = engine_.link_state(link);
  engine_.update_link(link, state, quality);  // may call on_changes() (programs, flushes)
  if (old != state) {
    // A link that went down while in no policy's active set may still hold
    // sticky or WAN-inbound flows.
    flush_links();
  }
}

void Routing::on_changes(const std::vector<PolicyChange>& changes) {
  if (!started_) return;
  program();  // routing first: the ≤5 ms path
  flush_links();
  for (const auto& c : changes)
    if (callbacks_.on_policy_change) callbacks_.on_policy_change(c);
}

void Routing::program() {
  auto ks = build_kernel_state(config_, engine_.decisions(), facts_);
  if (!ks) {
    log()->error("cannot build the desired kernel state: {}; kernel left as it is", ks.error().message);
    return;
  }
  log_warnings(*ks);
  if (auto ok = programmer_.apply(*ks); !ok)
    log()->warn("programming failed, retry scheduled: {}", ok.error().message);
}

void Routing::log_warnings(const KernelState& ks) {
  std::set<std::string> now(ks.warnings.begin(), ks.warnings.end());
  for (const auto& w : now)
    if (!warnings_.count(w)) log()->warn("{}", w);
  warnings_ = std::move(now);
}

// Conntrack entries are deleted per link, only on transitions:
//   usable -> unusable: every flow of the link (sticky ones too);
//   usable, active somewhere -> usable, active nowhere: the non-sticky flows.
// A link that left one policy but still serves another keeps its flows, so
// a change in one policy never disturbs another policy's flows.
void Routing::flush_links() {
  auto marks = MarkLayout::from_mask(config_.daemon.fwmark_mask);
  if (!marks) return;
  for (const auto& [name, l] : config_.links) {
    bool usable = carries_traffic(engine_.link_state(name));
    bool active = engine_.link_active_anywhere(name);
    auto [it, fresh] = link_usage_.try_emplace(name, usable, active);
    auto [was_usable, was_active] = it->second;
    it->second = {usable, active};
    if (fresh) continue;
    std::optional<uint32_t> mask;
    if (was_usable && !usable) mask = marks->link_mask;
    else if (usable && was_active && !active) mask = marks->mask;  // sticky bit must be clear
    if (!mask) continue;
    // Queued (a worker deletes, see AsyncConntrackFlusher): routing has
    // switched already and never waits for the kernel to walk the table.
    conntrack_.flush_mark_async(l.fwmark, *mask, [name = name, usable](Result<size_t> n) {
      if (n) log()->info("link {}: {} conntrack entries deleted ({})", name, *n, usable ? "left all policies" : "unusable");
      else log()->warn("link {}: {}", name, n.error().message);
    });
  }
}

void Routing::on_netlink(const NetlinkEvent& e) {
  if (e.kind == NetlinkEvent::Kind::route || e.kind == NetlinkEvent::Kind::rule) {
    programmer_.schedule_sync();
  }
  const LinkConfig* link = e.ifname.empty() ? nullptr : link_by_interface(e.ifname);
  if (link) {
    switch (e.kind) {
      case NetlinkEvent::Kind::link:
        if (callbacks_.on_carrier) callbacks_.on_carrier(e.ifname, e.link.up && e.link.carrier);
        break;
      case NetlinkEvent::Kind::link_gone:
        if (callbacks_.on_link_gone) callbacks_.on_link_gone(e.ifname);
        break;
      case NetlinkEvent::Kind::address_added:
      case NetlinkEvent::Kind::address_removed:
        if (callbacks_.on_address)
          callbacks_.on_address(e.ifname, e.address.prefix, e.kind == NetlinkEvent::Kind::address_added);
        break;
      default: break;
    }
  }
  // Interfaces, addresses and learned gateways feed the desired state:
  // re-read them once the burst of events is over.
  if (!refresh_timer_->armed())
    refresh_timer_->arm(kRefreshDelay, [this] {
      refresh_facts();
      program();
    });
}

void Routing::refresh_facts() {
  auto facts = gather_facts(netlink_, interfaces());
  if (!facts) {
    log()->warn("{}; keeping the previous view of the interfaces", facts.error().message);
    return;
  }
  facts_ = std::move(*facts);
  overlay_learned();
}

void Routing::set_learned_next_hops(const std::string& link, std::optional<IpAddress> gw4,
                                    std::optional<IpAddress> gw6) {
  if (!gw4 && !gw6) learned_.erase(link);
  else learned_[link] = {gw4, gw6};
  if (!started_) return;
  refresh_facts();  // re-read: a withdrawn next hop must not linger in the facts
  program();
}

// A module's learned next hops win over what the kernel's foreign default routes say.
void Routing::overlay_learned() {
  for (const auto& [link, gws] : learned_) {
    auto l = config_.links.find(link);
    if (l == config_.links.end()) continue;
    auto f = facts_.find(l->second.interface);
    if (f == facts_.end()) continue;
    if (gws.first) f->second.gateway4 = gws.first;
    if (gws.second) f->second.gateway6 = gws.second;
  }
}

std::vector<std::string> Routing::interfaces() const {
  std::vector<std::string> out;
  for (const auto& [name, l] : config_.links) out.push_back(l.interface);
  return out;
}

const LinkConfig* Routing::link_by_interface(const std::string& ifname) const {
  for (const auto& [name, l] : config_.links)
    if (l.interface == ifname) return &l;
  return nullptr;
}

nlohmann::json Routing::status_json() const {
  auto out = nlohmann::json::array();
  std::vector<std::string> order = config_.policy_order;
  for (const auto& [name, p] : config_.policies)
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  for (const auto& name : order) {
    auto p = config_.policies.find(name);
    if (p == config_.policies.end()) continue;
    auto d = engine_.decisions().find(name);
    auto active = nlohmann::json::array();
    bool last_resort = true;
    if (d != engine_.decisions().end()) {
      for (const auto& m : d->second.active) active.push_back(m.link);
      last_resort = d->second.last_resort();
    }
    out.push_back({{"name", name}, {"mode", std::string(to_string(p->second.mode))}, {"active", active},
                   {"last_resort_active", last_resort}});
  }
  return out;
}

}  // namespace uplink
