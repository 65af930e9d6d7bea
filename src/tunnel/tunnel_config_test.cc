// [tunnels.NAME] and the wireguard link's `tunnel` key: parsed, written back
// (private key masked), and every error with FILE:LINE:COL.
#include "tunnel/tunnel_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/section.h"
#include "config/testing/parse_with.h"

namespace uplink {
namespace {

const std::string kPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const std::string kPub = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

const SectionRegistry& registry() { return testing::registry_with<register_tunnel_config>(); }

std::string base_links() {
  return R"([links.wan1]
interface = "eth1"
[links.wan1.probe]
targets = ["203.0.113.1"]

[links.wan2]
interface = "eth2"
[links.wan2.probe]
targets = ["203.0.113.2"]

[links.vpn1]
kind = "wireguard"
interface = "wgvpn1"
tunnel = "vpn1"
[links.vpn1.probe]
targets = ["10.200.0.1"]

[policies.default]
members = [{ link = "wan1", tier = 1 }, { link = "wan2", tier = 2 }]

[policies.private]
members = [{ link = "vpn1" }]
)";
}

struct TunnelText {
  std::string interface = "wgvpn1";
  std::string private_key = kPriv;
  std::string underlay = "default";
  std::string public_key = kPub;
  std::string endpoint = "203.0.113.10:51820";
  std::string extra;
  std::string render() const {
    return "\n[tunnels.vpn1]\ninterface = \"" + interface + "\"\nprivate_key = \"" + private_key +
           "\"\naddress = [\"10.99.0.2/24\"]\nunderlay = \"" + underlay + "\"\n" + extra +
           "[[tunnels.vpn1.peers]]\npublic_key = \"" + public_key + "\"\nendpoint = \"" + endpoint +
           "\"\nallowed_ips = [\"10.200.0.0/16\"]\npersistent_keepalive = \"25s\"\n";
  }
};

Config parse(const std::string& text) { return parse_config(text, "t.toml", registry()); }

std::string errors_of(const std::string& text) {
  return testing::parse_error(text, "t.toml", registry()).value_or("(no error)");
}

int line_of(const std::string& text, const std::string& needle) {
  auto pos = text.find(needle);
  if (pos == std::string::npos) return -1;
  return 1 + int(std::count(text.begin(), text.begin() + long(pos), '\n'));
}

// "t.toml:LINE:" where LINE holds `needle`, and `message` somewhere after.
void expect_error_at(const std::string& text, const std::string& needle, const std::string& message) {
  std::string err = errors_of(text);
  std::string where = "t.toml:" + std::to_string(line_of(text, needle)) + ":";
  EXPECT_NE(err.find(where), std::string::npos) << "want " << where << " in:\n" << err;
  EXPECT_NE(err.find(message), std::string::npos) << "want '" << message << "' in:\n" << err;
}

TEST(TunnelConfig, ParsesTheContractExample) {
  Config c = parse(base_links() + TunnelText{}.render());
  const auto* s = c.section<TunnelsSection>("tunnels");
  ASSERT_NE(s, nullptr);
  const TunnelConfig& t = s->tunnels.at("vpn1");
  EXPECT_EQ(t.interface, "wgvpn1");
  EXPECT_EQ(t.backend, WgBackendChoice::automatic);
  EXPECT_EQ(t.private_key.value, kPriv);
  EXPECT_EQ(t.address.at(0).to_string(), "10.99.0.2/24");
  EXPECT_EQ(t.underlay, "default");
  EXPECT_EQ(t.fwmark, 0x10000u);  // derived: outside daemon.fwmark_mask 0xff00
  ASSERT_EQ(t.peers.size(), 1u);
  EXPECT_EQ(t.peers[0].endpoint->to_string(), "203.0.113.10:51820");
  EXPECT_EQ(t.peers[0].persistent_keepalive, Duration(std::chrono::seconds(25)));
  const auto* w = c.links.at("vpn1").extension_as<WireguardLink>();
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->tunnel, "vpn1");
  EXPECT_EQ(link_of_tunnel(c, "vpn1"), &c.links.at("vpn1"));
}

