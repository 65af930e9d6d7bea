#include "policy/routing_module.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include "config/diff.h"
#include "core/testing/bus_recorder.h"
#include "core/testing/module_harness.h"
#include "daemon/daemon.h"
#include "daemon/views.h"
#include "net/testing/fake_conntrack.h"
#include "net/testing/fake_netlink.h"
#include "net/testing/fake_nftables.h"
#include "probe/monitor_module.h"
#include "probe/testing/scripted_probers.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using testing::address;
using testing::ifaddr;
using testing::probed_config;
using testing::ScriptedProbers;
using Strings = std::vector<std::string>;

// A kernel with the three link interfaces, as the fakes of src/net see it.
struct FakeKernel {
  FakeKernel() {
    nl.links = {{11, "eth1", true, true}, {12, "eth2", true, true}, {13, "wwan0", true, true}, {1, "lo", true, true}};
    nl.addresses = {{11, ifaddr("198.18.1.2", 24)}, {12, ifaddr("198.18.2.2", 24)}, {13, ifaddr("198.18.3.2", 24)}};
    nl.routes = {{{AF_INET, 254, {{AF_INET}, 0}, address("198.18.2.1"), 12}, 4}};  // DHCP's default on eth2
  }
  RoutingKernel handles() { return RoutingKernel{nl, monitor, nft, ct, &objects, &nft_monitor}; }
  bool chain_has(const std::string& chain, const std::string& text) const {
    if (!nft.table) return false;
    auto pos = nft.table->find("\tchain " + chain + " {\n");
    if (pos == std::string::npos) return false;
    return nft.table->substr(pos, nft.table->find("\t}\n", pos) - pos).find(text) != std::string::npos;
  }
  void emit_carrier(int ifindex, const std::string& ifname, bool carrier) {
    NetlinkEvent e;
    e.kind = NetlinkEvent::Kind::link;
    e.link = {ifindex, ifname, true, carrier};
    e.ifname = ifname;
    monitor.emit(e);
  }

  FakeNetlink nl;
  FakeNetlinkMonitor monitor;
  FakeNftables nft;
  FakeNftChangeMonitor nft_monitor;
  FakeConntrack ct;
  KernelObjects objects;
};

// Routing on its own: link states come from the link table (as the monitor
// reports them), what routing says goes on the bus.
class RoutingModuleTest : public ::testing::Test {
 protected:
  // As the daemon applies: link table entries around the module's apply.
  Result<void> apply(const Config& next) { return h.apply(routing, next); }
  // What the monitor reports: quality first, then the verdict.
  void report(const std::string& l, LinkState s, LinkQuality q, const std::string& reason) {
    h.links.report_quality(l, q);
    h.links.report_verdict(l, s, reason);
  }
  void up(const std::string& l) { report(l, LinkState::up, {20.0, 1.0, 0.0}, "probes_ok"); }
  void down(const std::string& l) { report(l, LinkState::down, {}, "probe_timeout"); }
  // The bus's PolicyEvents and their reasons.
  const std::vector<PolicyEvent>& changes() const { return bus.policy_events; }
  Strings reasons() const {
    Strings out;
    for (const auto& e : bus.policy_events) out.push_back(e.reason);
    return out;
  }
  Strings active(const std::string& policy) const { return bus.active.at(policy); }

  FakeTimeSource time;
  FakeKernel k;
  testing::ModuleHarness h{time};
  testing::BusRecorder bus{h.bus};
  RoutingModule routing{h.ctx, k.handles()};
};

