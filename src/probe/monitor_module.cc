#include "probe/monitor_module.h"

#include "common/log.h"

namespace uplink {

namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = get_logger("monitor");
  return l;
}

bool is_v6_link_local(const IpPrefix& p) {
  return p.addr.is_v6() && p.addr.bytes[0] == 0xfe && (p.addr.bytes[1] & 0xc0) == 0x80;
}

// Links in file order (link_order), then any the order does not name.
std::vector<std::string> ordered_links(const Config& c) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& n : c.link_order)
    if (c.links.count(n) && seen.insert(n).second) out.push_back(n);
  for (const auto& [n, l] : c.links)
    if (seen.insert(n).second) out.push_back(n);
  return out;
}

// A new prober is made when one of these changes (LinkMonitor::reconfigure).
bool needs_new_prober(const LinkConfig& a, const LinkConfig& b) {
  return a.probe.method != b.probe.method || a.probe.targets != b.probe.targets ||
         a.probe.http_path != b.probe.http_path || a.probe.dns_name != b.probe.dns_name ||
         a.interface != b.interface || a.fwmark != b.fwmark || a.gateway != b.gateway ||
         a.probe.source != b.probe.source;
}

}  // namespace

std::optional<InterfaceStatus> read_interface_status(Netlink& netlink, const std::string& ifname) {
  auto links = netlink.list_links();
  if (!links) {
    logger()->warn("cannot read interface {}: {}; assuming it is usable until netlink says otherwise", ifname,
                   links.error().message);
    return std::nullopt;
  }
  InterfaceStatus st;
  int ifindex = 0;
  for (const auto& l : *links) {
    if (l.name != ifname) continue;
    st.exists = true;
    st.carrier = l.up && l.carrier;
    ifindex = l.ifindex;
  }
  if (!st.exists) return st;
  auto addrs = netlink.list_addresses();
  if (!addrs) {
    logger()->warn("cannot read the addresses of {}: {}; assuming it is usable until netlink says otherwise", ifname,
                   addrs.error().message);
    return std::nullopt;
  }
  for (const auto& a : *addrs)
    if (a.ifindex == ifindex && !is_v6_link_local(a.prefix)) st.addresses.push_back(a.prefix);
  return st;
}

MonitorModule::MonitorModule(ModuleContext& ctx)
    : MonitorModule(ctx, ctx.services.get<probe::ProberFactory>(),
                    [nl = ctx.services.find<Netlink>()](const std::string& ifname) -> std::optional<InterfaceStatus> {
                      if (!nl) return std::nullopt;
                      return read_interface_status(*nl, ifname);
                    }) {}

MonitorModule::MonitorModule(ModuleContext& ctx, probe::ProberFactory& probers, InterfaceQuery query,
                             probe::MonitorOptions options)
    : time_(ctx.time),
      bus_(ctx.bus),
      table_(ctx.links),
      probers_(probers),
      query_(std::move(query)),
      options_(options),
      sync_timer_(ctx.time.make_timer()) {
  sub_interface_ = bus_.subscribe<InterfaceEvent>([this](const InterfaceEvent& e) { on_interface(e); });
  sub_signal_ = bus_.subscribe<HardSignalEvent>([this](const HardSignalEvent& e) { on_hard_signal(e); });
}

MonitorModule::~MonitorModule() {
  sync_timer_->cancel();
  bus_.unsubscribe(sub_interface_);
  bus_.unsubscribe(sub_signal_);
}

