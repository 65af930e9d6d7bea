#include "probe/monitor_module.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/diff.h"
#include "core/testing/bus_recorder.h"
#include "core/testing/module_harness.h"
#include "daemon/daemon.h"
#include "daemon/test_support.h"
#include "net/testing/fake_netlink.h"
#include "probe/testing/scripted_probers.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using testing::address;
using testing::ifaddr;
using testing::probed_config;
using testing::ScriptedProbers;

class MonitorModuleTest : public ::testing::Test {
 protected:
  MonitorModuleTest() {
    interfaces["eth1"] = {true, true, {ifaddr("198.18.1.2", 24)}};
    interfaces["eth2"] = {true, true, {ifaddr("198.18.2.2", 24), ifaddr("2001:db8:2::2", 64)}};
    interfaces["wwan0"] = {true, true, {ifaddr("198.18.3.2", 24)}};
  }
  // As the daemon applies: link table entries around the module's apply.
  Result<void> apply(const Config& next) { return h.apply(module, next); }
  // The link monitor's own state.
  LinkState state(const std::string& link) const {
    auto* m = module.monitor(link);
    return m ? m->state() : LinkState::unknown;
  }
  std::string reason(const std::string& link) const { return module.monitor(link)->reason(); }
  // The last state the link table announced (what routing, hooks and events see).
  std::optional<LinkState> observed_state(const std::string& link) const { return bus.last_state(link); }
  // Netlink, as the routing module publishes it.
  void carrier(const std::string& ifname, bool up) {
    h.bus.publish(InterfaceEvent{ifname, InterfaceEvent::Kind::carrier, up, {}});
  }
  void addr_event(const std::string& ifname, const IpPrefix& a, bool added) {
    h.bus.publish(InterfaceEvent{ifname, InterfaceEvent::Kind::address, added, a});
  }
  void gone(const std::string& ifname) { h.bus.publish(InterfaceEvent{ifname, InterfaceEvent::Kind::gone, false, {}}); }
  int sent_total() { return probers.sent["wan1"] + probers.sent["wan2"] + probers.sent["cell1"]; }
  static probe::MonitorOptions options() {
    probe::MonitorOptions o;
    o.seed = 7;
    return o;
  }

  FakeTimeSource time;
  ScriptedProbers probers{time};
  testing::ModuleHarness h{time};
  testing::BusRecorder bus{h.bus};
  std::map<std::string, InterfaceStatus> interfaces;
  MonitorModule module{h.ctx, probers,
                       [this](const std::string& ifname) -> std::optional<InterfaceStatus> {
                         auto it = interfaces.find(ifname);
                         if (it == interfaces.end()) return InterfaceStatus{};
                         return it->second;
                       },
                       options()};
};

TEST_F(MonitorModuleTest, AddedLinksProbeAndComeUpInTheLinkTable) {
  ASSERT_TRUE(apply(probed_config()).ok());
  EXPECT_EQ(module.size(), 3u);
  // In the table at once (unknown), before any probe answered; no event for that.
  EXPECT_EQ(h.state("wan1"), LinkState::unknown);
  EXPECT_EQ(observed_state("wan1"), std::nullopt);
  time.advance(500ms);  // round 1 at 0, round 2 at fast_interval: up_after = 2
  for (const char* l : {"wan1", "wan2", "cell1"}) {
    EXPECT_EQ(state(l), LinkState::up) << l;
    EXPECT_EQ(h.state(l), LinkState::up) << l;
    EXPECT_EQ(observed_state(l), LinkState::up) << l;
    EXPECT_EQ(h.reason(l), "probes_ok") << l;
    EXPECT_EQ(h.links.find(l)->transitions, 1u) << l << ": one event per transition";
  }
  EXPECT_EQ(bus.link_events.size(), 3u);
  EXPECT_EQ(probers.targets["wan1"], (std::set<std::string>{"203.0.113.1", "203.0.113.2"}));
  ASSERT_TRUE(h.links.find("wan1")->quality.latency_ms.has_value());
  EXPECT_NEAR(*h.links.find("wan1")->quality.latency_ms, 10.0, 0.5);
}