TEST_F(RoutingModuleTest, FirstApplyStartsRoutingAtLastResort) {
  EXPECT_FALSE(routing.running());
  ASSERT_TRUE(apply(probed_config()).ok());
  EXPECT_TRUE(routing.running());
  EXPECT_TRUE(k.monitor.handler != nullptr) << "watching netlink";
  EXPECT_TRUE(k.chain_has("policy_default", "goto last_resort_unreachable"));
  EXPECT_FALSE(k.nl.owned_rules().empty());
  // Every policy's active set goes on the bus with the apply itself.
  EXPECT_EQ(active("default"), Strings{});
  EXPECT_EQ(bus.active.count("cellular"), 1u);
  EXPECT_EQ(bus.active_reports, 2);
  EXPECT_TRUE(bus.policy_events.empty()) << "starting at the last resort is no change";
}

TEST_F(RoutingModuleTest, LinkStatesMovePoliciesAndTheDaemonIsTold) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan1");
  EXPECT_EQ(active("default"), Strings{"wan1"});
  up("wan2");
  EXPECT_EQ(active("default"), (Strings{"wan1", "wan2"}));
  EXPECT_TRUE(k.chain_has("policy_default", "numgen random mod 4 vmap { 0-2 : goto link_wan1, 3 : goto link_wan2 }"));
  k.ct.entries = {0x100, 0x200};
  time.advance(1s);
  down("wan1");
  EXPECT_EQ(active("default"), Strings{"wan2"});
  EXPECT_TRUE(k.chain_has("policy_default", "goto link_wan2"));
  EXPECT_EQ(k.ct.entries, std::vector<uint32_t>{0x200}) << "only wan1's flows are flushed";
  ASSERT_EQ(changes().size(), 3u);
  const PolicyEvent& last = changes().back();
  EXPECT_EQ(last.policy, "default");
  EXPECT_EQ(last.active_before, (Strings{"wan1", "wan2"}));
  EXPECT_EQ(last.active, Strings{"wan2"});
  EXPECT_EQ(last.ts, time.wall_now());
  // The cause, as data: which link changed to what.
  EXPECT_EQ(last.cause_link, "wan1");
  EXPECT_EQ(last.cause, "down");
  EXPECT_EQ(reasons(), (Strings{"wan1 up", "wan2 up", "wan1 down"}));
  // The link event first, then the policy change it caused.
  EXPECT_EQ(bus.order.back(), "policy default wan1,wan2 -> wan2 (wan1 down)");
  EXPECT_EQ(bus.order[bus.order.size() - 2], "link wan1 down (probe_timeout)");

  nlohmann::json status = {{"policies", {{{"name", "default"}, {"active", {"wan2"}}}, {{"name", "cellular"}}}}};
  routing.add_status(status);
  EXPECT_EQ(status["policies"][0]["last_resort_active"], false);
  EXPECT_EQ(status["policies"][1]["last_resort_active"], true);
}

TEST_F(RoutingModuleTest, ReasonNamesTheLastResortWhenNothingIsLeft) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan2");
  down("wan2");
  ASSERT_EQ(changes().size(), 2u);
  EXPECT_EQ(changes()[1].active, Strings{});
  EXPECT_EQ(changes()[1].cause, "down");
  EXPECT_EQ(reasons(), (Strings{"wan2 up", "wan2 down; last_resort"}));
}

// A hard signal raised in the table by another module (cellular: the bearer)
// moves traffic like any transition; its reason is the link's state.
TEST_F(RoutingModuleTest, AHardSignalInTheTableMovesTraffic) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("cell1");
  EXPECT_EQ(active("cellular"), Strings{"cell1"});
  h.links.set_hard_signal("cell1", "bearer", "bearer_disconnected");
  EXPECT_EQ(active("cellular"), Strings{});
  EXPECT_TRUE(k.chain_has("policy_cellular", "last_resort_blackhole")) << *k.nft.table;
  EXPECT_EQ(bus.policy_lines("cellular").back(), "policy cellular cell1 -> - (cell1 down; last_resort)");
  EXPECT_EQ(bus.link_events.back().reason, "bearer_disconnected");
}

