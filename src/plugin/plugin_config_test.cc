#include "plugin/plugin_config.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "config/loader.h"
#include "config/section.h"
#include "config/testing/parse_with.h"
#include "config/writer.h"

namespace uplink::plugin {
namespace {

const SectionRegistry& registry() { return testing::registry_with<register_plugins_config>(); }

// Lines 1..6.
const std::string kBase = R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]
[policies.default]
members = [{ link = "wan1" }]
)";

std::string errors_of(const std::string& text) {
  return testing::parse_error(kBase + text, "p.toml", registry()).value_or("(no error)");
}

TEST(PluginConfig, TheArchitectureExampleParses) {
  Config c = parse_config(kBase + R"(
[plugins.anomaly]
path       = "/usr/lib/uplinkd/plugins/libuplink_anomaly.so"
class      = "alarm"
inputs     = ["udp://127.0.0.1:5005", "unix:///run/uplinkd/anomaly.sock"]
memory_max = "128MiB"
cpu_max    = 50
heartbeat_timeout = "10s"
restart_backoff_max = "5m"
model_dir  = "/var/lib/uplinkd/models/anomaly"
[plugins.anomaly.config]
threshold = 0.5
window = { size = 10, kind = "ewma" }
)",
                          "p.toml", registry());
  auto* s = c.section<PluginsSection>("plugins");
  ASSERT_NE(s, nullptr);
  const PluginConfig& p = s->plugins.at("anomaly");
  EXPECT_EQ(p.path, "/usr/lib/uplinkd/plugins/libuplink_anomaly.so");
  EXPECT_EQ(p.msg_class, "alarm");
  ASSERT_EQ(p.inputs.size(), 2u);
  EXPECT_EQ(p.inputs[0].port, 5005);
  EXPECT_EQ(p.inputs[1].path, "/run/uplinkd/anomaly.sock");
  EXPECT_EQ(p.memory_max, 128ull << 20);
  EXPECT_EQ(p.cpu_max, 50.0);
  EXPECT_EQ(p.heartbeat_timeout, Duration(10s));
  EXPECT_EQ(p.restart_backoff_max, Duration(5min));
  auto j = nlohmann::json::parse(p.config_json);
  EXPECT_EQ(j["threshold"], 0.5);
  EXPECT_EQ(j["window"]["kind"], "ewma");

  // Written back and read again: the same configuration.
  Config back = parse_config(to_toml(c, false), "p.toml", registry());
  ASSERT_NE(back.section<PluginsSection>("plugins"), nullptr);
  EXPECT_TRUE(back.section<PluginsSection>("plugins")->equals(*s)) << to_toml(c, false);
}

TEST(PluginConfig, ErrorsCarryFileLineColumn) {
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\nbogus = 1\n").find("p.toml:9:1: plugins.a.bogus"),
            std::string::npos)
      << errors_of("[plugins.a]\npath = \"/x.so\"\nbogus = 1\n");
  EXPECT_NE(errors_of("[plugins.a]\nclass = \"alarm\"\n").find("missing required key 'path'"), std::string::npos);
  EXPECT_NE(errors_of("[plugins.a]\npath = \"rel.so\"\n").find("p.toml:8:"), std::string::npos);
  std::string e = errors_of("[plugins.a]\npath = \"/x.so\"\ninputs = [\"udp://localhost:5005\"]\n");
  EXPECT_NE(e.find("p.toml:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("numeric"), std::string::npos) << e;
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\ninputs = [\"tcp://1.2.3.4:5\"]\n").find("expected udp://"),
            std::string::npos);
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\ncpu_max = 0\n").find("cpu_max"), std::string::npos);
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\nmemory_max = \"1kB\"\n").find("at least 4MiB"),
            std::string::npos);
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\nheartbeat_timeout = \"10\"\n").find("heartbeat_timeout"),
            std::string::npos);
  EXPECT_NE(errors_of("[plugins.a]\npath = \"/x.so\"\nmodel_dir = \"/m\"\nmodel_public_key = \"nope\"\n")
                .find("not an ed25519 public key"),
            std::string::npos);
  EXPECT_NE(errors_of("[plugins.\"a b\"]\npath = \"/x.so\"\n").find("plugin name"), std::string::npos);
}

TEST(PluginConfig, PublicKeyInBase64) {
  ASSERT_GE(sodium_init(), 0);
  unsigned char pk[32], sk[64];
  crypto_sign_keypair(pk, sk);
  char b64[64];
  sodium_bin2base64(b64, sizeof b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
  Config c = parse_config(kBase + "[plugins.a]\npath = \"/x.so\"\nmodel_dir = \"/m\"\nmodel_public_key = \"" + b64 +
                              "\"\n",
                          "p.toml", registry());
  auto& p = c.section<PluginsSection>("plugins")->plugins.at("a");
  EXPECT_EQ(p.public_key, std::string(reinterpret_cast<char*>(pk), 32));
  EXPECT_NE(to_toml(c, true).find("model_public_key = \"***\""), std::string::npos);
}

TEST(PluginConfig, InputsParse) {
  EXPECT_TRUE(parse_input("udp://[::1]:9"));
  EXPECT_EQ(parse_input("udp://[::1]:9")->host, "::1");
  EXPECT_FALSE(parse_input("udp://1.2.3.4:0"));
  EXPECT_FALSE(parse_input("udp://1.2.3.4:70000"));
  EXPECT_FALSE(parse_input("udp://1.2.3.4"));
  EXPECT_EQ(parse_input("unix:/run/a.sock")->path, "/run/a.sock");
  EXPECT_FALSE(parse_input("unix://relative"));
}

}  // namespace
}  // namespace uplink::plugin