Result<void> MonitorModule::apply(const Config& next, const ConfigDiff& /*diff*/) {
  // The module reconciles against what it runs, not against `diff`: a
  // rollback (apply of the previous configuration) then needs no special case.
  //
  // Prepare: everything that can fail, before anything changes.
  if (stopped_) return make_error("link monitoring is stopped; configuration not applied");
  std::vector<std::pair<std::string, std::unique_ptr<probe::LinkMonitor>>> fresh;
  for (const auto& name : ordered_links(next)) {
    const LinkConfig& lc = next.links.at(name);
    auto it = links_.find(name);
    bool is_new = it == links_.end();
    if (!is_new && !needs_new_prober(it->second.config, lc)) continue;
    if (!probers_.make(lc)) {
      return make_error("link " + name + ": no prober for probe method " + std::string(to_string(lc.probe.method)) +
                        "; no link monitor was changed");
    }
    if (!is_new) continue;
    try {
      fresh.emplace_back(name, std::make_unique<probe::LinkMonitor>(
                                   lc, time_, probers_,
                                   [this, name](const LinkEvent& e) { on_monitor_change(name, e); }, options_));
    } catch (const std::exception& e) {
      return make_error("link " + name + ": cannot create its link monitor: " + e.what() +
                        "; no link monitor was changed");
    }
  }

  // Commit: nothing below fails.
  for (auto it = links_.begin(); it != links_.end();) {
    if (next.links.count(it->first)) {
      ++it;
      continue;
    }
    logger()->info("link {} removed: monitoring stopped", it->first);
    it->second.monitor->stop();
    it = links_.erase(it);
  }
  for (auto& [name, entry] : links_) {
    const LinkConfig& lc = next.links.at(name);
    if (entry.config == lc) continue;
    bool moved = entry.config.interface != lc.interface;
    entry.config = lc;
    entry.monitor->reconfigure(lc);  // also enable/disable: reports through on_monitor_change
    if (moved) seed_interface(entry);
  }
  for (auto& [name, monitor] : fresh) {
    Entry& entry = links_[name];
    entry.config = next.links.at(name);
    entry.monitor = std::move(monitor);
    seed_interface(entry);
    entry.monitor->start();
    logger()->info("link {} ({}): monitoring {} target(s) by {}{}", name, entry.config.interface,
                   entry.config.probe.targets.size(), to_string(entry.config.probe.method),
                   entry.config.enabled ? "" : " (disabled: no probes)");
    notify(name, entry);
  }
  // A link enabled by this change is still `disabled` in the table until the
  // daemon commits (the administrator's word wins over reports), and enabling
  // resets the table's verdict: report every verdict again from the
  // io_context, right after this apply.
  arm_sync(Duration::zero(), true);
  return {};
}

void MonitorModule::stop() {
  stopped_ = true;
  sync_timer_->cancel();
  for (auto& [name, entry] : links_) entry.monitor->stop();
}

void MonitorModule::on_monitor_change(const std::string& link, const LinkEvent& /*e*/) {
  // The event's state is the monitor's state; notify() adds its quality.
  auto it = links_.find(link);
  if (it == links_.end() || !it->second.monitor) return;
  notify(link, it->second);
}

void MonitorModule::notify(const std::string& link, const Entry& entry) {
  const probe::LinkMonitor& m = *entry.monitor;
  // Quality first: the transition's subscribers (routing) read it from the table.
  table_.report_quality(link, m.quality());
  table_.report_verdict(link, m.state(), m.reason());
}

void MonitorModule::on_interface(const InterfaceEvent& e) {
  switch (e.kind) {
    case InterfaceEvent::Kind::carrier: on_carrier(e.ifname, e.up); break;
    case InterfaceEvent::Kind::address: on_address(e.ifname, e.address, e.up); break;
    case InterfaceEvent::Kind::gone: on_link_gone(e.ifname); break;
  }
}

void MonitorModule::on_hard_signal(const HardSignalEvent& e) {
  auto it = links_.find(e.link);
  if (it == links_.end()) return;
  Entry& entry = it->second;
  if (e.down) entry.external[e.source] = e.reason;
  else entry.external.erase(e.source);
  bool down = !entry.external.empty();
  entry.monitor->on_external_signal(down, down ? entry.external.begin()->second : "");
}