TEST_F(MonitorModuleTest, QualityIsPushedEverySecond) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  int reports = bus.quality_total;
  size_t events = bus.link_events.size();
  time.advance(3s);
  // 3 links x 3 syncs at least (state changes would add more; there are none now).
  EXPECT_GE(bus.quality_total - reports, 9);
  EXPECT_LE(bus.quality_total - reports, 12);
  EXPECT_EQ(bus.link_events.size(), events) << "a quality refresh is no transition";
  ASSERT_TRUE(h.links.find("wan1")->quality.latency_ms.has_value());
  EXPECT_EQ(h.state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, DisabledLinkSendsNothingAndIsDisabledAtOnce) {
  Config c = probed_config();
  c.links["wan2"].enabled = false;
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(state("wan2"), LinkState::disabled);
  EXPECT_EQ(reason("wan2"), "admin");
  time.advance(5s);
  EXPECT_EQ(probers.sent["wan2"], 0);
  EXPECT_GT(probers.sent["wan1"], 0);

  // Enable: probing starts, the link earns up.
  c.links["wan2"].enabled = true;
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(state("wan2"), LinkState::unknown);
  time.advance(500ms);
  EXPECT_EQ(state("wan2"), LinkState::up);
  EXPECT_EQ(observed_state("wan2"), LinkState::up);
  EXPECT_EQ(h.state("wan2"), LinkState::up);
  EXPECT_EQ(probers.made["wan2"], 2) << "enable must not rebuild the prober (check + monitor at add only)";

  // Disable: the table says so once the change is committed (admin), probes stop.
  c.links["wan2"].enabled = false;
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(state("wan2"), LinkState::disabled);
  EXPECT_EQ(observed_state("wan2"), LinkState::disabled);
  EXPECT_EQ(h.reason("wan2"), "admin");
  int sent = probers.sent["wan2"];
  time.advance(5s);
  EXPECT_EQ(probers.sent["wan2"], sent);
}

TEST_F(MonitorModuleTest, RemovedLinkStopsProbingAndChangedTargetsRebuildTheProber) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  Config c = probed_config();
  c.links.erase("cell1");
  std::erase(c.link_order, "cell1");
  c.policies["default"].members.pop_back();
  c.policies.erase("cellular");
  std::erase(c.policy_order, "cellular");
  c.rules = {c.rules[1]};
  c.links["wan1"].probe.targets = {testing::probe_target("203.0.113.9")};
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(module.monitor("cell1"), nullptr);
  EXPECT_EQ(module.size(), 2u);
  int cell_sent = probers.sent["cell1"];
  probers.targets["wan1"].clear();
  time.advance(3s);
  EXPECT_EQ(probers.sent["cell1"], cell_sent);
  EXPECT_EQ(probers.targets["wan1"], (std::set<std::string>{"203.0.113.9"}));
  EXPECT_EQ(state("wan1"), LinkState::up) << "reconfigure keeps the state";
}

