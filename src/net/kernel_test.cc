// Real kernel tests (label netns, root). Every test moves this process into
// a fresh anonymous network namespace (unshare(CLONE_NEWNET)): nothing the
// test creates is visible outside it, and the namespace, its veths, rules,
// routes, nft table and conntrack entries vanish with the process, also when
// a test fails half-way. `ip`/`nft`/`conntrack` commands run by the test
// inherit the namespace.
#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>

#include "net/conntrack.h"
#include "net/desired_state.h"
#include "net/facts.h"
#include "net/libnftables.h"
#include "net/libnl_monitor.h"
#include "net/libnl_netlink.h"
#include "net/programmer.h"
#include "net/testing/sample_config.h"

namespace uplink {
namespace {

std::string sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// Forwards to the real Netlink and counts writes (to prove no-op syncs).
class CountingNetlink final : public Netlink {
 public:
  explicit CountingNetlink(Netlink& real) : real_(real) {}
  int writes = 0;
  Result<std::vector<RouteEntry>> list_default_routes() override { return real_.list_default_routes(); }
  Result<void> add_route(const Route& r) override { return ++writes, real_.add_route(r); }
  Result<void> delete_route(const Route& r) override { return ++writes, real_.delete_route(r); }
  Result<std::vector<RuleEntry>> list_rules() override { return real_.list_rules(); }
  Result<void> add_rule(const Rule& r) override { return ++writes, real_.add_rule(r); }
  Result<void> delete_rule(const Rule& r) override { return ++writes, real_.delete_rule(r); }
  Result<std::vector<LinkInfo>> list_links() override { return real_.list_links(); }
  Result<std::vector<AddressInfo>> list_addresses() override { return real_.list_addresses(); }

 private:
  Netlink& real_;
};

std::string kernel_snapshot() {
  return sh("ip rule; ip -6 rule; ip route show table all; ip -6 route show table all; nft list ruleset");
}

class KernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (label netns)";
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET) failed";
    ASSERT_EQ(sh("ip link set lo up && "
                 "ip link add wan1 type veth peer name wan1p && ip link add wan2 type veth peer name wan2p && "
                 "ip link set wan1 up && ip link set wan1p up && ip link set wan2 up && ip link set wan2p up && "
                 "ip addr add 198.18.1.2/24 dev wan1 && ip addr add 198.18.2.2/24 dev wan2 && "
                 "ip -6 addr add 2001:db8:2::2/64 dev wan2 nodad && "
                 "ip route add default via 198.18.2.1 dev wan2 && echo ok"),
              "ok\n");
    config = testing::sample_config();
    config.links["wan1"].interface = "wan1";
    config.links["wan2"].interface = "wan2";  // gateway learned from the main table
    auto n = LibnlNetlink::open();
    ASSERT_TRUE(n.ok()) << n.error().message;
    real_nl = std::move(*n);
    nl = std::make_unique<CountingNetlink>(*real_nl);
    auto f = LibNftables::open();
    ASSERT_TRUE(f.ok()) << f.error().message;
    nft = std::move(*f);
    prog = std::make_unique<Programmer>(*nl, *nft, time);
    before = kernel_snapshot();
  }

  KernelState desired(const Decisions& d) {
    auto facts = gather_facts(*nl, {"wan1", "wan2", "wwan0"});
    EXPECT_TRUE(facts.ok()) << facts.error().message;
    auto ks = build_kernel_state(config, d, *facts);
    EXPECT_TRUE(ks.ok()) << ks.error().message;
    return *ks;
  }

  Config config;
  FakeTimeSource time;
  std::unique_ptr<LibnlNetlink> real_nl;
  std::unique_ptr<CountingNetlink> nl;
  std::unique_ptr<LibNftables> nft;
  std::unique_ptr<Programmer> prog;
  std::string before;
  Decisions primary{{"default", {{{"wan1", 3}, {"wan2", 1}}}}, {"cellular", {}}};
  Decisions backup{{"default", {{{"wan2", 1}}}}, {"cellular", {}}};
};