// An administrative disable is committed after the modules applied: the
// table's "disabled (admin)" event, then routing's policy change.
TEST_F(RoutingModuleTest, AnAdminDisableMovesTrafficAfterItsLinkEvent) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan1");
  up("wan2");
  bus.clear();
  Config c = probed_config();
  c.links["wan1"].enabled = false;
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(bus.order, (Strings{"link wan1 disabled (admin)", "policy default wan1,wan2 -> wan2 (wan1 disabled)"}));
  EXPECT_EQ(bus.policy_events.back().cause_link, "wan1");
  EXPECT_EQ(bus.policy_events.back().cause, "disabled");
  EXPECT_EQ(active("default"), Strings{"wan2"});
  EXPECT_TRUE(k.chain_has("policy_default", "goto link_wan2"));
}

TEST_F(RoutingModuleTest, ReasonSaysConfigOrRemovedForConfigurationChanges) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan1");
  up("wan2");
  ASSERT_EQ(reasons().size(), 2u);
  Config c = probed_config();
  c.policies["default"].members = {{"wan2", 1, 1}, {"wan1", 2, 1}};  // wan2 alone in tier 1 now
  c.policies.erase("cellular");
  std::erase(c.policy_order, "cellular");
  std::erase_if(c.rules, [](const RuleConfig& r) { return r.policy == "cellular"; });
  ASSERT_TRUE(apply(c).ok());
  ASSERT_EQ(changes().size(), 4u);
  EXPECT_EQ(changes()[2].policy, "default");
  EXPECT_EQ(changes()[2].active, Strings{"wan2"});
  EXPECT_EQ(changes()[2].reason, "config");
  EXPECT_EQ(changes()[2].cause_link, "");
  EXPECT_EQ(changes()[2].cause, "config");
  EXPECT_EQ(changes()[3].policy, "cellular") << "a removed policy is reported, even from its last resort";
  EXPECT_EQ(changes()[3].active, Strings{});
  EXPECT_EQ(changes()[3].reason, "removed");
  EXPECT_EQ(changes()[3].cause, "removed");

  // A policy that carried traffic and is removed.
  Config d = c;
  PolicyConfig backup;
  backup.name = "backup";
  backup.members = {{"wan1", 1, 1}};
  d.policies["backup"] = backup;
  d.policy_order.push_back("backup");
  ASSERT_TRUE(apply(d).ok());
  ASSERT_EQ(changes().size(), 5u);
  EXPECT_EQ(changes()[4].policy, "backup");
  EXPECT_EQ(changes()[4].reason, "config");
  ASSERT_TRUE(apply(c).ok());
  ASSERT_EQ(changes().size(), 6u);
  EXPECT_EQ(changes()[5].policy, "backup");
  EXPECT_EQ(changes()[5].active_before, Strings{"wan1"});
  EXPECT_EQ(changes()[5].active, Strings{});
  EXPECT_EQ(changes()[5].reason, "removed") << "not last_resort: the policy is gone";
}

TEST_F(RoutingModuleTest, ReasonForAQualitySwitchAfterTheHoldTime) {
  Config c = probed_config();
  PolicyConfig q;
  q.name = "fast";
  q.mode = PolicyMode::quality;
  q.members = {{"wan1", 1, 1}, {"wan2", 1, 1}};
  c.policies["fast"] = q;
  c.policy_order.push_back("fast");
  ASSERT_TRUE(apply(c).ok());
  report("wan1", LinkState::up, {20.0, 1.0, 0.0}, "probes_ok");
  report("wan2", LinkState::up, {80.0, 1.0, 0.0}, "probes_ok");
  h.links.report_quality("wan2", {5.0, 1.0, 0.0});  // now better: must hold its margin
  auto fast = [&] {  // "wan1 (wan1 up)": the new active link and the reason
    Strings out;
    for (const auto& e : changes())
      if (e.policy == "fast" && e.active.size() == 1) out.push_back(e.active[0] + " (" + e.reason + ")");
    return out;
  };
  EXPECT_EQ(fast(), Strings{"wan1 (wan1 up)"});
  time.advance(QualityTuning{}.hold);
  EXPECT_EQ(fast(), (Strings{"wan1 (wan1 up)", "wan2 (quality)"}));
}

