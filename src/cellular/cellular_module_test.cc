// The cellular module on its seams: modems matched to links, the bearer's
// address and next hop applied, verbs, status and metrics without secrets.
#include "cellular/cellular_module.h"

#include <gtest/gtest.h>

#include "cellular/cellular_config.h"
#include "cellular/testing/fake_backend.h"
#include "config/testing/parse_with.h"
#include "core/testing/module_harness.h"
#include "core/topics.h"
#include "net/testing/fake_netlink.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;
using cellular::BearerInfo;
using cellular::BearerIp;
using cellular::ModemInfo;
using cellular::testing::FakeBackend;

ModemInfo modem(int index, const std::string& imei, const std::string& port) {
  ModemInfo m;
  m.path = "/org/freedesktop/ModemManager1/Modem/" + std::to_string(index);
  m.index = index;
  m.equipment_id = imei;
  m.primary_port = port;
  m.state = cellular::ModemState::registered;
  m.registration = cellular::Registration::home;
  m.signal = 60;
  return m;
}

BearerInfo bearer(int line) {
  BearerInfo b;
  b.path = "/org/freedesktop/ModemManager1/Bearer/" + std::to_string(line);
  b.connected = true;
  b.interface = line == 3 ? "wwan0" : "wwan1";
  BearerIp ip;
  ip.method = BearerIp::Method::static_ip;
  ip.address = IpPrefix{*IpAddress::parse("198.18." + std::to_string(line) + ".2"), 24};
  ip.gateway = *IpAddress::parse("198.18." + std::to_string(line) + ".1");
  ip.mtu = 1430;
  b.ipv4 = ip;
  return b;
}

TEST(MatchModem, SelectorsPickTheirModem) {
  std::map<std::string, ModemInfo> m;
  for (auto x : {modem(4, "111", "cdc-wdm1"), modem(2, "222", "cdc-wdm0")}) m[x.path] = x;
  EXPECT_EQ(match_modem("any", m, {}), m.begin()->first);  // lowest index
  EXPECT_EQ(*match_modem("any", m, {}), "/org/freedesktop/ModemManager1/Modem/2");
  EXPECT_EQ(*match_modem("any", m, {"/org/freedesktop/ModemManager1/Modem/2"}), "/org/freedesktop/ModemManager1/Modem/4");
  EXPECT_EQ(*match_modem("imei:111", m, {}), "/org/freedesktop/ModemManager1/Modem/4");
  EXPECT_EQ(*match_modem("port:cdc-wdm0", m, {}), "/org/freedesktop/ModemManager1/Modem/2");
  EXPECT_EQ(*match_modem("index:4", m, {}), "/org/freedesktop/ModemManager1/Modem/4");
  EXPECT_FALSE(match_modem("imei:999", m, {}));
  EXPECT_FALSE(match_modem("imei:356938035643809", m, {"/org/freedesktop/ModemManager1/Modem/4"}));
}

const char* kConfig = R"([daemon]
state_dir = "/nonexistent-uplinkd-test"
[links.cell1]
kind = "cellular"
interface = "wwan0"
modem = "imei:356938035643809"
apn = "iot.private"
apn_user = "scada"
apn_password = "very-secret"
[links.cell1.probe]
targets = ["203.0.113.1"]
[links.cell2]
kind = "cellular"
interface = "wwan1"
apn = "internet"
[links.cell2.probe]
targets = ["203.0.113.1"]
[policies.default]
mode = "failover"
members = [{ link = "cell1", tier = 1 }, { link = "cell2", tier = 2 }]
)";

