#include "daemon/monitor_module.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/diff.h"
#include "daemon/daemon.h"
#include "daemon/test_support.h"
#include "daemon/wiring_test_support.h"
#include "net/testing/fake_netlink.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using testing::address;
using testing::ifaddr;
using testing::probed_config;
using testing::RecordingSink;
using testing::ScriptedProbers;


struct Observed {
  std::string link;
  LinkState state;
  std::string reason;
  LinkQuality quality;
};

class MonitorModuleTest : public ::testing::Test {
 protected:
  MonitorModuleTest() {
    interfaces["eth1"] = {true, true, {ifaddr("198.18.1.2", 24)}};
    interfaces["eth2"] = {true, true, {ifaddr("198.18.2.2", 24), ifaddr("2001:db8:2::2", 64)}};
    interfaces["wwan0"] = {true, true, {ifaddr("198.18.3.2", 24)}};
    module.set_observer([this](const std::string& l, LinkState s, const LinkQuality& q, const std::string& r) {
      observed.push_back({l, s, r, q});
    });
  }
  Result<void> apply(const Config& next) {
    auto r = module.apply(next, diff_configs(current, next));
    if (r) current = next;
    return r;
  }
  LinkState state(const std::string& link) const {
    auto* m = module.monitor(link);
    return m ? m->state() : LinkState::unknown;
  }
  std::string reason(const std::string& link) const { return module.monitor(link)->reason(); }
  // The last state the observer (routing) was told for a link.
  std::optional<LinkState> observed_state(const std::string& link) const {
    for (auto it = observed.rbegin(); it != observed.rend(); ++it)
      if (it->link == link) return it->state;
    return std::nullopt;
  }
  static probe::MonitorOptions options() {
    probe::MonitorOptions o;
    o.seed = 7;
    return o;
  }

  FakeTimeSource time;
  ScriptedProbers probers{time};
  RecordingSink sink;
  std::map<std::string, InterfaceStatus> interfaces;
  std::vector<Observed> observed;
  MonitorModule module{time, probers, sink,
                       [this](const std::string& ifname) -> std::optional<InterfaceStatus> {
                         auto it = interfaces.find(ifname);
                         if (it == interfaces.end()) return InterfaceStatus{};
                         return it->second;
                       },
                       options()};
  Config current;
};

TEST_F(MonitorModuleTest, AddedLinksProbeAndComeUpReportingSinkAndObserver) {
  ASSERT_TRUE(apply(probed_config()).ok());
  EXPECT_EQ(module.size(), 3u);
  // Told at once (unknown), before any probe answered.
  EXPECT_EQ(observed_state("wan1"), LinkState::unknown);
  time.advance(500ms);  // round 1 at 0, round 2 at fast_interval: up_after = 2
  for (const char* l : {"wan1", "wan2", "cell1"}) {
    EXPECT_EQ(state(l), LinkState::up) << l;
    EXPECT_EQ(sink.state(l), LinkState::up) << l;
    EXPECT_EQ(observed_state(l), LinkState::up) << l;
    EXPECT_EQ(sink.last_reason(l), "probes_ok") << l;
  }
  EXPECT_EQ(probers.targets["wan1"], (std::set<std::string>{"203.0.113.1", "203.0.113.2"}));
  ASSERT_TRUE(sink.quality["wan1"].latency_ms.has_value());
  EXPECT_NEAR(*sink.quality["wan1"].latency_ms, 10.0, 0.5);
}

TEST_F(MonitorModuleTest, QualityIsPushedEverySecond) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  int reports = sink.quality_reports;
  size_t seen = observed.size();
  time.advance(3s);
  // 3 links x 3 syncs at least (state changes would add more; there are none now).
  EXPECT_GE(sink.quality_reports - reports, 9);
  EXPECT_LE(sink.quality_reports - reports, 12);
  EXPECT_GE(observed.size() - seen, 9u);
  ASSERT_TRUE(observed.back().quality.latency_ms.has_value());
  EXPECT_EQ(observed.back().state, LinkState::up);
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
  EXPECT_EQ(probers.made["wan2"], 2) << "enable must not rebuild the prober (check + monitor at add only)";

  // Disable: routing hears it during the apply itself, probes stop.
  c.links["wan2"].enabled = false;
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(state("wan2"), LinkState::disabled);
  EXPECT_EQ(observed_state("wan2"), LinkState::disabled);
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
  size_t seen = observed.size();
  auto r = apply(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("link wan3"), std::string::npos) << r.error().message;
  EXPECT_EQ(module.monitor("wan3"), nullptr);
  EXPECT_EQ(state("wan1"), LinkState::up);
  EXPECT_EQ(observed.size(), seen) << "nothing reported for a rejected apply";
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
  module.on_carrier("eth1", false);
  // Synchronously: the sink and routing know before any timer runs.
  EXPECT_EQ(state("wan1"), LinkState::down);
  EXPECT_EQ(reason("wan1"), "carrier_lost");
  EXPECT_EQ(observed_state("wan1"), LinkState::down);
  EXPECT_EQ(sink.state("wan1"), LinkState::down);
  EXPECT_EQ(state("wan2"), LinkState::up);
  int sent = probers.sent["wan1"];
  time.advance(3s);
  EXPECT_EQ(probers.sent["wan1"], sent) << "no probe while the carrier is lost";
  module.on_carrier("eth1", true);
  time.advance(1s);  // earned again: up_after good rounds
  EXPECT_EQ(state("wan1"), LinkState::up);
  module.on_carrier("eth9", false);  // not a link interface
  EXPECT_EQ(state("wan1"), LinkState::up);
}

TEST_F(MonitorModuleTest, AddressLostOnlyWhenTheInterfaceHasNoneLeft) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  module.on_address("eth2", ifaddr("fe80::1", 64), false);  // link-local: ignored
  module.on_address("eth2", ifaddr("198.18.2.2", 24), false);
  EXPECT_EQ(state("wan2"), LinkState::up) << "2001:db8:2::2 is still there";
  module.on_address("eth2", ifaddr("2001:db8:2::2", 64), false);
  EXPECT_EQ(state("wan2"), LinkState::down);
  EXPECT_EQ(reason("wan2"), "address_lost");
  EXPECT_EQ(observed_state("wan2"), LinkState::down);
  module.on_address("eth2", ifaddr("198.18.2.7", 24), true);
  time.advance(1s);
  EXPECT_EQ(state("wan2"), LinkState::up);
}

TEST_F(MonitorModuleTest, InterfaceGoneAndBack) {
  ASSERT_TRUE(apply(probed_config()).ok());
  time.advance(2s);
  module.on_link_gone("wwan0");
  EXPECT_EQ(state("cell1"), LinkState::down);
  EXPECT_EQ(reason("cell1"), "interface_gone");
  // The modem re-creates the interface: the link event carries its carrier.
  module.on_carrier("wwan0", true);
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
  module.on_address("eth1", ifaddr("198.18.1.2", 24), true);
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
  module.on_carrier("eth2", false);  // the old interface is not this link's any more
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
  int sent = probers.sent["wan1"] + probers.sent["wan2"] + probers.sent["cell1"];
  int reports = sink.quality_reports;
  time.advance(5s);
  EXPECT_EQ(probers.sent["wan1"] + probers.sent["wan2"] + probers.sent["cell1"], sent);
  EXPECT_EQ(sink.quality_reports, reports);
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
  MonitorModule monitor(time, probers, daemon, [](const std::string& ifname) -> std::optional<InterfaceStatus> {
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