TEST_F(RoutingModuleTest, NetlinkHardSignalsGoOnTheBusForLinkInterfacesOnly) {
  ASSERT_TRUE(apply(probed_config()).ok());
  k.emit_carrier(11, "eth1", false);
  k.emit_carrier(1, "lo", false);  // not a link's interface
  NetlinkEvent addr;
  addr.kind = NetlinkEvent::Kind::address_removed;
  addr.address = {12, ifaddr("198.18.2.2", 24)};
  addr.ifname = "eth2";
  k.monitor.emit(addr);
  NetlinkEvent gone;
  gone.kind = NetlinkEvent::Kind::link_gone;
  gone.link = {13, "wwan0", false, false};
  gone.ifname = "wwan0";
  k.monitor.emit(gone);
  Strings seen;
  for (const auto& e : bus.interface_events) {
    switch (e.kind) {
      case InterfaceEvent::Kind::carrier: seen.push_back("carrier " + e.ifname + (e.up ? " up" : " down")); break;
      case InterfaceEvent::Kind::address: seen.push_back((e.up ? "+" : "-") + e.address.to_string() + " " + e.ifname); break;
      case InterfaceEvent::Kind::gone: seen.push_back("gone " + e.ifname); break;
    }
  }
  EXPECT_EQ(seen, (Strings{"carrier eth1 down", "-198.18.2.2/24 eth2", "gone wwan0"}));
  EXPECT_TRUE(bus.link_events.empty()) << "routing does not judge links: the monitor does, from these";
}

TEST_F(RoutingModuleTest, InvalidReloadChangesNothing) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan1");
  auto table = k.nft.table;
  auto rules = k.nl.rules;
  Config bad = probed_config();
  bad.links["wan2"].fwmark = 0x100;
  auto r = apply(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("wan1"), std::string::npos) << r.error().message;
  EXPECT_EQ(k.nft.table, table);
  EXPECT_EQ(k.nl.rules, rules);
  EXPECT_EQ(active("default"), Strings{"wan1"});
}

TEST_F(RoutingModuleTest, InvalidFirstApplyStartsNothing) {
  Config bad = probed_config();
  bad.links["wan2"].fwmark = 0x100;
  ASSERT_FALSE(apply(bad).ok());
  EXPECT_FALSE(routing.running());
  EXPECT_TRUE(k.monitor.handler == nullptr);
  EXPECT_FALSE(k.nft.table.has_value());
  EXPECT_TRUE(k.nl.owned_rules().empty());
  up("wan1");  // ignored, no crash
  ASSERT_TRUE(apply(probed_config()).ok());  // a good configuration later starts it
  EXPECT_TRUE(k.monitor.handler != nullptr);
  EXPECT_TRUE(routing.running());
}

TEST_F(RoutingModuleTest, ANewPolicyIsReportedByTheApply) {
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan2");
  Config c = probed_config();
  PolicyConfig backup;
  backup.name = "backup";
  backup.members = {{"wan2", 1, 1}};
  c.policies["backup"] = backup;
  c.policy_order.push_back("backup");
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(active("backup"), Strings{"wan2"});
  EXPECT_EQ(bus.policy_events.back().policy, "backup");
  EXPECT_EQ(bus.policy_events.back().reason, "config");
}

// A re-created module (or one applied after links were decided) starts from
// what the link table knows, not from "unknown".
TEST_F(RoutingModuleTest, StartsFromTheStatesAlreadyInTheTable) {
  Config c = probed_config();
  h.current = Config{};
  for (const auto& name : c.link_order) h.links.add(name, true, "startup");
  h.links.report_verdict("wan2", LinkState::up, "probes_ok");
  ASSERT_TRUE(apply(c).ok());
  EXPECT_EQ(active("default"), Strings{"wan2"});
  EXPECT_TRUE(k.chain_has("policy_default", "goto link_wan2"));
}

