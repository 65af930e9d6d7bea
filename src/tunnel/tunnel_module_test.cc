// The tunnel module with fake time, a fake UAPI, a fake launcher and a fake
// kernel: start and configure, underlay follows the policy (rule re-pointed,
// endpoint re-sent, one packet), crash -> hard signal + restart with backoff,
// adoption, stall evidence, and no private key in any output.
#include "tunnel/tunnel_module.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <deque>
#include <set>

#include "config/loader.h"
#include "config/section.h"
#include "core/testing/module_harness.h"
#include "core/topics.h"
#include "net/testing/fake_netlink.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

const std::string kPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const std::string kPrivHex = "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669";
const std::string kPub = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const std::string kPubHex = "c53201039adba14be71f886da1d8dbe9eebded08cb111b75340078999aa9f038";

const SectionRegistry& registry() {
  static SectionRegistry r = [] {
    SectionRegistry reg;
    register_tunnel_config(reg);
    return reg;
  }();
  return r;
}

const std::string kConfig = R"([links.wan1]
interface = "eth1"
table = 101
[links.wan1.probe]
targets = ["203.0.113.1"]

[links.wan2]
interface = "eth2"
table = 102
[links.wan2.probe]
targets = ["203.0.113.2"]

[links.vpn1]
kind = "wireguard"
interface = "wgvpn1"
tunnel = "vpn1"
table = 103
[links.vpn1.probe]
targets = ["10.200.0.1"]

[policies.default]
members = [{ link = "wan1", tier = 1 }, { link = "wan2", tier = 2 }]

[tunnels.vpn1]
interface = "wgvpn1"
private_key = ")" + kPriv + R"("
address = ["10.99.0.2/32"]
underlay = "default"
listen_port = 51820
[[tunnels.vpn1.peers]]
public_key = ")" + kPub + R"("
endpoint = "203.0.113.10:51820"
allowed_ips = ["10.200.0.0/16"]
persistent_keepalive = "5s"
)";

class FakeUapi final : public UapiClient {
 public:
  std::set<std::string> present;
  std::vector<std::string> sets;  // requests, in order
  std::deque<SetDone> set_done;
  std::deque<GetDone> get_done;
  void get(const std::string&, GetDone done) override { get_done.push_back(std::move(done)); }
  void set(const std::string&, std::string request, SetDone done) override {
    sets.push_back(std::move(request));
    set_done.push_back(std::move(done));
  }
  bool device_present(const std::string& ifname) override { return present.count(ifname) != 0; }
  void complete_set(Result<void> r = {}) {
    ASSERT_FALSE(set_done.empty());
    auto d = std::move(set_done.front());
    set_done.pop_front();
    d(std::move(r));
  }
  void complete_get(Result<WgDeviceStatus> r) {
    ASSERT_FALSE(get_done.empty());
    auto d = std::move(get_done.front());
    get_done.pop_front();
    d(std::move(r));
  }
};

class FakeProcess final : public WgProcess {
 public:
  FakeProcess(pid_t pid, int* terminated) : pid_(pid), terminated_(terminated) {}
  pid_t pid() const override { return pid_; }
  void terminate() override { ++*terminated_; }

 private:
  pid_t pid_;
  int* terminated_;
};

class FakeLauncher final : public WgLauncher {
 public:
  std::vector<std::string> started;
  ExitFn exit;
  bool fail = false;
  int terminated = 0;
  Result<std::unique_ptr<WgProcess>> start(const std::string& ifname, ExitFn on_exit) override {
    if (fail) return make_error("starting /usr/bin/wireguard-go -f " + ifname + ": No such file or directory");
    started.push_back(ifname);
    exit = std::move(on_exit);
    return std::unique_ptr<WgProcess>(std::make_unique<FakeProcess>(4000 + int(started.size()), &terminated));
  }
};

struct Kick {
  std::string ifname;
  IpAddress dst;
};