class CellularModuleTest : public ::testing::Test {
 protected:
  CellularModuleTest() : h(time) {
    netlink.links = {{7, "wwan0", false, true, false}, {8, "wwan1", false, true, false}};
    h.bus.subscribe<LinkNextHopEvent>([this](const LinkNextHopEvent& e) { hops.push_back(e); });
    h.bus.subscribe<ModemEvent>([this](const ModemEvent& e) { events.push_back(e); });
    module = std::make_unique<CellularModule>(h.ctx, backend, &netlink);
    config = parse_config(kConfig, "t.toml", testing::registry_with<register_cellular_config>());
  }
  FakeTimeSource time;
  testing::ModuleHarness h;
  FakeBackend backend;
  FakeNetlink netlink;
  std::vector<LinkNextHopEvent> hops;
  std::vector<ModemEvent> events;
  Config config;
  std::unique_ptr<CellularModule> module;  // last: its stop() still publishes into the vectors above
};

TEST_F(CellularModuleTest, TwoModemsTwoLinksBothConnected) {
  ASSERT_TRUE(h.apply(*module, config));
  EXPECT_EQ(backend.starts, 1);
  EXPECT_EQ(h.reason("cell1"), "modem_pending");
  backend.listener->on_service(true);
  EXPECT_EQ(h.reason("cell1"), "no_modem");
  // The "any" link must not take cell1's modem, even when it appears first.
  backend.listener->on_modem(modem(0, "356938035643809", "cdc-wdm0"));
  backend.listener->on_modem(modem(1, "356938035643817", "cdc-wdm1"));
  auto c1 = backend.take("connect");
  auto c2 = backend.take("connect");
  EXPECT_EQ(c1.modem, "/org/freedesktop/ModemManager1/Modem/0");
  EXPECT_EQ(c1.request.apn, "iot.private");
  EXPECT_EQ(c2.modem, "/org/freedesktop/ModemManager1/Modem/1");
  EXPECT_EQ(c2.request.apn, "internet");
  c1.connected(bearer(3), cellular::ConnectFailure::none);
  c2.connected(bearer(4), cellular::ConnectFailure::none);
  // Addresses on the interfaces, MTU set, next hops to routing; hard signals cleared.
  auto has = [&](int ifindex, const char* p) {
    for (const auto& a : netlink.addresses)
      if (a.ifindex == ifindex && a.prefix.to_string() == p) return true;
    return false;
  };
  EXPECT_TRUE(has(7, "198.18.3.2/24"));
  EXPECT_TRUE(has(8, "198.18.4.2/24"));
  EXPECT_EQ(netlink.mtus[7], 1430);
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_EQ(hops[0].link, "cell1");
  EXPECT_EQ(hops[0].gateway4->to_string(), "198.18.3.1");
  EXPECT_TRUE(h.links.find("cell1")->hard_down.empty());

  // Probes found it good; then a dropped bearer: down at once, address gone,
  // next hop withdrawn, reconnecting at once.
  h.links.report_verdict("cell1", LinkState::up, "probes_ok");
  EXPECT_EQ(h.state("cell1"), LinkState::up);
  auto b = bearer(3);
  b.connected = false;
  b.ipv4.reset();
  backend.listener->on_bearer("/org/freedesktop/ModemManager1/Modem/0", b);
  EXPECT_EQ(h.state("cell1"), LinkState::down);
  EXPECT_EQ(h.reason("cell1"), "bearer_disconnected");
  EXPECT_FALSE(has(7, "198.18.3.2/24"));
  EXPECT_FALSE(hops.back().gateway4);
  EXPECT_TRUE(backend.has("connect"));
}

TEST_F(CellularModuleTest, ModemManagerGoneTakesOnlyCellularDown) {
  ASSERT_TRUE(h.apply(*module, config));
  backend.listener->on_service(true);
  backend.listener->on_modem(modem(0, "356938035643809", "cdc-wdm0"));
  backend.take("connect").connected(bearer(3), cellular::ConnectFailure::none);
  backend.listener->on_service(false);
  EXPECT_EQ(h.reason("cell1"), "modem_manager_unavailable");
  EXPECT_EQ(h.reason("cell2"), "modem_manager_unavailable");
  EXPECT_TRUE(netlink.addresses.empty());
}