// Another owner's kernel objects (KernelObjects service) are programmed with
// routing's and shown in the status by owner.
TEST_F(RoutingModuleTest, OtherOwnersRoutesAreProgrammedAndShown) {
  ASSERT_TRUE(apply(probed_config()).ok());
  Route r{.family = AF_INET, .table = 200, .oif = 11};
  r.dst = {address("10.99.0.0"), 16};
  k.objects.set("testmod", OwnedObjects{{r}, {}});
  auto owned = k.nl.owned_routes();
  EXPECT_NE(std::find(owned.begin(), owned.end(), r), owned.end());
  up("wan1");  // routing's next apply keeps it
  owned = k.nl.owned_routes();
  EXPECT_NE(std::find(owned.begin(), owned.end(), r), owned.end());
  nlohmann::json status = {{"policies", nlohmann::json::array()}};
  routing.add_status(status);
  EXPECT_EQ(status["kernel_objects"]["testmod"]["routes"], nlohmann::json::array({r.to_string()}));
  k.objects.release("testmod");
  owned = k.nl.owned_routes();
  EXPECT_EQ(std::find(owned.begin(), owned.end(), r), owned.end());
}

// main() provides the kernel as services; the module takes it from there.
TEST(RoutingModuleServices, TakesTheKernelFromTheContext) {
  FakeTimeSource time;
  FakeKernel k;
  testing::ModuleHarness h{time};
  h.services.provide<Netlink>(k.nl);
  h.services.provide<NetlinkMonitor>(k.monitor);
  h.services.provide<Nftables>(k.nft);
  h.services.provide<Conntrack>(k.ct);
  RoutingModule routing{h.ctx};
  ASSERT_TRUE(h.apply(routing, probed_config()).ok());
  EXPECT_TRUE(routing.running());
  EXPECT_TRUE(k.chain_has("policy_default", "goto last_resort_unreachable"));
  routing.stop();
  EXPECT_FALSE(k.nft.table.has_value());

  testing::ModuleHarness bare{time};
  EXPECT_THROW(RoutingModule{bare.ctx}, std::logic_error) << "a wiring bug names the missing service";
}

// `nft flush ruleset` by a firewall reload: repaired after the debounce, not
// at the 30 s verification.
TEST_F(RoutingModuleTest, OurTableChangedByAnotherProcessIsRepairedAtOnce) {
  ASSERT_TRUE(apply(probed_config()).ok());
  ASSERT_TRUE(k.nft_monitor.handler) << "watching nftables once routing runs";
  time.advance(1s);
  std::string ours = *k.nft.table;
  k.nft.table.reset();  // the flush
  k.nft_monitor.emit();
  time.advance(100ms);
  ASSERT_TRUE(k.nft.table.has_value());
  EXPECT_EQ(*k.nft.table, ours);
  routing.stop();
  EXPECT_FALSE(k.nft_monitor.handler) << "stops watching before removing the table itself";
}

TEST_F(RoutingModuleTest, StopRemovesEverythingItAdded) {
  auto routes_before = k.nl.routes;
  auto rules_before = k.nl.rules;
  ASSERT_TRUE(apply(probed_config()).ok());
  up("wan1");
  up("wan2");
  ASSERT_FALSE(k.nl.owned_routes().empty());
  routing.stop();
  EXPECT_EQ(k.nl.routes, routes_before);
  EXPECT_EQ(k.nl.rules, rules_before);
  EXPECT_FALSE(k.nft.table.has_value());
  EXPECT_TRUE(k.monitor.handler == nullptr);
  EXPECT_FALSE(apply(probed_config()).ok()) << "a stopped module programs nothing";
  routing.stop();  // twice is harmless
}

