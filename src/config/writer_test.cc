#include "config/writer.h"

#include <gtest/gtest.h>

#include "config/loader.h"

namespace uplink {
namespace {

const std::string kFull = R"([daemon]
socket_group = "netadmin"
admin_group = "netops"
metrics_listen = "[::1]:9109"
hook_timeout = "1500ms"
log_level = "debug"
fwmark_mask = 0xff0000
fwmark_base = 0x10000

[links.wan1]
interface = "eth1"
gateway = "2001:db8::1"
enabled = false
[links.wan1.probe]
method = "http"
targets = ["203.0.113.1", "[2001:db8::5]:8080"]
reliability = 2
interval = "1.5s"
timeout = "300ms"
http_path = "/generate_204"
[links.wan1.quality]
max_loss = 2.5
recover_ratio = 0.55

[links.cell1]
kind = "cellular"
interface = "wwan0"
apn = "a \"quoted\" apn\\x"
gateway6 = "2001:db8:3::1"
private_routes = ["10.200.0.0/16", "fd00::/8"]
table = 300
[links.cell1.probe]
method = "dns"
dns_name = "example.org"
targets = ["203.0.113.53"]

[policies.p]
mode = "balance"
members = [{ link = "wan1", weight = 7 }, { link = "cell1", tier = 2 }]
last_resort = "main"

[[rules]]
name = "r1"
source = "192.168.50.7"
protocol = "tcp"
destination_port = [22, "8000-8100"]
input_interface = "lan0"
policy = "p"
sticky = "90s"

[[rules]]
name = "r2"
local = true
protocol = "udp"
source_port = 123
policy = "p"
)";

TEST(Writer, RoundTripIsEqual) {
  Config c = parse_config(kFull, "full.toml");
  std::string text = to_toml(c);
  Config back = parse_config(text, "full.toml");
  EXPECT_EQ(back, c) << text;
  EXPECT_EQ(to_toml(back), text);  // and the writer is stable
}

TEST(Writer, SpellsOutDefaultsAndAutoIds) {
  Config c = parse_config(kFull, "full.toml");
  std::string text = to_toml(c);
  EXPECT_NE(text.find("[links.cell1]\nkind = \"cellular\"\ninterface = \"wwan0\"\ngateway6 = \"2001:db8:3::1\"\n"
                      "metered = true\nenabled = true\n"
                      "table = 300\nfwmark = 0x20000\nmodem = \"any\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("interval = \"1500ms\""), std::string::npos);
  EXPECT_NE(text.find("timeout = \"auto\""), std::string::npos);  // cell1
  EXPECT_NE(text.find("apn = \"a \\\"quoted\\\" apn\\\\x\""), std::string::npos);
  EXPECT_NE(text.find("destination_port = [22, \"8000-8100\"]"), std::string::npos);
  EXPECT_NE(text.find("source = \"192.168.50.7/32\""), std::string::npos);
  EXPECT_NE(text.find("max_loss = 2.5\nrecover_ratio = 0.55\n"), std::string::npos);
}

TEST(Writer, EmptyConfig) {
  Config c = parse_config("", "e.toml");
  EXPECT_EQ(parse_config(to_toml(c), "e.toml"), c);
}

TEST(Writer, Helpers) {
  EXPECT_EQ(toml_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
  EXPECT_EQ(toml_float(5), "5.0");
  EXPECT_EQ(toml_float(0.7), "0.7");
  EXPECT_EQ(toml_key("wan1"), "wan1");
  EXPECT_EQ(toml_key("a b"), "\"a b\"");
}

}  // namespace
}  // namespace uplink
