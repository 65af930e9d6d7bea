#include "uplink/uplink_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "config/loader.h"
#include "config/section.h"
#include "config/testing/parse_with.h"
#include "uplink/test_support.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

const SectionRegistry& registry() { return testing::registry_with<register_uplink_config>(); }

// Lines 1..7.
const std::string kCore = R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]
[policies.default]
members = [{ link = "wan1" }]

)";

Config parse(const std::string& uplink) { return parse_config(kCore + uplink, "t.toml", registry()); }

std::string error_of(const std::string& uplink) {
  return testing::parse_error(kCore + uplink, "t.toml", registry()).value_or("");
}

TEST(UplinkConfig, TheArchitectureExampleParses) {
  testing::ScratchDir dir;
  std::string token = dir.sub("tb-token");
  std::ofstream(token) << "s3cr3t-token\n";
  std::string ca = dir.sub("ca.pem");
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\n";
  Config c = parse(R"([uplink]
broker     = "mqtts://203.0.113.20:8883"
platform   = "thingsboard"
client_id  = "edge-0001"
access_token = "file:)" + token + R"("
ca_file    = ")" + ca + R"("
keepalive  = "30s"
policy     = "default"
telemetry_interval = "30s"

[uplink.queue]
path        = "/var/lib/uplinkd/queue"
max_size    = "256MiB"
sync        = "batch"
commit_interval = "10ms"
replay_rate = 5000

[[uplink.classes]]
name = "alarm"
ttl  = "30d"
[[uplink.classes]]
name = "telemetry"
ttl  = "7d"
)");
  auto* u = c.section<UplinkConfig>("uplink");
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->broker.tls);
  EXPECT_EQ(u->broker.host, "203.0.113.20");
  EXPECT_EQ(u->broker.port, 8883);
  EXPECT_EQ(u->platform, Platform::thingsboard);
  EXPECT_EQ(u->access_token->value, "s3cr3t-token");
  EXPECT_EQ(u->sync, SyncMode::batch);
  EXPECT_EQ(u->max_size, 256ull << 20);
  ASSERT_EQ(u->classes.size(), 2u);
  EXPECT_EQ(u->classes[0].name, "alarm");
  EXPECT_EQ(u->classes[0].ttl, 24h * 30);
  EXPECT_EQ(u->socket, "/run/uplinkd/uplink.sock");
  // config show: the secret is masked, the rest reads back the same.
  std::string shown = u->to_toml(true);
  EXPECT_EQ(shown.find("s3cr3t"), std::string::npos);
  EXPECT_NE(shown.find("access_token = \"***\""), std::string::npos);
  Config again = parse(u->to_toml(false));
  EXPECT_TRUE(again.section<UplinkConfig>("uplink")->equals(*u));
}

TEST(UplinkConfig, DefaultsWithOnlyABroker) {
  Config c = parse("[uplink]\nbroker = \"mqtt://127.0.0.1\"\n");
  auto* u = c.section<UplinkConfig>("uplink");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->broker.port, 1883);
  EXPECT_EQ(u->platform, Platform::generic);
  EXPECT_EQ(u->classes.size(), 2u);
  EXPECT_EQ(u->max_message, 256u << 10);
  EXPECT_EQ(u->window, 64);
}

TEST(UplinkConfig, ErrorsCarryFileLineColumnAndKey) {
  // kCore is 7 lines: [uplink] is line 8.
  EXPECT_NE(error_of("[uplink]\nbroker = \"http://x\"\n").find("t.toml:9:10: uplink.broker: must start with mqtt://"),
            std::string::npos)
      << error_of("[uplink]\nbroker = \"http://x\"\n");
  std::string e = error_of("[uplink]\nbroker = \"mqtt://h\"\n[uplink.queue]\nsync = \"sometimes\"\nfoo = 1\n");
  EXPECT_NE(e.find("t.toml:11:8: uplink.queue.sync: must be batch | always | never"), std::string::npos) << e;
  EXPECT_NE(e.find("t.toml:12:1: uplink.queue.foo: unknown key"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h\"\n[[uplink.classes]]\nname = \"a\"\n[[uplink.classes]]\nname = \"a\"\n"
               "ttl = \"soon\"\n");
  EXPECT_NE(e.find("t.toml:13:8: uplink.classes[1].name: class 'a' is listed twice"), std::string::npos) << e;
  EXPECT_NE(e.find("t.toml:14:"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h\"\npolicy = \"nope\"\n");
  EXPECT_NE(e.find("t.toml:10:10: uplink.policy: policy 'nope' does not exist"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h\"\nca_file = \"/etc/passwd\"\n");
  EXPECT_NE(e.find("t.toml:10:1: uplink.ca_file: TLS settings need an mqtts:// broker"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h:99999\"\n");
  EXPECT_NE(e.find("port '99999' is not 1..65535"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h\"\nmax_message = \"2MiB\"\n[uplink.queue]\nmax_size = \"1MiB\"\n");
  EXPECT_NE(e.find("uplink.max_message: must not exceed uplink.queue.max_size"), std::string::npos) << e;
  e = error_of("[uplink]\nbroker = \"mqtt://h\"\nrpc_methods = [\"status\", \"reboot\"]\n");
  EXPECT_NE(e.find("uplink.rpc_methods: unknown method 'reboot'"), std::string::npos) << e;
}

TEST(UplinkConfig, SecretsNeverAppearInErrorsOrShow) {
  std::string e = error_of("[uplink]\nbroker = \"mqtt://h\"\naccess_token = \"tok-123\"\nusername = \"u\"\n");
  EXPECT_NE(e.find("uplink.access_token: give access_token or username/password"), std::string::npos) << e;
  EXPECT_EQ(e.find("tok-123"), std::string::npos);
  e = error_of("[uplink]\nbroker = \"mqtts://h\"\nkey_file = \"-----BEGIN PRIVATE KEY----- AAAAsecret\"\n");
  EXPECT_NE(e.find("uplink.key_file: must be the path of a PEM file"), std::string::npos) << e;
  EXPECT_EQ(e.find("AAAAsecret"), std::string::npos);
  Config c = parse("[uplink]\nbroker = \"mqtt://h\"\nusername = \"u\"\npassword = \"pw-999\"\n");
  std::string shown = c.section<UplinkConfig>("uplink")->to_toml(true);
  EXPECT_EQ(shown.find("pw-999"), std::string::npos);
  EXPECT_NE(shown.find("password = \"***\""), std::string::npos);
}

TEST(BrokerUrl, Forms) {
  auto a = parse_broker_url("mqtt://[2001:db8::1]:1884");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "2001:db8::1");
  EXPECT_EQ(a->port, 1884);
  auto b = parse_broker_url("mqtts://broker.example");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 8883);
  EXPECT_FALSE(parse_broker_url("mqtt://").ok());
  EXPECT_FALSE(parse_broker_url("mqtt://h:x").ok());
}

}  // namespace
}  // namespace uplink