class TunnelModuleTest : public ::testing::Test {
 protected:
  TunnelModuleTest() : h(time) {
    netlink.links = {{1, "eth1", true, true, false}, {2, "eth2", true, true, false}};
    bus_sub = h.bus.subscribe<TunnelEvent>([this](const TunnelEvent& e) { events.push_back(e.event); });
    TunnelEnv env;
    env.uapi = &uapi;
    env.launcher = &launcher;
    env.netlink = &netlink;
    env.objects = &objects;
    env.kernel_probe = [] { return KernelWgProbe{false, "genl family 'wireguard': Object not found"}; };
    env.kick = [this](const std::string& ifname, const IpAddress& dst) -> Result<void> {
      kicks.push_back({ifname, dst});
      return {};
    };
    module = std::make_unique<TunnelModule>(h.ctx, env);
  }

  Config config(const std::string& text = kConfig) { return parse_config(text, "t.toml", registry()); }

  // Starts the tunnel: spawn, the socket appears, UAPI set ok, device up.
  void start_running() {
    h.bus.publish(PolicyActive{"default", {"wan1"}});
    ASSERT_TRUE(h.apply(*module, config()));
    ASSERT_EQ(launcher.started.size(), 1u);
    // wireguard-go creates its device and socket a moment later.
    netlink.links.push_back({7, "wgvpn1", false, false, true});
    uapi.present.insert("wgvpn1");
    time.advance(100ms);
    ASSERT_EQ(uapi.sets.size(), 1u);
    uapi.complete_set();
  }

  const OwnedObjects* owned() const {
    auto it = objects.by_owner().find("tunnel:vpn1");
    return it == objects.by_owner().end() ? nullptr : &it->second;
  }
  uint32_t rule_table() const {
    const OwnedObjects* o = owned();
    return o && !o->rules.empty() ? o->rules.front().table : 0;
  }

  FakeTimeSource time;
  testing::ModuleHarness h;
  FakeUapi uapi;
  FakeLauncher launcher;
  FakeNetlink netlink;
  KernelObjects objects;
  std::vector<Kick> kicks;
  std::vector<std::string> events;
  uint64_t bus_sub = 0;
  std::unique_ptr<TunnelModule> module;
};

TEST_F(TunnelModuleTest, StartsWireguardGoConfiguresAndBringsUp) {
  start_running();
  // The set request: hex keys, port, the derived mark, the peer.
  const std::string& req = uapi.sets[0];
  EXPECT_NE(req.find("private_key=" + kPrivHex + "\n"), std::string::npos);
  EXPECT_NE(req.find("listen_port=51820\n"), std::string::npos);
  EXPECT_NE(req.find("fwmark=65536\n"), std::string::npos);
  EXPECT_NE(req.find("public_key=" + kPubHex + "\nendpoint=203.0.113.10:51820\n"), std::string::npos);
  EXPECT_NE(req.find("allowed_ip=10.200.0.0/16\n"), std::string::npos);
  // Address and IFF_UP through netlink.
  ASSERT_EQ(netlink.addresses.size(), 1u);
  EXPECT_EQ(netlink.addresses[0].ifindex, 7);
  EXPECT_EQ(netlink.addresses[0].prefix.to_string(), "10.99.0.2/32");
  EXPECT_TRUE(netlink.links.back().up);
  // Kernel objects: the mark's rule into wan1's table, the allowed IPs in the tunnel link's table.
  const OwnedObjects* o = owned();
  ASSERT_NE(o, nullptr);
  ASSERT_EQ(o->rules.size(), 2u);  // v4 + v6
  EXPECT_EQ(o->rules[0].fwmark, 0x10000u);
  EXPECT_EQ(o->rules[0].fwmask, ~0xff00u);
  EXPECT_EQ(o->rules[0].table, 101u);
  EXPECT_EQ(o->rules[0].action, RuleAction::lookup);
  EXPECT_LT(o->rules[0].priority, 10000u);
  ASSERT_EQ(o->routes.size(), 1u);
  EXPECT_EQ(o->routes[0].table, 103u);
  EXPECT_EQ(o->routes[0].dst.to_string(), "10.200.0.0/16");
  EXPECT_EQ(o->routes[0].oif, 7);
  // No hard signal left on the link; "started" streamed; one packet to handshake now.
  EXPECT_TRUE(h.links.find("vpn1")->hard_down.empty());
  EXPECT_NE(std::find(events.begin(), events.end(), "started"), events.end());
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0].dst.to_string(), "10.200.0.1");
}