TEST_F(KernelTest, ProgramsTablesRulesAndNftThenRemovesEverything) {
  auto r = prog->apply(desired(primary));
  ASSERT_TRUE(r.ok()) << r.error().message;

  auto rules = sh("ip rule");
  EXPECT_NE(rules.find("10000:\tfrom all lookup main suppress_prefixlength 0 proto 85"), std::string::npos) << rules;
  EXPECT_NE(rules.find("10001:\tfrom all fwmark 0x7f00/0x7f00 unreachable proto 85"), std::string::npos) << rules;
  EXPECT_NE(rules.find("10100:\tfrom all fwmark 0x100/0x7f00 lookup 101 proto 85"), std::string::npos) << rules;
  EXPECT_NE(rules.find("10501:\tfrom 198.18.2.2 lookup 102 proto 85"), std::string::npos) << rules;
  EXPECT_NE(sh("ip -6 rule").find("10501:\tfrom 2001:db8:2::2 lookup 102 proto 85"), std::string::npos) << sh("ip -6 rule");
  EXPECT_EQ(sh("ip route show table 101"), "default via 198.18.1.1 dev wan1 proto 85 \n");
  EXPECT_EQ(sh("ip route show table 102"), "default via 198.18.2.1 dev wan2 proto 85 \n");  // learned
  EXPECT_NE(sh("ip -6 route show table 102").find("default dev wan2 proto 85"), std::string::npos);

  auto table = sh("nft list table inet uplinkd");
  EXPECT_NE(table.find("chain policy_default"), std::string::npos) << table;
  EXPECT_NE(table.find("numgen random mod 4 vmap { 0-2 : goto link_wan1, 3 : goto link_wan2 }"), std::string::npos) << table;
  EXPECT_NE(table.find("type filter hook prerouting priority mangle; policy accept;"), std::string::npos) << table;

  // Reading back finds exactly what we wrote: a sync writes nothing.
  int writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);

  // Decision change: one chain rewritten, nothing else.
  ASSERT_TRUE(prog->apply(desired(backup)).ok());
  EXPECT_EQ(nl->writes, writes);
  EXPECT_NE(sh("nft list chain inet uplinkd policy_default").find("goto link_wan2"), std::string::npos);

  ASSERT_TRUE(prog->remove_all().ok());
  EXPECT_EQ(kernel_snapshot(), before);
}

TEST_F(KernelTest, ReappliesAfterExternalRuleDeleteSeenByTheMonitor) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog->apply(ks).ok());
  auto with = sh("ip rule; ip -6 rule; ip route show table all");

  boost::asio::io_context io;
  LibnlMonitor monitor(io);
  int rule_events = 0;
  ASSERT_TRUE(monitor.start([&](const NetlinkEvent& e) {
                 if (e.kind == NetlinkEvent::Kind::rule) ++rule_events;
                 if (e.kind == NetlinkEvent::Kind::rule || e.kind == NetlinkEvent::Kind::route) prog->schedule_sync();
               }).ok());
  sh("ip rule del pref 10100; ip route flush table 101");
  for (int i = 0; i < 100 && rule_events == 0; ++i) io.run_for(std::chrono::milliseconds(10));
  EXPECT_GT(rule_events, 0);
  time.advance(std::chrono::milliseconds(60));  // debounce
  EXPECT_EQ(sh("ip rule; ip -6 rule; ip route show table all"), with);
  monitor.stop();
  ASSERT_TRUE(prog->remove_all().ok());
  EXPECT_EQ(kernel_snapshot(), before);
}