TEST_F(MonitorModuleTest, APrepareFailureChangesNothing) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  Config c = probed_config();
  c.links["wan1"].enabled = false;  // would be switched in the commit
  LinkConfig wan3 = c.links["wan2"];
  wan3.name = "wan3";
  wan3.interface = "eth3";
  wan3.table = 104;
  wan3.fwmark = 0x400;
  c.links["wan3"] = wan3;
  c.link_order.push_back("wan3");
  probers.fail.insert("wan3");
  size_t seen = bus.link_events.size();
  int quality = bus.quality_total;
  auto r = apply(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("link wan3"), std::string::npos) << r.error().message;
  EXPECT_EQ(module.monitor("wan3"), nullptr);
  EXPECT_EQ(state("wan1"), LinkState::up);
  EXPECT_EQ(bus.link_events.size(), seen) << "nothing reported for a rejected apply";
  EXPECT_EQ(bus.quality_total, quality);
  EXPECT_FALSE(h.links.contains("wan3"));
  time.advance(3s);
  EXPECT_EQ(state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, RecoveryAfterAnOutageIsUpNotDegraded) {
  Config c = probed_config();
  c.links["wan1"].quality = QualityConfig{};
  c.links["wan1"].quality->max_loss = 5;
  ASSERT_TRUE(apply(c).ok());
  time.advance(2s);
  probers.dead.insert("wan1");
  time.advance(5s);  // a long outage: many failed rounds while down
  ASSERT_EQ(state("wan1"), LinkState::down);
  probers.dead.clear();
  time.advance(1s);
  EXPECT_EQ(state("wan1"), LinkState::up) << "outage rounds are not path loss; reason " << reason("wan1");
  EXPECT_EQ(observed_state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, CarrierLossTakesOnlyThatLinkDownAtOnce) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  carrier("eth1", false);
  // Synchronously: the table (and so routing) knows before any timer runs.
  EXPECT_EQ(state("wan1"), LinkState::down);
  EXPECT_EQ(reason("wan1"), "carrier_lost");
  EXPECT_EQ(observed_state("wan1"), LinkState::down);
  EXPECT_EQ(h.state("wan1"), LinkState::down);
  EXPECT_EQ(h.reason("wan1"), "carrier_lost");
  EXPECT_EQ(state("wan2"), LinkState::up);
  int sent = probers.sent["wan1"];
  time.advance(3s);
  EXPECT_EQ(probers.sent["wan1"], sent) << "no probe while the carrier is lost";
  carrier("eth1", true);
  time.advance(1s);  // earned again: up_after good rounds
  EXPECT_EQ(state("wan1"), LinkState::up);
  carrier("eth9", false);  // not a link interface
  EXPECT_EQ(state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, AddressLostOnlyWhenTheInterfaceHasNoneLeft) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  addr_event("eth2", ifaddr("fe80::1", 64), false);  // link-local: ignored
  addr_event("eth2", ifaddr("198.18.2.2", 24), false);
  EXPECT_EQ(state("wan2"), LinkState::up) << "2001:db8:2::2 is still there";
  addr_event("eth2", ifaddr("2001:db8:2::2", 64), false);
  EXPECT_EQ(state("wan2"), LinkState::down);
  EXPECT_EQ(reason("wan2"), "address_lost");
  EXPECT_EQ(observed_state("wan2"), LinkState::down);
  addr_event("eth2", ifaddr("198.18.2.7", 24), true);
  time.advance(1s);
  EXPECT_EQ(state("wan2"), LinkState::up);
}

TEST_F(MonitorModuleTest, InterfaceGoneAndBack) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  gone("wwan0");
  EXPECT_EQ(state("cell1"), LinkState::down);
  EXPECT_EQ(reason("cell1"), "interface_gone");
  EXPECT_EQ(h.reason("cell1"), "interface_gone");
  // The modem re-creates the interface: the link event carries its carrier.
  carrier("wwan0", true);
  time.advance(1s);
  EXPECT_EQ(state("cell1"), LinkState::up);
}

TEST_F(MonitorModuleTest, InitialInterfaceStateIsSeededFromTheKernel) {
  interfaces.erase("wwan0");                  // modem not there yet
  interfaces["eth2"].carrier = false;         // cable out
  interfaces["eth1"].addresses.clear();       // DHCP not done
  ASSERT_TRUE(apply(probed_config()).ok());
  EXPECT_EQ(state("cell1"), LinkState::down);
  EXPECT_EQ(reason("cell1"), "interface_gone");
  EXPECT_EQ(reason("wan2"), "carrier_lost");
  EXPECT_EQ(reason("wan1"), "address_lost");
  EXPECT_EQ(observed_state("cell1"), LinkState::down);
  time.advance(3s);
  EXPECT_EQ(probers.sent["cell1"] + probers.sent["wan2"] + probers.sent["wan1"], 0);
  addr_event("eth1", ifaddr("198.18.1.2", 24), true);
  time.advance(1s);
  EXPECT_EQ(state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, MovingALinkToAnotherInterfaceRereadsIt) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  Config c = probed_config();
  c.links["wan2"].interface = "eth7";  // absent
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(reason("wan2"), "interface_gone");
  carrier("eth2", false);  // the old interface is not this link's any more
  EXPECT_EQ(reason("wan2"), "interface_gone");
}

