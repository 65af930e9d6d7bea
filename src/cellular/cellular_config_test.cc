// The cellular link kind's keys: parsing, errors with positions, write-back.
#include "cellular/cellular_config.h"

#include <gtest/gtest.h>

#include "config/section.h"
#include "config/testing/parse_with.h"
#include "config/writer.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

const SectionRegistry& reg() { return testing::registry_with<register_cellular_config>(); }

std::string file(const std::string& cell_extra, const std::string& quality = "") {
  return R"([links.cell1]
kind = "cellular"
interface = "wwan0"
modem = "imei:356938035643809"
apn = "iot.private"
)" + cell_extra + R"(
[links.cell1.probe]
targets = ["203.0.113.1"]
)" + (quality.empty() ? "" : "[links.cell1.quality]\n" + quality) +
         R"(
[policies.default]
mode = "failover"
members = [{ link = "cell1", tier = 1 }]
)";
}

TEST(CellularConfig, DefaultsWhenNoKeyIsWritten) {
  Config c = parse_config(file(""), "t.toml", reg());
  const CellularLink& cl = cellular_of(c.links.at("cell1"));
  EXPECT_EQ(cl.ip_type, IpType::ipv4v6);
  EXPECT_FALSE(cl.roaming);
  EXPECT_FALSE(cl.sim);
  EXPECT_EQ(cl.reconnect.backoff_initial, 5s);
  EXPECT_EQ(cl.reconnect.backoff_max, 5min);
  EXPECT_TRUE(c.links.at("cell1").metered);
}

TEST(CellularConfig, EveryKeyParses) {
  Config c = parse_config(file(R"(apn_user = "u"
apn_password = "pw-secret"
ip_type = "ipv4"
roaming = true
sim_pin = "1234"
[links.cell1.sim]
slots = [2, 1]
switch_after = "30s"
connect_timeout = "60s"
min_dwell = "5m"
max_switches_per_hour = 4
return_after = "2h"
[links.cell1.reconnect]
backoff_initial = "1s"
backoff_max = "1m"
reset_after = 2
)",
                                "min_signal = 20\nmin_rsrp = -110\nmin_sinr = 0\n"),
                          "t.toml", reg());
  const LinkConfig& l = c.links.at("cell1");
  const CellularLink& cl = cellular_of(l);
  EXPECT_EQ(cl.apn_user, "u");
  EXPECT_EQ(cl.apn_password.value, "pw-secret");
  EXPECT_EQ(cl.ip_type, IpType::ipv4);
  EXPECT_TRUE(cl.roaming);
  ASSERT_TRUE(cl.sim_pin);
  ASSERT_TRUE(cl.sim);
  EXPECT_EQ(cl.sim->slots, (std::vector<int>{2, 1}));
  EXPECT_EQ(cl.sim->switch_after, 30s);
  EXPECT_EQ(cl.sim->max_switches_per_hour, 4);
  EXPECT_EQ(cl.reconnect.reset_after, 2);
  EXPECT_EQ(cl.radio.min_signal, 20);
  EXPECT_EQ(cl.radio.min_rsrp, -110);
  EXPECT_FALSE(l.quality);  // radio thresholds alone: no probe-quality section

  // Written back (config show / the writer) and parsed again: the same; secrets masked on request.
  std::string text = to_toml(c, /*mask_secrets=*/false);
  Config again = parse_config(text, "again.toml", reg());
  EXPECT_TRUE(cellular_of(again.links.at("cell1")).equals(cl)) << text;
  std::string masked = to_toml(c, /*mask_secrets=*/true);
  EXPECT_EQ(masked.find("pw-secret"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("1234"), std::string::npos) << masked;
}

TEST(CellularConfig, ErrorsNameFileLineAndKey) {
  auto err = [](const std::string& text) { return testing::parse_error(text, "t.toml", reg()).value_or("(parsed)"); };
  EXPECT_NE(err(file("ip_type = \"ipv5\"\n")).find("t.toml:6:1: links.cell1.ip_type: unknown ip_type 'ipv5'"),
            std::string::npos)
      << err(file("ip_type = \"ipv5\"\n"));
  EXPECT_NE(err(file("apn_password = \"x\"\n")).find("apn_password needs apn_user"), std::string::npos);
  EXPECT_NE(err(file("[links.cell1.sim]\nslots = [1]\n")).find("links.cell1.sim.slots: SIM-slot failover needs at least two slots"),
            std::string::npos);
  EXPECT_NE(err(file("[links.cell1.sim]\nslots = [1, 1]\n")).find("slot 1 is listed twice"), std::string::npos);
  EXPECT_NE(err(file("[links.cell1.sim]\nslots = [1, 2]\nswitch_aftr = \"1m\"\n")).find("links.cell1.sim.switch_aftr"),
            std::string::npos);
  EXPECT_NE(err(file("[links.cell1.reconnect]\nbackoff_initial = \"10m\"\nbackoff_max = \"1m\"\n"))
                .find("is shorter than backoff_initial"),
            std::string::npos);
  EXPECT_NE(err(file("", "min_signal = 120\n")).find("links.cell1.quality.min_signal"), std::string::npos);
  EXPECT_NE(err(file("", "min_rsrp = -10\n")).find("RSRP is within"), std::string::npos);
  // A wrong PIN is reported without echoing it.
  std::string pin = err(file("sim_pin = \"12ab\"\n"));
  EXPECT_NE(pin.find("a SIM PIN is 4 to 8 digits"), std::string::npos);
  EXPECT_EQ(pin.find("12ab"), std::string::npos);
  // Cellular keys on another kind of link.
  std::string eth = R"([links.wan1]
kind = "ethernet"
interface = "eth1"
roaming = true
[links.wan1.probe]
targets = ["203.0.113.1"]
)";
  EXPECT_NE(err(eth).find("links.wan1.roaming: only cellular links take 'roaming'"), std::string::npos) << err(eth);
  EXPECT_NE(err(R"([links.wan1]
kind = "ethernet"
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]
[links.wan1.quality]
min_signal = 10
)").find("unknown key"),
            std::string::npos);
  // The preferred slot must agree with sim_slot.
  EXPECT_NE(err(file("sim_slot = 2\n[links.cell1.sim]\nslots = [1, 2]\n")).find("but sim_slot is 2"), std::string::npos);
}

}  // namespace
}  // namespace uplink