// The daemon as main() wires it: Daemon + routing + monitor, fakes below.
// Both meet only on the daemon's seams: the monitor reports to the link table,
// routing follows its events; netlink reaches the monitor as InterfaceEvents.
class WiredDaemonTest : public ::testing::Test {
 protected:
  WiredDaemonTest() {
    daemon.add_module(routing);  // routing first: tables and mark rules before the first probe
    daemon.add_module(monitor);
    daemon.events().subscribe<LinkEvent>([this](const LinkEvent& e) { events.push_back(e); });
    daemon.events().subscribe_stream([this](const StreamRecord& r) { stream.push_back(r.json); });
  }
  // The stream's policy events of one policy, as `uplinkctl events` prints them.
  Strings policy_events(const std::string& policy) const {
    Strings out;
    for (const auto& e : stream)
      if (e.value("policy", "") == policy)
        out.push_back(e["active_before"].dump() + " -> " + e["active"].dump() + " (" +
                      e["reason"].get<std::string>() + ")");
    return out;
  }
  Strings active(const std::string& policy) const { return daemon.policies().at(policy).active; }

  FakeTimeSource time;
  FakeKernel k;
  ScriptedProbers probers{time};
  Daemon daemon{time, probed_config()};
  ModuleContext ctx = daemon.context();
  RoutingModule routing{ctx, k.handles()};
  MonitorModule monitor{ctx, probers, [this](const std::string& i) { return read_interface_status(k.nl, i); }};
  std::vector<LinkEvent> events;
  std::vector<nlohmann::json> stream;  // every event, as the control socket sends it
};

TEST_F(WiredDaemonTest, ProbesDecideRoutingAndCarrierLossFailsOverAtOnce) {
  ASSERT_TRUE(daemon.start().ok());
  time.advance(1s);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::up);
  EXPECT_EQ(active("default"), (Strings{"wan1", "wan2"}));
  EXPECT_EQ(active("cellular"), Strings{"cell1"});
  EXPECT_TRUE(k.chain_has("policy_default", "goto link_wan1"));
  nlohmann::json status = status_json(daemon);
  EXPECT_EQ(status["links"][0]["state"], "up");
  EXPECT_TRUE(status["links"][0]["latency_ms"].is_number());
  EXPECT_EQ(status["policies"][0]["active"], nlohmann::json({"wan1", "wan2"}));
  EXPECT_EQ(status["policies"][0]["last_resort_active"], false);
  EXPECT_EQ(status["probes"]["wan1"]["state"], "up");

  // Cable out on eth1: netlink -> routing -> bus -> monitor -> link table -> routing, no timer in between.
  k.ct.entries = {0x100, 0x200};
  events.clear();
  k.emit_carrier(11, "eth1", false);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::down);
  EXPECT_EQ(daemon.links().at("wan1").reason, "carrier_lost");
  EXPECT_EQ(active("default"), Strings{"wan2"});
  EXPECT_TRUE(k.chain_has("policy_default", "goto link_wan2"));
  EXPECT_EQ(k.ct.entries, std::vector<uint32_t>{0x200});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].from, LinkState::up);
  EXPECT_EQ(events[0].to, LinkState::down);

  k.emit_carrier(11, "eth1", true);
  time.advance(1s);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::up);
  EXPECT_EQ(active("default"), (Strings{"wan1", "wan2"}));

  // Administrative disable moves traffic by the time the apply returns.
  Config next = daemon.config();
  next.links["wan1"].enabled = false;
  ASSERT_TRUE(daemon.apply_config(next).ok());
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::disabled);
  EXPECT_EQ(active("default"), Strings{"wan2"});
  int sent = probers.sent["wan1"];
  time.advance(3s);
  EXPECT_EQ(probers.sent["wan1"], sent);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::disabled);

  // SIGTERM path: monitor stops probing, routing removes what it added.
  daemon.stop();
  EXPECT_TRUE(k.nl.owned_rules().empty());
  EXPECT_TRUE(k.nl.owned_routes().empty());
  EXPECT_FALSE(k.nft.table.has_value());
  int total = probers.sent["wan2"] + probers.sent["cell1"];
  time.advance(3s);
  EXPECT_EQ(probers.sent["wan2"] + probers.sent["cell1"], total);
}