TEST_F(KernelTest, MonitorReportsCarrierAddressAndLinkGone) {
  boost::asio::io_context io;
  LibnlMonitor monitor(io);
  std::vector<std::string> seen;
  ASSERT_TRUE(monitor.start([&](const NetlinkEvent& e) {
                 if (e.kind == NetlinkEvent::Kind::link && e.ifname == "wan1")
                   seen.push_back(std::string("carrier ") + (e.link.carrier ? "1" : "0"));
                 if (e.kind == NetlinkEvent::Kind::address_added && e.ifname == "wan1")
                   seen.push_back("addr+ " + e.address.prefix.to_string());
                 if (e.kind == NetlinkEvent::Kind::link_gone && e.ifname == "wan1") seen.push_back("gone");
               }).ok());
  sh("ip link set wan1p down");
  sh("ip addr add 198.18.1.3/24 dev wan1");
  sh("ip link del wan1");
  auto has = [&](const std::string& s) { return std::find(seen.begin(), seen.end(), s) != seen.end(); };
  for (int i = 0; i < 100 && !has("gone"); ++i) io.run_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(has("carrier 0"));
  EXPECT_TRUE(has("addr+ 198.18.1.3/24"));
  EXPECT_TRUE(has("gone"));
}

TEST_F(KernelTest, AdoptsAPredecessorWithoutDuplicates) {
  ASSERT_TRUE(prog->apply(desired(primary)).ok());
  auto with = kernel_snapshot();
  prog.reset();  // "kill -9": nothing removed
  FakeTimeSource t2;
  Programmer next(*nl, *nft, t2);
  int writes = nl->writes;
  ASSERT_TRUE(next.apply(desired(primary)).ok());
  EXPECT_EQ(nl->writes, writes);  // routes and rules adopted as they are
  EXPECT_EQ(kernel_snapshot(), with);
  ASSERT_TRUE(next.remove_all().ok());
  EXPECT_EQ(kernel_snapshot(), before);
}

// Inserts one UDP conntrack entry 10.0.0.1:sport -> 10.0.0.2:53 with a ct mark.
bool insert_ct(nfct_handle* h, uint16_t sport, uint32_t mark) {
  nf_conntrack* ct = nfct_new();
  nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
  nfct_set_attr_u32(ct, ATTR_IPV4_SRC, inet_addr("10.0.0.1"));
  nfct_set_attr_u32(ct, ATTR_IPV4_DST, inet_addr("10.0.0.2"));
  nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
  nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(sport));
  nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(53));
  nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
  nfct_set_attr_u32(ct, ATTR_TIMEOUT, 120);
  nfct_set_attr_u32(ct, ATTR_MARK, mark);
  bool ok = nfct_query(h, NFCT_Q_CREATE, ct) == 0;
  nfct_destroy(ct);
  return ok;
}

int count_mark(const std::string& mark) {
  auto out = sh("conntrack -L -m " + mark + " 2>/dev/null | grep -c udp");
  return atoi(out.c_str());
}

TEST_F(KernelTest, ConntrackFlushDeletesOnlyTheLinksEntries) {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  ASSERT_NE(h, nullptr);
  // wan1 (0x100), wan1 sticky (0x8100), wan1 with someone else's low bit (0x101), wan2 (0x200), unmarked.
  uint16_t port = 1000;
  for (uint32_t mark : {0x100u, 0x8100u, 0x101u, 0x200u, 0x0u})
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(insert_ct(h, port++, mark)) << "insert mark " << mark;
  nfct_close(h);
  ASSERT_EQ(atoi(sh("conntrack -C").c_str()), 15);

  auto ct = NfConntrack::open();
  ASSERT_TRUE(ct.ok()) << ct.error().message;
  // Link left a policy but is still usable: sticky flows stay (mask includes the sticky bit).
  auto n = (*ct)->flush_mark(0x100, 0xff00);
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, 6u);  // 0x100 and 0x101
  EXPECT_EQ(count_mark("0x8100"), 3);
  // Link down: all of its flows, sticky or not.
  n = (*ct)->flush_mark(0x100, 0x7f00);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(count_mark("0x200"), 3);
  EXPECT_EQ(count_mark("0x0"), 3);
  EXPECT_EQ(atoi(sh("conntrack -C").c_str()), 6);
}

}  // namespace
}  // namespace uplink