TEST_F(TunnelModuleTest, LinkIsHeldDownUntilTheDeviceIsConfigured) {
  h.bus.publish(PolicyActive{"default", {"wan1"}});
  ASSERT_TRUE(h.apply(*module, config()));
  EXPECT_EQ(h.state("vpn1"), LinkState::down);
  EXPECT_EQ(h.reason("vpn1"), "tunnel_down");
}

TEST_F(TunnelModuleTest, UnderlayFollowsThePolicy) {
  start_running();
  ASSERT_EQ(rule_table(), 101u);
  kicks.clear();
  // wan1 fails: routing moves the policy to wan2.
  PolicyEvent e;
  e.policy = "default";
  e.active_before = {"wan1"};
  e.active = {"wan2"};
  e.reason = "wan1 down";
  h.bus.publish(e);
  // The rule moved at once, before any UAPI round trip.
  EXPECT_EQ(rule_table(), 102u);
  // The endpoint is re-sent (clears the cached source) ...
  ASSERT_EQ(uapi.sets.size(), 2u);
  EXPECT_EQ(uapi.sets[1], "set=1\npublic_key=" + kPubHex + "\nupdate_only=true\nendpoint=203.0.113.10:51820\n\n");
  EXPECT_TRUE(kicks.empty());
  uapi.complete_set();
  // ... then one packet into the tunnel starts the handshake now.
  ASSERT_EQ(kicks.size(), 1u);
  EXPECT_EQ(kicks[0].ifname, "wgvpn1");
  EXPECT_NE(std::find(events.begin(), events.end(), "underlay_moved"), events.end());
  // The same active link again (PolicyActive after an apply) changes nothing.
  h.bus.publish(PolicyActive{"default", {"wan2"}});
  EXPECT_EQ(uapi.sets.size(), 2u);
  // Another policy is not ours.
  h.bus.publish(PolicyActive{"other", {"wan1"}});
  EXPECT_EQ(rule_table(), 102u);
  // Last resort: nothing active -> the tunnel's UDP is unreachable, not leaked through main.
  h.bus.publish(PolicyActive{"default", {}});
  EXPECT_EQ(owned()->rules[0].action, RuleAction::unreachable);
  EXPECT_EQ(uapi.sets.size(), 2u);
  h.bus.publish(PolicyActive{"default", {"wan1"}});
  EXPECT_EQ(rule_table(), 101u);
  EXPECT_EQ(uapi.sets.size(), 3u);
}

// A packet the peer sent to our old address before it heard from the new one
// re-pins WireGuard's source to the old line on arrival: the endpoints are
// re-sent (and one packet kicked) once more after resettle_delay, not again
// after that, and not at all once the underlay moved on.
TEST_F(TunnelModuleTest, UnderlayMoveIsResentOnceMoreAfterTheResettleDelay) {
  start_running();
  kicks.clear();
  const std::string resend = "set=1\npublic_key=" + kPubHex + "\nupdate_only=true\nendpoint=203.0.113.10:51820\n\n";
  h.bus.publish(PolicyActive{"default", {"wan2"}});
  ASSERT_EQ(uapi.sets.size(), 2u);
  uapi.complete_set();
  ASSERT_EQ(kicks.size(), 1u);
  time.advance(999ms);
  EXPECT_EQ(uapi.sets.size(), 2u);
  time.advance(1ms);
  ASSERT_EQ(uapi.sets.size(), 3u);
  EXPECT_EQ(uapi.sets[2], resend);
  uapi.complete_set();
  EXPECT_EQ(kicks.size(), 2u);
  time.advance(5s);
  EXPECT_EQ(uapi.sets.size(), 3u);  // once more, not forever
  // A move, then another before the delay ends: the first move's resend is void.
  h.bus.publish(PolicyActive{"default", {"wan1"}});
  uapi.complete_set();
  h.bus.publish(PolicyActive{"default", {"wan2"}});
  uapi.complete_set();
  ASSERT_EQ(uapi.sets.size(), 5u);
  time.advance(1s);
  EXPECT_EQ(uapi.sets.size(), 6u);  // only the last move's
  uapi.complete_set();
  time.advance(5s);
  EXPECT_EQ(uapi.sets.size(), 6u);
}

