#pragma once
// MonitorModule ("monitor"): one LinkMonitor (src/probe) per configured link,
// plugged into the daemon.
//
//   apply(next) -- prepare: a prober for every new link (nothing touched yet)
//               -- commit:  create+start | reconfigure (enabled too) | stop+destroy
//
//   LinkMonitor change --+--> LinkStateSink: report_link_state + report_link_quality
//                        +--> observer (main wires RoutingModule::on_link_state)
//   sync timer (now after each apply, then every second) --> the same two, with
//                        fresh latency/jitter/loss for status and quality-mode policies
//
//   netlink hard signals (by interface, from RoutingModule) --> interface -> link(s) -> LinkMonitor
//
// The observer and the sink are called synchronously from inside the monitor's
// state change: they must not call back into this module synchronously (hard
// signals come from netlink, i.e. later, from the io_context).
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/ip.h"
#include "daemon/module.h"
#include "net/netlink.h"
#include "probe/link_monitor.h"
#include "probe/prober.h"

namespace uplink {

// What the kernel says about a link's interface when monitoring starts (or the
// link moves to another interface); later changes arrive as hard signals.
struct InterfaceStatus {
  bool exists = false;
  bool carrier = false;
  std::vector<IpPrefix> addresses;  // IPv6 link-local left out: never a probe source
};
// nullopt: the kernel could not be asked; the link is assumed usable and probes decide.
using InterfaceQuery = std::function<std::optional<InterfaceStatus>(const std::string& ifname)>;

// The real query over rtnetlink (one link dump and one address dump).
std::optional<InterfaceStatus> read_interface_status(Netlink& netlink, const std::string& ifname);

class MonitorModule final : public Module {
 public:
  using LinkObserver = std::function<void(const std::string& link, LinkState state, const LinkQuality& quality,
                                          const std::string& reason)>;

  MonitorModule(TimeSource& time, probe::ProberFactory& probers, LinkStateSink& sink, InterfaceQuery query = {},
                probe::MonitorOptions options = {});
  ~MonitorModule() override;
  MonitorModule(const MonitorModule&) = delete;
  MonitorModule& operator=(const MonitorModule&) = delete;

  // Told every state change and, every second, the current state with fresh quality.
  void set_observer(LinkObserver observer) { observer_ = std::move(observer); }
  // How often quality figures are pushed (default 1 s).
  void set_sync_interval(Duration d) { sync_interval_ = d; }

  std::string_view name() const override { return "monitor"; }
  Result<void> apply(const Config& next, const ConfigDiff& diff) override;
  void stop() override;
  // status["probes"][link] = the link's probe figures (LinkMonitor::stats_json).
  void add_status(nlohmann::json& status) const override;
  // probe_metrics(): latency, jitter, loss, probe counters (the state family is the daemon's).
  void add_metrics(std::string& text) const override;
  // detail["probes"] = the link's probe figures (targets, counters, timeouts).
  void add_link_detail(const std::string& link, nlohmann::json& detail) const override;

  // Hard signals, by interface name. An address removal takes the link down
  // only when its interface has no address left.
  void on_carrier(const std::string& ifname, bool up);
  void on_address(const std::string& ifname, const IpPrefix& address, bool added);
  void on_link_gone(const std::string& ifname);

  // nullptr for an unknown link.
  const probe::LinkMonitor* monitor(const std::string& link) const;
  // The figures of `uplinkctl link show NAME --json` (nullopt for an unknown link).
  std::optional<nlohmann::json> link_stats(const std::string& link) const;
  size_t size() const { return links_.size(); }

 private:
  struct Entry {
    LinkConfig config;
    std::unique_ptr<probe::LinkMonitor> monitor;
    bool interface_present = true;
    bool addresses_known = false;    // seeded from the kernel; else removals cannot be judged
    std::set<IpPrefix> addresses;
  };

  void on_monitor_change(const std::string& link, const LinkEvent& e);
  void notify(const std::string& link, const Entry& entry);
  // Brings the monitor's hard-signal flags in line with the kernel's view of its interface.
  void seed_interface(Entry& entry);
  std::vector<Entry*> entries_on(const std::string& ifname);
  void arm_sync(Duration after);
  void sync();

  TimeSource& time_;
  probe::ProberFactory& probers_;
  LinkStateSink& sink_;
  InterfaceQuery query_;
  probe::MonitorOptions options_;
  LinkObserver observer_;
  Duration sync_interval_ = std::chrono::seconds(1);
  std::unique_ptr<Timer> sync_timer_;
  bool stopped_ = false;
  std::map<std::string, Entry> links_;
};

}  // namespace uplink