TEST_F(CellularModuleTest, StatusVerbsAndMetricsNeverShowThePassword) {
  ASSERT_TRUE(h.apply(*module, config));
  backend.listener->on_service(true);
  backend.listener->on_modem(modem(0, "356938035643809", "cdc-wdm0"));
  auto c = backend.take("connect");
  EXPECT_EQ(c.request.password, "very-secret");
  c.connected(bearer(3), cellular::ConnectFailure::none);
  nlohmann::json status;
  module->add_status(status);
  ASSERT_TRUE(status.contains("modems"));
  EXPECT_EQ(status["modems"][0]["phase"], "connected");
  EXPECT_EQ(status["modems"][0]["modem"]["equipment_id"], "356938035643809");
  EXPECT_EQ(status["modems"][0]["bearer"]["ipv4"]["address"], "198.18.3.2/24");
  std::string metrics;
  module->add_metrics(metrics);
  EXPECT_NE(metrics.find("uplink_modem_connected{link=\"cell1\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("uplink_modem_signal_percent{link=\"cell1\"} 60"), std::string::npos) << metrics;
  const control::Verb* v = h.verbs.find("modems");
  ASSERT_NE(v, nullptr);
  auto reply = v->handler(control::Request{"modems", {{"cmd", "modems"}}});
  ASSERT_TRUE(reply.ok);
  std::string everything = status.dump() + metrics + reply.result.dump();
  for (const auto& e : events) everything += e.detail;
  EXPECT_EQ(everything.find("very-secret"), std::string::npos);
  EXPECT_NE(reply.result["text"].get<std::string>().find("cell1"), std::string::npos);
}

TEST_F(CellularModuleTest, ModemVerbChecksItsArguments) {
  ASSERT_TRUE(h.apply(*module, config));
  const control::Verb* v = h.verbs.find("modem");
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->changes_state);
  auto call = [&](nlohmann::json argv) {
    return v->handler(control::Request{"modem", {{"cmd", "modem"}, {"argv", argv}}});
  };
  auto r = call({"nosuch", "reset"});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("no cellular link 'nosuch' (cellular links: cell1, cell2)"), std::string::npos) << r.error;
  EXPECT_FALSE(call({"cell1"}).ok);
  EXPECT_FALSE(call({"cell1", "sim-slot", "x"}).ok);
  r = call({"cell1", "reset"});
  EXPECT_FALSE(r.ok);  // no modem yet
  EXPECT_NE(r.error.find("no modem"), std::string::npos);
  backend.listener->on_service(true);
  backend.listener->on_modem(modem(0, "356938035643809", "cdc-wdm0"));
  EXPECT_TRUE(call({"cell1", "reconnect"}).ok);
  EXPECT_TRUE(backend.has("disconnect"));
}

TEST_F(CellularModuleTest, NoCellularLinksNeverTouchesModemManager) {
  // modem = "none": cellular (metered), but its interface is configured by someone else.
  Config c = parse_config(R"([links.wan1]
kind = "ethernet"
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]
[links.hilink]
kind = "cellular"
interface = "usb0"
modem = "none"
[links.hilink.probe]
targets = ["203.0.113.1"]
)",
                          "t.toml", testing::registry_with<register_cellular_config>());
  ASSERT_TRUE(h.apply(*module, c));
  EXPECT_EQ(backend.starts, 0);
  EXPECT_TRUE(h.links.find("hilink")->hard_down.empty());
  nlohmann::json status;
  module->add_status(status);
  EXPECT_FALSE(status.contains("modems"));
}

TEST_F(CellularModuleTest, StopRemovesAddressesAndStopsTheBackend) {
  ASSERT_TRUE(h.apply(*module, config));
  backend.listener->on_service(true);
  backend.listener->on_modem(modem(0, "356938035643809", "cdc-wdm0"));
  backend.take("connect").connected(bearer(3), cellular::ConnectFailure::none);
  EXPECT_FALSE(netlink.addresses.empty());
  module->stop();
  EXPECT_TRUE(netlink.addresses.empty());
  EXPECT_EQ(backend.stops, 1);
}

}  // namespace
}  // namespace uplink