TEST_F(MonitorModuleTest, StatusAndMetrics) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  nlohmann::json status = nlohmann::json::object();
  module.add_status(status);
  ASSERT_TRUE(status["probes"].contains("wan1"));
  EXPECT_EQ(status["probes"]["wan1"]["state"], "up");
  EXPECT_EQ(status["probes"]["wan1"]["targets"].size(), 2u);
  EXPECT_EQ(status["probes"]["wan1"]["targets"][0]["target"], "203.0.113.1");
  auto stats = module.link_stats("wan2");
  ASSERT_TRUE(stats.has_value());
  EXPECT_GT((*stats)["targets"][0]["sent"].get<int>(), 0);
  EXPECT_FALSE(module.link_stats("nope").has_value());
  nlohmann::json detail = {{"name", "wan1"}};
  module.add_link_detail("wan1", detail);
  EXPECT_EQ(detail["probes"]["targets"].size(), 2u);
  EXPECT_TRUE(detail["probes"]["targets"][0]["timeout_ms"].is_number());

  std::string text;
  module.add_metrics(text);
  EXPECT_EQ(text.find("uplink_link_state"), std::string::npos) << "the daemon exports that family itself";
  EXPECT_NE(text.find("# TYPE uplink_probe_sent_total counter"), std::string::npos);
  EXPECT_NE(text.find("uplink_probe_sent_total{link=\"wan1\""), std::string::npos);
}

TEST_F(MonitorModuleTest, StopSilencesEveryLink) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  module.stop();
  int sent = sent_total();
  int reports = bus.quality_total;
  time.advance(5s);
  EXPECT_EQ(sent_total(), sent);
  EXPECT_EQ(bus.quality_total, reports);
}

// Another module (cellular: the bearer) raises a hard signal in the link
// table: the link is down at once with that reason, the monitor holds it
// (no probes), and after the signal clears the link earns its return with
// up_after good rounds, as after a carrier loss.
TEST_F(MonitorModuleTest, AHardSignalHoldsTheLinkDownAndItsReturnIsEarned) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  ASSERT_EQ(h.state("cell1"), LinkState::up);
  bus.clear();
  h.links.set_hard_signal("cell1", "bearer", "bearer_disconnected");
  EXPECT_EQ(state("cell1"), LinkState::down) << "the monitor holds it down";
  EXPECT_EQ(h.state("cell1"), LinkState::down);
  EXPECT_EQ(h.reason("cell1"), "bearer_disconnected");
  EXPECT_EQ(bus.order, std::vector<std::string>{"link cell1 down (bearer_disconnected)"}) << "one event";
  int sent = probers.sent["cell1"];
  time.advance(5s);
  EXPECT_EQ(probers.sent["cell1"], sent) << "no probes while held";
  EXPECT_EQ(h.state("cell1"), LinkState::down);
  EXPECT_GT(probers.sent["wan1"], 0);
  EXPECT_EQ(h.state("wan1"), LinkState::up) << "only that link";

  h.links.clear_hard_signal("cell1", "bearer");
  EXPECT_EQ(h.state("cell1"), LinkState::down) << "clearing the signal does not bring it back by itself";
  time.advance(50ms);  // one good round (at once, answered after 10 ms): not enough (up_after 2)
  EXPECT_GT(probers.sent["cell1"], sent) << "probing again";
  EXPECT_EQ(h.state("cell1"), LinkState::down);
  time.advance(1s);
  EXPECT_EQ(state("cell1"), LinkState::up);
  EXPECT_EQ(h.state("cell1"), LinkState::up);
  EXPECT_EQ(h.reason("cell1"), "probes_ok");
}