TEST_F(TunnelModuleTest, WireguardGoCrashRaisesHardSignalAndRestartsWithBackoff) {
  start_running();
  EXPECT_TRUE(h.links.find("vpn1")->hard_down.empty());
  uapi.present.erase("wgvpn1");
  netlink.links.pop_back();
  launcher.exit("signal 9 (Killed)");
  EXPECT_EQ(h.links.find("vpn1")->hard_down.at("tunnel_device"), "tunnel_down");
  EXPECT_EQ(h.state("vpn1"), LinkState::down);
  EXPECT_NE(std::find(events.begin(), events.end(), "wireguard_go_exited"), events.end());
  // Routes went with the device; the rule stays.
  EXPECT_TRUE(owned()->routes.empty());
  EXPECT_EQ(owned()->rules.size(), 2u);
  // Restart after the initial backoff (1s), not before.
  time.advance(999ms);
  EXPECT_EQ(launcher.started.size(), 1u);
  time.advance(1ms);
  ASSERT_EQ(launcher.started.size(), 2u);
  EXPECT_NE(std::find(events.begin(), events.end(), "wireguard_go_restarted"), events.end());
  // It dies again at once: the next wait doubles.
  launcher.exit("exit code 1");
  time.advance(1999ms);
  EXPECT_EQ(launcher.started.size(), 2u);
  time.advance(1ms);
  ASSERT_EQ(launcher.started.size(), 3u);
  // This time it comes up: configured again, signal cleared, "device_restored".
  netlink.links.push_back({8, "wgvpn1", false, false, true});
  uapi.present.insert("wgvpn1");
  time.advance(100ms);
  ASSERT_EQ(uapi.sets.size(), 2u);
  uapi.complete_set();
  EXPECT_TRUE(h.links.find("vpn1")->hard_down.empty());
  EXPECT_EQ(owned()->routes.at(0).oif, 8);
  EXPECT_NE(std::find(events.begin(), events.end(), "device_restored"), events.end());
}

TEST_F(TunnelModuleTest, MissingBinaryIsRetriedWithAClearReason) {
  launcher.fail = true;
  h.bus.publish(PolicyActive{"default", {"wan1"}});
  ASSERT_TRUE(h.apply(*module, config()));
  EXPECT_EQ(h.state("vpn1"), LinkState::down);
  auto j = module->tunnels_json();
  EXPECT_EQ(j[0]["state"], "restarting");
  EXPECT_NE(j[0]["reason"].get<std::string>().find("No such file"), std::string::npos);
  launcher.fail = false;
  time.advance(1s);
  EXPECT_EQ(launcher.started.size(), 1u);
}

TEST_F(TunnelModuleTest, DeviceThatVanishesIsLostAfterTwoFailedPolls) {
  start_running();
  time.advance(1s);
  ASSERT_EQ(uapi.get_done.size(), 1u);
  uapi.complete_get(make_error("UAPI: connect failed"));
  EXPECT_TRUE(h.links.find("vpn1")->hard_down.empty());  // one miss is not a loss
  time.advance(1s);
  uapi.complete_get(make_error("UAPI: connect failed"));
  EXPECT_EQ(h.links.find("vpn1")->hard_down.at("tunnel_device"), "tunnel_down");
  EXPECT_NE(std::find(events.begin(), events.end(), "device_lost"), events.end());
}

TEST_F(TunnelModuleTest, ExistingDeviceIsAdoptedNotSpawned) {
  netlink.links.push_back({9, "wgvpn1", true, true, true});
  uapi.present.insert("wgvpn1");
  h.bus.publish(PolicyActive{"default", {"wan1"}});
  ASSERT_TRUE(h.apply(*module, config()));
  EXPECT_TRUE(launcher.started.empty());
  ASSERT_EQ(uapi.sets.size(), 1u);
  uapi.complete_set();
  EXPECT_NE(std::find(events.begin(), events.end(), "adopted"), events.end());
  EXPECT_EQ(module->tunnels_json()[0]["state"], "running");
  EXPECT_EQ(module->tunnels_json()[0]["adopted"], true);
}

