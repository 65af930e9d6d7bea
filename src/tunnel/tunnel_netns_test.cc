// The tunnel module against a real wireguard-go (label netns, root, package
// wireguard-go). The test process moves into a fresh anonymous network
// namespace (unshare(CLONE_NEWNET)): the TUN device lives and dies there. The
// UAPI socket directory /var/run/wireguard is shared by every namespace, so
// the interface name carries this process's PID. Only the wireguard-go this
// test's module started is signalled, by its PID; its socket file is removed
// in TearDown also when a test fails half-way. No packet leaves the namespace.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>

#include "config/loader.h"
#include "config/section.h"
#include "core/testing/module_harness.h"
#include "core/topics.h"
#include "net/libnl_netlink.h"
#include "tunnel/tunnel_module.h"

namespace uplink {
namespace {

using namespace std::chrono_literals;

const std::string kPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const std::string kPub = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

const SectionRegistry& registry() {
  static SectionRegistry r = [] {
    SectionRegistry reg;
    register_tunnel_config(reg);
    return reg;
  }();
  return r;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

class TunnelNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0) << "needs root (label netns)";
    ASSERT_TRUE(exists("/usr/bin/wireguard-go")) << "needs wireguard-go (apt-get install wireguard-go)";
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET) failed";
    ifname = "wgt" + std::to_string(getpid());
    socket_path = wg_socket_path(kWgSocketDir, ifname);
    auto n = LibnlNetlink::open();
    ASSERT_TRUE(n.ok()) << n.error().message;
    netlink = std::move(*n);
    ASSERT_TRUE(netlink->set_link_up(1, true));  // lo
    uapi = std::make_unique<AsioUapiClient>(io);
    launcher = make_wireguard_go_launcher(io);
    h = std::make_unique<testing::ModuleHarness>(time);
    TunnelEnv env;
    env.uapi = uapi.get();
    env.launcher = launcher.get();
    env.netlink = netlink.get();
    env.objects = &objects;
    env.kernel_probe = probe_kernel_wireguard;
    env.kick = kick_tunnel;
    env.adopted_pid = [](const std::string&) { return std::optional<pid_t>(); };  // never signal a stranger
    env.backoff_initial = 200ms;
    module = std::make_unique<TunnelModule>(h->ctx, env);
  }

  void TearDown() override {
    module.reset();  // kills (SIGKILL) a wireguard-go still running: ours, by PID
    if (exists(socket_path)) std::remove(socket_path.c_str());
  }

  Config config() {
    std::string text = "[links.wan1]\ninterface = \"lo\"\n[links.wan1.probe]\ntargets = [\"127.0.0.1\"]\n"
                       "[links.vpn1]\nkind = \"wireguard\"\ninterface = \"" + ifname +
                       "\"\ntunnel = \"vpn1\"\ntable = 4301\n[links.vpn1.probe]\ntargets = [\"10.200.0.1\"]\n"
                       "[policies.default]\nmembers = [{ link = \"wan1\" }]\n"
                       "[tunnels.vpn1]\ninterface = \"" + ifname + "\"\nbackend = \"auto\"\nprivate_key = \"" + kPriv +
                       "\"\nlisten_port = 45123\naddress = [\"10.99.0.2/32\"]\nunderlay = \"default\"\n"
                       "[[tunnels.vpn1.peers]]\npublic_key = \"" + kPub +
                       "\"\nendpoint = \"127.0.0.1:45124\"\nallowed_ips = [\"10.200.0.0/16\"]\n"
                       "persistent_keepalive = \"25s\"\n";
    return parse_config(text, "netns.toml", registry());
  }

  // Runs the io_context until `done` holds; bounded.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_for(20ms);
    }
    return done();
  }

  std::string state() const { return module->tunnels_json()[0]["state"].get<std::string>(); }

  boost::asio::io_context io;
  AsioTimeSource time{io};
  std::string ifname, socket_path;
  std::unique_ptr<LibnlNetlink> netlink;
  std::unique_ptr<AsioUapiClient> uapi;
  std::unique_ptr<WgLauncher> launcher;
  KernelObjects objects;
  std::unique_ptr<testing::ModuleHarness> h;
  std::unique_ptr<TunnelModule> module;
};