TEST_F(MonitorModuleTest, AHardSignalOnAnotherLinkOrAnUnknownLinkChangesNothingHere) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  h.bus.publish(HardSignalEvent{"nope", "bearer", true, "bearer_disconnected"});  // no such link
  for (const char* l : {"wan1", "wan2", "cell1"}) EXPECT_EQ(state(l), LinkState::up) << l;
  // Two sources: the link stays held until both are cleared.
  h.links.set_hard_signal("cell1", "bearer", "bearer_disconnected");
  h.links.set_hard_signal("cell1", "registration", "not_registered");
  h.links.clear_hard_signal("cell1", "bearer");
  int sent = probers.sent["cell1"];
  time.advance(3s);
  EXPECT_EQ(probers.sent["cell1"], sent) << "still held by the registration";
  EXPECT_EQ(h.state("cell1"), LinkState::down);
  EXPECT_EQ(h.links.find("cell1")->hard_down.count("registration"), 1u);
  h.links.clear_hard_signal("cell1", "registration");
  time.advance(2s);
  EXPECT_EQ(h.state("cell1"), LinkState::up);
}

TEST(ReadInterfaceStatus, ReadsCarrierAndNonLinkLocalAddresses) {
  FakeNetlink nl;
  nl.links = {{11, "eth1", true, true}, {12, "eth2", true, false}};
  nl.addresses = {{11, ifaddr("198.18.1.2", 24)}, {11, ifaddr("fe80::1", 64)}, {12, ifaddr("198.18.2.2", 24)}};
  auto a = read_interface_status(nl, "eth1");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->exists);
  EXPECT_TRUE(a->carrier);
  EXPECT_EQ(a->addresses, (std::vector<IpPrefix>{ifaddr("198.18.1.2", 24)}));
  auto b = read_interface_status(nl, "eth2");
  EXPECT_FALSE(b->carrier);
  EXPECT_FALSE(read_interface_status(nl, "wwan0")->exists);
}

// Through the real Daemon: a later module fails, the daemon rolls the monitor
// back, the links it had keep their state.
TEST(MonitorModuleInDaemon, RollbackRemovesTheAddedLinkAndKeepsTheOthers) {
  FakeTimeSource time;
  testing::TempConfig file;
  Daemon daemon(time, file.load());
  ScriptedProbers probers(time);
  ModuleContext ctx = daemon.context();
  MonitorModule monitor(ctx, probers, [](const std::string& ifname) -> std::optional<InterfaceStatus> {
    if (ifname == "eth3") return InterfaceStatus{};  // not there (yet)
    return InterfaceStatus{true, true, {ifaddr("198.18.9.2", 24)}};
  });
  testing::ScriptedModule later("later");
  daemon.add_module(monitor);
  daemon.add_module(later);
  ASSERT_TRUE(daemon.start().ok());
  time.advance(3s);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::up);
  ASSERT_TRUE(daemon.links().at("wan1").quality.latency_ms.has_value());
  EXPECT_EQ(daemon.links().at("wan2").state, LinkState::disabled);

  Config next = daemon.config();
  LinkConfig wan3 = next.links.at("wan1");
  wan3.name = "wan3";
  wan3.interface = "eth3";
  wan3.table = 250;
  wan3.fwmark = 0x3000;
  next.links["wan3"] = wan3;
  next.link_order.push_back("wan3");
  later.fail_next = true;
  ASSERT_FALSE(daemon.apply_config(next).ok());
  EXPECT_EQ(monitor.monitor("wan3"), nullptr);
  EXPECT_EQ(monitor.size(), 2u);
  time.advance(3s);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::up);
  EXPECT_EQ(daemon.links().at("wan1").transitions, 1u) << "unknown -> up only";

  // The daemon has the new link's entry before the modules apply, so a state
  // decided during the apply (interface missing) lands at once.
  ASSERT_TRUE(daemon.apply_config(next).ok());
  EXPECT_EQ(monitor.monitor("wan3")->state(), LinkState::down);
  EXPECT_EQ(daemon.links().at("wan3").state, LinkState::down);
  EXPECT_EQ(daemon.links().at("wan3").reason, "interface_gone");
}

}  // namespace
}  // namespace uplink
