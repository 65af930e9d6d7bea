// The module list wired as main() wires it (daemon/modules.cc), on fake
// kernels: every module is created from the list alone, and the test module
// (src/testmod) proves that a module brings its config section, its verb and
// its kernel route from its own folder.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "config/loader.h"
#include "config/writer.h"
#include "daemon/control_handler.h"
#include "daemon/daemon.h"
#include "daemon/modules.h"
#include "net/kernel_objects.h"
#include "net/testing/fake_conntrack.h"
#include "net/testing/fake_netlink.h"
#include "net/testing/fake_nftables.h"
#include "net/testing/sample_config.h"
#include "probe/fake_prober.h"
#include "testmod/testmod_module.h"

namespace uplink {
namespace {

using testing::address;
using testing::ifaddr;

constexpr const char* kConfig = R"([daemon]
socket = "/tmp/uplink-wiring-test.sock"
hooks_dir = "/nonexistent/hooks.d"

[links.wan1]
kind = "ethernet"
interface = "eth1"
gateway = "198.18.1.1"
[links.wan1.probe]
targets = ["203.0.113.1"]

[policies.default]
mode = "failover"
members = [{ link = "wan1" }]

[[rules]]
name = "all"
policy = "default"
)";

constexpr const char* kTestmod = R"(
[testmod]
table = 4242
blackhole = "192.0.2.0/24"
)";

class Wiring : public ::testing::Test {
 protected:
  void SetUp() override { register_module_configs(); }

  void start(const std::string& text) {
    daemon_ = std::make_unique<Daemon>(time_, parse_config(text, "/tmp/uplink-wiring.toml"));
    Services& s = daemon_->services();
    s.provide(io_);
    s.provide<Netlink>(nl_);
    s.provide<NetlinkMonitor>(monitor_);
    s.provide<Nftables>(nft_);
    s.provide<Conntrack>(ct_);
    s.provide<NftChangeMonitor>(nft_monitor_);
    s.provide(objects_);
    s.provide<probe::ProberFactory>(probers_);
    ModuleContext& ctx = daemon_->context();
    for (const auto& spec : builtin_modules()) daemon_->add_module(spec.create(ctx));
    ASSERT_TRUE(daemon_->start());
  }
  bool has_route(uint32_t table, const char* dst) const {
    for (const auto& r : nl_.routes)
      if (r.route.table == table && r.route.dst.to_string() == dst && r.protocol == kOwnedProtocol) return true;
    return false;
  }

  FakeTimeSource time_;
  boost::asio::io_context io_;
  FakeNetlink nl_;
  FakeNetlinkMonitor monitor_;
  FakeNftables nft_;
  FakeNftChangeMonitor nft_monitor_;
  FakeConntrack ct_;
  KernelObjects objects_;
  probe::testing::FakeProberFactory probers_{time_};  // never answers: the wiring is under test
  std::unique_ptr<Daemon> daemon_;

 public:
  Wiring() {
    nl_.links = {{11, "eth1", true, true}, {1, "lo", true, true}};
    nl_.addresses = {{11, ifaddr("198.18.1.2", 24)}};
  }
  ~Wiring() override {
    if (daemon_) daemon_->stop();
  }
};

TEST_F(Wiring, EveryModuleOfTheListIsCreatedInListOrder) {
  start(kConfig);
  std::vector<std::string> names;
  for (const Module* m : daemon_->modules()) names.emplace_back(m->name());
  std::vector<std::string> listed;
  for (const auto& spec : builtin_modules()) listed.push_back(spec.name);
  EXPECT_EQ(names, listed);
  // Routing before the monitor: a link's table and mark rule exist before its first probe.
  auto pos = [&](const char* n) { return std::find(names.begin(), names.end(), n) - names.begin(); };
  EXPECT_LT(pos("routing"), pos("monitor"));
}