void MonitorModule::seed_interface(Entry& entry) {
  entry.addresses.clear();
  entry.addresses_known = false;
  entry.interface_present = true;
  probe::LinkMonitor& m = *entry.monitor;
  auto st = query_ ? query_(entry.config.interface) : std::nullopt;
  if (!st) {
    // Unknown: clear what an earlier interface may have held; probes decide.
    m.on_interface_back();
    m.on_address(true);
    m.on_carrier(true);
    return;
  }
  entry.addresses_known = true;
  entry.interface_present = st->exists;
  if (!st->exists) {
    logger()->warn("link {}: interface {} does not exist; the link stays down until it appears", entry.config.name,
                   entry.config.interface);
    m.on_interface_gone();
    return;
  }
  entry.addresses.insert(st->addresses.begin(), st->addresses.end());
  m.on_interface_back();
  // Address first, carrier last: when both are missing, carrier_lost is the reason shown.
  m.on_address(!entry.addresses.empty());
  m.on_carrier(st->carrier);
}

std::vector<MonitorModule::Entry*> MonitorModule::entries_on(const std::string& ifname) {
  std::vector<Entry*> out;
  for (auto& [name, entry] : links_)
    if (entry.config.interface == ifname) out.push_back(&entry);
  return out;
}

void MonitorModule::on_carrier(const std::string& ifname, bool up) {
  for (Entry* e : entries_on(ifname)) {
    if (!e->interface_present) {
      // The interface is back (a new ifindex): read its addresses afresh.
      logger()->info("link {}: interface {} is back", e->config.name, ifname);
      seed_interface(*e);
      e->interface_present = true;  // the event says it exists, whatever a racing dump said
      e->monitor->on_interface_back();
    }
    e->monitor->on_carrier(up);
  }
}

void MonitorModule::on_address(const std::string& ifname, const IpPrefix& address, bool added) {
  if (is_v6_link_local(address)) return;
  for (Entry* e : entries_on(ifname)) {
    if (added) {
      e->addresses.insert(address);
      e->monitor->on_address(true);
      continue;
    }
    e->addresses.erase(address);
    if (!e->addresses_known && query_) {
      if (auto st = query_(ifname)) {
        e->addresses = std::set<IpPrefix>(st->addresses.begin(), st->addresses.end());
        e->addresses_known = true;
      }
    }
    if (!e->addresses_known) continue;  // cannot tell whether another address remains: probes decide
    if (e->addresses.empty()) e->monitor->on_address(false);
  }
}

void MonitorModule::on_link_gone(const std::string& ifname) {
  for (Entry* e : entries_on(ifname)) {
    e->interface_present = false;
    e->addresses.clear();
    e->addresses_known = true;
    e->monitor->on_interface_gone();
  }
}

void MonitorModule::arm_sync(Duration after, bool verdicts) {
  sync_timer_->cancel();
  sync_timer_->arm(after, [this, verdicts] { sync(verdicts); });
}

void MonitorModule::sync(bool verdicts) {
  for (const auto& [name, entry] : links_) {
    if (verdicts) notify(name, entry);
    else table_.report_quality(name, entry.monitor->quality());
  }
  if (!stopped_) arm_sync(sync_interval_, false);
}

void MonitorModule::add_status(nlohmann::json& status) const {
  nlohmann::json probes = nlohmann::json::object();
  for (const auto& [name, entry] : links_) probes[name] = entry.monitor->stats_json();
  status["probes"] = std::move(probes);
}

void MonitorModule::add_metrics(std::string& text) const {
  std::vector<const probe::LinkMonitor*> monitors;
  for (const auto& [name, entry] : links_) monitors.push_back(entry.monitor.get());
  if (monitors.empty()) return;
  text += probe::probe_metrics(monitors);
}

void MonitorModule::add_link_detail(const std::string& link, nlohmann::json& detail) const {
  if (const probe::LinkMonitor* m = monitor(link)) detail["probes"] = m->stats_json();
}

const probe::LinkMonitor* MonitorModule::monitor(const std::string& link) const {
  auto it = links_.find(link);
  return it == links_.end() ? nullptr : it->second.monitor.get();
}

std::optional<nlohmann::json> MonitorModule::link_stats(const std::string& link) const {
  const probe::LinkMonitor* m = monitor(link);
  if (!m) return std::nullopt;
  return m->stats_json();
}

}  // namespace uplink