TEST(TunnelConfig, PrivateKeyMaskedAndRoundTrips) {
  Config c = parse(base_links() + TunnelText{}.render());
  const auto* s = c.section<TunnelsSection>("tunnels");
  std::string masked = s->to_toml(true);
  EXPECT_EQ(masked.find(kPriv), std::string::npos);
  EXPECT_NE(masked.find("private_key = \"***\""), std::string::npos);
  std::string clear = s->to_toml(false);
  Config again = parse(base_links() + "\n" + clear);
  EXPECT_TRUE(again.section<TunnelsSection>("tunnels")->equals(*s));
  EXPECT_EQ(c.links.at("vpn1").extension->to_toml(true), "tunnel = \"vpn1\"\n");
}

TEST(TunnelConfig, PrivateKeyFromFile) {
  std::string path = ::testing::TempDir() + "/tunnel_key_" + std::to_string(::getpid());
  std::ofstream(path) << kPriv << "\n";
  TunnelText t;
  t.private_key = "file:" + path;
  Config c = parse(base_links() + t.render());
  const auto& tc = c.section<TunnelsSection>("tunnels")->tunnels.at("vpn1");
  EXPECT_EQ(tc.private_key.value, kPriv);
  std::string masked = c.section<TunnelsSection>("tunnels")->to_toml(true);
  EXPECT_EQ(masked.find(kPriv), std::string::npos);
  std::remove(path.c_str());
}

TEST(TunnelConfig, PrivateKeyOfWrongLengthIsAnErrorWithoutEchoingIt) {
  TunnelText t;
  t.private_key = "c2hvcnQ=";
  std::string text = base_links() + t.render();
  expect_error_at(text, "private_key =", "tunnels.vpn1.private_key: the key is 8 characters long");
  EXPECT_EQ(errors_of(text).find("c2hvcnQ"), std::string::npos);
}

TEST(TunnelConfig, Ipv6EndpointInBrackets) {
  TunnelText t;
  t.endpoint = "[2001:db8::10]:51820";
  Config c = parse(base_links() + t.render());
  EXPECT_EQ(c.section<TunnelsSection>("tunnels")->tunnels.at("vpn1").peers[0].endpoint->to_string(),
            "[2001:db8::10]:51820");
}

TEST(TunnelConfig, InterfaceOfAnotherLinkIsAnError) {
  // The tunnel claims eth1 (wan1's); the vpn1 link then also disagrees with it.
  TunnelText t;
  t.interface = "eth1";
  std::string text = base_links() + t.render();
  expect_error_at(text, "interface = \"eth1\"\nprivate_key", "interface 'eth1' is already used by link 'wan1'");
}

TEST(TunnelConfig, InterfaceOfAnotherTunnelIsAnError) {
  std::string text = base_links() + TunnelText{}.render() + "\n[tunnels.vpn2]\ninterface = \"wgvpn1\"\nprivate_key = \"" +
                     kPriv + "\"\naddress = [\"10.98.0.2/32\"]\nunderlay = \"default\"\n";
  std::string where = "t.toml:" + std::to_string(line_of(text, "[tunnels.vpn2]") + 1) + ":";
  EXPECT_NE(errors_of(text).find(where), std::string::npos) << errors_of(text);
  EXPECT_NE(errors_of(text).find("interface 'wgvpn1' is already used by tunnel 'vpn1'"), std::string::npos)
      << errors_of(text);
}

TEST(TunnelConfig, WireguardLinkWithoutTunnelKeyIsAnError) {
  std::string text = base_links() + TunnelText{}.render();
  text.erase(text.find("tunnel = \"vpn1\"\n"), 16);
  EXPECT_NE(errors_of(text).find("tunnel"), std::string::npos) << errors_of(text);
}

TEST(TunnelConfig, ExplicitFwmarkOutsideTheMaskIsKept) {
  TunnelText t;
  t.extra = "fwmark = 0x200000\n";
  Config c = parse(base_links() + t.render());
  EXPECT_EQ(c.section<TunnelsSection>("tunnels")->tunnels.at("vpn1").fwmark, 0x200000u);
}