TEST_F(TunnelNetnsTest, StartsConfiguresRestartsAndStopsARealWireguardGo) {
  // The kernel here has no WireGuard: auto must fall back.
  EXPECT_FALSE(probe_kernel_wireguard().available);
  h->bus.publish(PolicyActive{"default", {"wan1"}});
  ASSERT_TRUE(h->apply(*module, config()));
  ASSERT_TRUE(run_until([&] { return state() == "running"; })) << module->tunnels_json().dump();
  EXPECT_EQ(module->tunnels_json()[0]["backend"], "wireguard-go");

  // `wg show` through our own UAPI client.
  std::optional<Result<WgDeviceStatus>> got;
  uapi->get(ifname, [&](Result<WgDeviceStatus> r) { got = std::move(r); });
  ASSERT_TRUE(run_until([&] { return got.has_value(); }));
  ASSERT_TRUE(*got) << got->error().message;
  const WgDeviceStatus& d = **got;
  EXPECT_TRUE(d.has_private_key);
  EXPECT_EQ(d.listen_port, 45123);
  EXPECT_EQ(d.fwmark, 0x10000u);
  ASSERT_EQ(d.peers.size(), 1u);
  EXPECT_EQ(d.peers[0].public_key, kPub);
  EXPECT_EQ(d.peers[0].endpoint->to_string(), "127.0.0.1:45124");
  EXPECT_EQ(d.peers[0].persistent_keepalive_s, 25);
  ASSERT_EQ(d.peers[0].allowed_ips.size(), 1u);
  EXPECT_EQ(d.peers[0].allowed_ips[0].to_string(), "10.200.0.0/16");

  // The device: up, with its address; the allowed IPs routed in the link's table.
  int ifindex = 0;
  auto links = netlink->list_links();
  ASSERT_TRUE(links);
  for (const auto& l : *links)
    if (l.name == ifname) {
      ifindex = l.ifindex;
      EXPECT_TRUE(l.up);
    }
  ASSERT_NE(ifindex, 0);
  bool has_addr = false;
  auto addrs = netlink->list_addresses();
  ASSERT_TRUE(addrs);
  for (const auto& a : *addrs)
    if (a.ifindex == ifindex && a.prefix.to_string() == "10.99.0.2/32") has_addr = true;
  EXPECT_TRUE(has_addr);
  const OwnedObjects& o = objects.by_owner().at("tunnel:vpn1");
  ASSERT_EQ(o.routes.size(), 1u);
  EXPECT_EQ(o.routes[0].oif, ifindex);
  EXPECT_EQ(o.routes[0].table, 4301u);

  // wireguard-go dies: the link is held down, then it is restarted and configured again.
  pid_t pid = module->tunnels_json()[0]["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(run_until([&] { return h->links.find("vpn1")->hard_down.count("tunnel_device") == 1; }));
  ASSERT_TRUE(run_until([&] {
    auto j = module->tunnels_json()[0];
    return j["state"] == "running" && j["restarts"].get<int>() >= 1;
  })) << module->tunnels_json().dump();
  EXPECT_NE(module->tunnels_json()[0]["pid"].get<pid_t>(), pid);
  EXPECT_TRUE(h->links.find("vpn1")->hard_down.empty());

  // Clean stop: wireguard-go removes its socket and device; our objects are released.
  module->stop();
  EXPECT_FALSE(exists(socket_path));
  EXPECT_EQ(objects.by_owner().count("tunnel:vpn1"), 0u);
  bool gone = true;
  auto after = netlink->list_links();
  ASSERT_TRUE(after);
  for (const auto& l : *after)
    if (l.name == ifname) gone = false;
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace uplink