TEST_F(TunnelModuleTest, TxWithoutRxForThreeKeepalivesIsStalled) {
  start_running();
  auto status = [](uint64_t rx, uint64_t tx) {
    WgDeviceStatus d;
    WgPeerStatus p;
    p.public_key = kPub;
    p.rx_bytes = rx;
    p.tx_bytes = tx;
    p.persistent_keepalive_s = 5;
    p.last_handshake_sec = 1764670000;
    d.peers = {p};
    return d;
  };
  time.advance(1s);
  uapi.complete_get(status(100, 100));
  for (int i = 0; i < 14; ++i) {
    time.advance(1s);
    uapi.complete_get(status(100, 200 + uint64_t(i)));
  }
  EXPECT_EQ(h.links.find("vpn1")->hard_down.count("tunnel_stall"), 0u);  // 14 s < 3 x 5 s
  time.advance(1s);
  uapi.complete_get(status(100, 300));
  EXPECT_EQ(h.links.find("vpn1")->hard_down.at("tunnel_stall"), "tunnel_stalled");
  // rx again: cleared.
  time.advance(1s);
  uapi.complete_get(status(150, 310));
  EXPECT_EQ(h.links.find("vpn1")->hard_down.count("tunnel_stall"), 0u);
  auto j = module->tunnels_json();
  EXPECT_EQ(j[0]["peers"][0]["rx_bytes"], 150);
  EXPECT_EQ(j[0]["peers"][0]["last_handshake"], "2025-12-02T10:06:40.000Z");
}

TEST_F(TunnelModuleTest, VerbStatusMetricsAndEventsNeverShowThePrivateKey) {
  start_running();
  const control::Verb* v = h.verbs.find("tunnels");
  ASSERT_NE(v, nullptr);
  control::Request req;
  req.cmd = "tunnels";
  req.args = {{"cmd", "tunnels"}, {"argv", nlohmann::json::array()}, {"json", true}};
  auto reply = v->handler(req);
  nlohmann::json status;
  module->add_status(status);
  std::string metrics;
  module->add_metrics(metrics);
  std::string all = status.dump() + metrics + module->tunnels_text();
  for (const auto& r : h.bus.recent()) all += r.json.dump();
  EXPECT_EQ(all.find(kPriv), std::string::npos);
  EXPECT_EQ(all.find(kPrivHex), std::string::npos);
  EXPECT_EQ(status["tunnels"][0]["backend"], "wireguard-go");
  EXPECT_EQ(status["tunnels"][0]["underlay"]["active_link"], "wan1");
  EXPECT_NE(metrics.find("uplinkd_tunnel_up{tunnel=\"vpn1\"} 1\n"), std::string::npos);
  EXPECT_NE(module->tunnels_text().find("vpn1  wgvpn1  running  backend wireguard-go  underlay default via wan1"),
            std::string::npos)
      << module->tunnels_text();
}

TEST_F(TunnelModuleTest, CleanStopTerminatesAndReleasesEverything) {
  start_running();
  module->stop();
  EXPECT_EQ(launcher.terminated, 1);
  EXPECT_EQ(owned(), nullptr);
  EXPECT_NE(std::find(events.begin(), events.end(), "stopped"), events.end());
}

TEST_F(TunnelModuleTest, RemovingTheSectionStopsTheTunnel) {
  start_running();
  std::string text = kConfig;
  text = text.substr(0, text.find("[links.vpn1]")) + text.substr(text.find("[policies.default]"));
  text = text.substr(0, text.find("[tunnels.vpn1]"));
  ASSERT_TRUE(h.apply(*module, config(text)));
  EXPECT_EQ(launcher.terminated, 1);
  EXPECT_EQ(owned(), nullptr);
  EXPECT_TRUE(module->tunnels_json().empty());
}

TEST_F(TunnelModuleTest, ChangedPeerIsReconfiguredWithoutRestart) {
  start_running();
  std::string text = kConfig;
  text.replace(text.find("203.0.113.10:51820"), 18, "203.0.113.11:51820");
  ASSERT_TRUE(h.apply(*module, config(text)));
  EXPECT_EQ(launcher.started.size(), 1u);
  ASSERT_EQ(uapi.sets.size(), 2u);
  EXPECT_NE(uapi.sets[1].find("endpoint=203.0.113.11:51820"), std::string::npos);
}

}  // namespace
}  // namespace uplink