TEST_F(Wiring, TheTestModuleBringsItsSectionVerbAndRoute) {
  start(std::string(kConfig) + kTestmod);
  // Its section, parsed by its own parser.
  ASSERT_NE(daemon_->config().section<TestModSection>("testmod"), nullptr);
  // Its route, in the kernel under protocol 85, beside routing's own objects.
  EXPECT_TRUE(has_route(4242, "192.0.2.0/24"));
  // Shown under its owner in `status --json` (routing's add_status).
  nlohmann::json status;
  status["policies"] = nlohmann::json::array();
  for (const Module* m : daemon_->modules()) m->add_status(status);
  ASSERT_TRUE(status.contains("kernel_objects")) << status.dump();
  EXPECT_NE(status["kernel_objects"]["testmod"]["routes"].dump().find("192.0.2.0/24"), std::string::npos) << status.dump();
  // Its verb, through the control handler like any request.
  ControlHandler handler(*daemon_);
  auto req = control::parse_request(R"({"cmd":"testmod","json":true})", &daemon_->verbs());
  ASSERT_TRUE(req) << req.error().message;
  auto reply = handler.handle(*req);
  ASSERT_TRUE(reply.ok) << reply.error;
  EXPECT_EQ(reply.result["table"], 4242);
  EXPECT_EQ(reply.result["blackhole"], "192.0.2.0/24");
  // `verbs` lists it with its owner.
  auto verbs = handler.handle(*control::parse_request(R"({"cmd":"verbs"})", &daemon_->verbs()));
  bool listed = false;
  for (const auto& v : verbs.result) listed |= v["name"] == "testmod" && v["owner"] == "testmod";
  EXPECT_TRUE(listed);
  // `config show` writes the section back.
  EXPECT_NE(to_toml(daemon_->config()).find("[testmod]"), std::string::npos);
}

TEST_F(Wiring, RoutingNeverRemovesAnotherOwnersRouteAndTheOwnerRemovesExactlyIts) {
  start(std::string(kConfig) + kTestmod);
  ASSERT_TRUE(has_route(4242, "192.0.2.0/24"));
  // A routing decision (wan1 up) rewrites the kernel: the test module's route stays.
  daemon_->link_table().report_verdict("wan1", LinkState::up, "probes_ok");
  EXPECT_TRUE(has_route(4242, "192.0.2.0/24"));
  // A stray protocol-85 route nobody desires is removed by the next sync; ours stay.
  nl_.routes.push_back({{AF_INET, 4343, testing::prefix("198.51.100.0/24"), std::nullopt, 0, RouteType::blackhole}, kOwnedProtocol});
  time_.advance(std::chrono::seconds(31));  // the periodic verification
  EXPECT_FALSE(has_route(4343, "198.51.100.0/24"));
  EXPECT_TRUE(has_route(4242, "192.0.2.0/24"));
  // The section removed: exactly that route goes; routing's tables stay.
  size_t before = nl_.routes.size();
  ASSERT_TRUE(daemon_->apply_config(parse_config(kConfig, "/tmp/uplink-wiring.toml")));
  EXPECT_FALSE(has_route(4242, "192.0.2.0/24"));
  EXPECT_EQ(nl_.routes.size(), before - 1);
}

TEST_F(Wiring, AModuleSectionErrorNamesItsPositionAndNothingIsApplied) {
  start(kConfig);
  std::string bad = std::string(kConfig) + "\n[testmod]\ntable = 4242\nblackhole = \"192.0.2.1/24\"\n";
  try {
    parse_config(bad, "/tmp/x.toml");
    FAIL() << "a blackhole with host bits must be refused";
  } catch (const ConfigError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("/tmp/x.toml:"), std::string::npos) << what;
    EXPECT_NE(what.find("testmod.blackhole"), std::string::npos) << what;
  }
  EXPECT_FALSE(has_route(4242, "192.0.2.0/24"));
}

}  // namespace
}  // namespace uplink