TEST_F(WiredDaemonTest, APolicyChangeReachesTheEventStreamAfterItsLinkEvent) {
  ASSERT_TRUE(daemon.start().ok());
  time.advance(1s);
  ASSERT_EQ(active("default"), (Strings{"wan1", "wan2"}));
  EXPECT_EQ(policy_events("default"),
            (Strings{R"([] -> ["wan1"] (wan1 up))", R"(["wan1"] -> ["wan1","wan2"] (wan2 up))"}));
  EXPECT_EQ(policy_events("cellular"), Strings{R"([] -> ["cell1"] (cell1 up))"});

  // Carrier loss: the link event, then the policy event it caused, same instant.
  stream.clear();
  k.emit_carrier(11, "eth1", false);
  ASSERT_EQ(stream.size(), 2u);
  EXPECT_EQ(stream[0]["link"], "wan1");
  EXPECT_EQ(stream[0]["to"], "down");
  std::string ts = format_wall_time(time.wall_now());
  EXPECT_EQ(stream[1], (nlohmann::json{{"ts", ts}, {"policy", "default"}, {"active_before", {"wan1", "wan2"}},
                                      {"active", {"wan2"}}, {"reason", "wan1 down"}, {"cause_link", "wan1"},
                                      {"cause", "down"}}));
  EXPECT_EQ(stream[1], daemon.events().recent().back().json) << "the history has it too";

  // Administrative disable: the admin link event first, then the policy change of the apply.
  k.emit_carrier(11, "eth1", true);
  time.advance(1s);
  stream.clear();
  Config next = daemon.config();
  next.links["wan1"].enabled = false;
  ASSERT_TRUE(daemon.apply_config(next).ok());
  ASSERT_EQ(stream.size(), 2u);
  EXPECT_EQ(stream[0]["reason"], "admin");
  EXPECT_EQ(stream[1]["reason"], "wan1 disabled");
  EXPECT_EQ(stream[1]["active"], nlohmann::json({"wan2"}));

  // wan2 gone as well: cell1 (tier 2) takes over; then cell1 too: last resort.
  probers.dead = {"wan2"};
  time.advance(3s);
  probers.dead = {"wan2", "cell1"};
  time.advance(3s);
  auto last = policy_events("default");
  ASSERT_GE(last.size(), 2u);
  EXPECT_EQ(last[last.size() - 2], R"(["wan2"] -> ["cell1"] (wan2 down))");
  EXPECT_EQ(last.back(), R"(["cell1"] -> [] (cell1 down; last_resort))");

  uint64_t published = 0;
  for (const auto& r : daemon.events().recent())
    if (r.topic == "policy" && r.json["policy"] == "default") ++published;
  EXPECT_EQ(daemon.policies().at("default").changes, published);
  std::string sample = "\nuplink_policy_changes_total{policy=\"default\"} " + std::to_string(published) + "\n";
  EXPECT_NE(metrics_text(daemon).find(sample), std::string::npos);
  daemon.stop();
}

TEST_F(WiredDaemonTest, DeadLinkGoesDownByProbesAndTheNextTierTakesOver) {
  ASSERT_TRUE(daemon.start().ok());
  time.advance(1s);
  probers.dead = {"wan1", "wan2"};
  time.advance(3s);
  EXPECT_EQ(daemon.links().at("wan1").state, LinkState::down);
  EXPECT_EQ(daemon.links().at("wan1").reason, "probe_timeout");
  EXPECT_EQ(active("default"), Strings{"cell1"});
  probers.dead.clear();
  time.advance(3s);
  EXPECT_EQ(active("default"), (Strings{"wan1", "wan2"}));
  daemon.stop();
}

}  // namespace
}  // namespace uplink