TEST(TunnelConfig, UnknownKeyAndBadBackendAreErrors) {
  TunnelText t;
  t.extra = "backend = \"userspace\"\nlisten_prot = 1\n";
  std::string text = base_links() + t.render();
  expect_error_at(text, "backend =", "unknown backend 'userspace'");
  expect_error_at(text, "listen_prot", "unknown key");
}

// One edit of the example, one error: at the line holding `needle`, with `message`.
struct ErrorCase {
  const char* name;
  std::function<void(TunnelText&)> edit_fields = nullptr;
  // Then, in the whole text, the first `from` becomes `to` (when `from` is set).
  const char* from = nullptr;
  const char* to = nullptr;
  const char* needle;
  const char* message;
};

class TunnelConfigError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(TunnelConfigError, AtTheLineOfTheKey) {
  const ErrorCase& c = GetParam();
  TunnelText t;
  if (c.edit_fields) c.edit_fields(t);
  std::string text = base_links() + t.render();
  if (c.from) {
    auto pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from;
    text.replace(pos, std::string_view(c.from).size(), c.to);
  }
  expect_error_at(text, c.needle, c.message);
}

const ErrorCase kErrorCases[] = {
    {.name = "PublicKeyOutsideTheAlphabet",
     .edit_fields = [](TunnelText& t) { t.public_key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D!="; },
     .needle = "public_key =",
     .message = "base64 alphabet"},
    {.name = "NonCanonicalKey",  // 'h': low bits set
     .edit_fields = [](TunnelText& t) { t.public_key = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dh="; },
     .needle = "public_key =",
     .message = "canonical"},
    {.name = "HostNameEndpoint",
     .edit_fields = [](TunnelText& t) { t.endpoint = "vpn.example.com:51820"; },
     .needle = "endpoint =",
     .message = "numeric"},
    {.name = "EndpointWithoutPort",
     .edit_fields = [](TunnelText& t) { t.endpoint = "203.0.113.10"; },
     .needle = "endpoint =",
     .message = "has no port"},
    {.name = "UnknownUnderlayPolicy",
     .edit_fields = [](TunnelText& t) { t.underlay = "nosuch"; },
     .needle = "underlay =",
     .message = "tunnels.vpn1.underlay: policy 'nosuch' does not exist"},
    {.name = "UnderlayIncludingTheTunnelItself",
     .edit_fields = [](TunnelText& t) { t.underlay = "private"; },
     .needle = "underlay =",
     .message = "includes link 'vpn1', the tunnel itself"},
    {.name = "FwmarkInsideTheLinkMarkMask",
     .edit_fields = [](TunnelText& t) { t.extra = "fwmark = 0x0100\n"; },
     .needle = "fwmark =",
     .message = "inside daemon.fwmark_mask"},
    {.name = "LinkInterfaceMustBeTheTunnels",
     .from = "interface = \"wgvpn1\"\ntunnel",
     .to = "interface = \"wgvpn9\"\ntunnel",
     .needle = "tunnel = \"vpn1\"",
     .message = "is not the tunnel's interface 'wgvpn1'"},
    {.name = "LinkNamingAnUnknownTunnel",
     .from = "tunnel = \"vpn1\"",
     .to = "tunnel = \"vpn7\"",
     .needle = "tunnel = \"vpn7\"",
     .message = "links.vpn1.tunnel: tunnel 'vpn7' is not configured"},
    {.name = "BadAllowedIp",
     .from = "10.200.0.0/16",
     .to = "10.200.0.1/16",
     .needle = "allowed_ips =",
     .message = "tunnels.vpn1.peers[0].allowed_ips[0]"},
};

INSTANTIATE_TEST_SUITE_P(TunnelConfig, TunnelConfigError, ::testing::ValuesIn(kErrorCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TunnelConfig, DerivedMarksAvoidTheMask) {
  EXPECT_EQ(derived_tunnel_mark(0xff00, 0), 0x10000u);
  EXPECT_EQ(derived_tunnel_mark(0xff00, 1), 0x20000u);
  EXPECT_EQ(derived_tunnel_mark(0xff0000, 0), 0x1000000u);
  EXPECT_EQ(derived_tunnel_mark(0xffffff00, 2), 3u);
  EXPECT_EQ(derived_tunnel_mark(0xffffffff, 0), std::nullopt);
}

}  // namespace
}  // namespace uplink
