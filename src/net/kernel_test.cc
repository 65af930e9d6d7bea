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

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "net/conntrack.h"
#include "net/conntrack_flusher.h"
#include "net/desired_state.h"
#include "net/facts.h"
#include "net/libnftables.h"
#include "net/libnl_monitor.h"
#include "net/libnl_netlink.h"
#include "net/nft_monitor.h"
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
  // wan2 is Ethernet (a veth) with a global IPv6 address but no IPv6 next hop:
  // no IPv6 default (it would solicit remote addresses on the link itself).
  EXPECT_EQ(sh("ip -6 route show table 102"), "");
  // Router-originated traffic: the catch-all's policy, wan1:3 + wan2:1, after P+0.
  EXPECT_NE(rules.find("10900:\tfrom all lookup 99 proto 85"), std::string::npos) << rules;
  EXPECT_NE(sh("ip -6 rule").find("10900:\tfrom all lookup 99 proto 85"), std::string::npos) << sh("ip -6 rule");
  EXPECT_EQ(sh("ip route show table 99"),
            "default proto 85 \n\tnexthop via 198.18.1.1 dev wan1 weight 3 \n\tnexthop via 198.18.2.1 dev wan2 weight 1 \n");
  EXPECT_EQ(sh("ip -6 route show table 99"), "");

  auto table = sh("nft list table inet uplinkd");
  EXPECT_NE(table.find("chain policy_default"), std::string::npos) << table;
  EXPECT_NE(table.find("numgen random mod 4 vmap { 0-2 : goto link_wan1, 3 : goto link_wan2 }"), std::string::npos) << table;
  EXPECT_NE(table.find("type filter hook prerouting priority mangle; policy accept;"), std::string::npos) << table;

  // Reading back finds exactly what we wrote: a sync writes nothing.
  int writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);

  // Decision change: one chain rewritten and one route replaced (table 99).
  ASSERT_TRUE(prog->apply(desired(backup)).ok());
  EXPECT_EQ(nl->writes, writes + 1);
  EXPECT_NE(sh("nft list chain inet uplinkd policy_default").find("goto link_wan2"), std::string::npos);
  EXPECT_EQ(sh("ip route show table 99"), "default via 198.18.2.1 dev wan2 proto 85 \n");
  // Last resort: unreachable in both families; the read-back equals it (a sync writes nothing).
  ASSERT_TRUE(prog->apply(desired({{"default", {}}, {"cellular", {}}})).ok());
  EXPECT_EQ(sh("ip route show table 99"), "unreachable default proto 85 \n");
  EXPECT_NE(sh("ip -6 route show table 99").find("unreachable default dev lo proto 85"), std::string::npos)
      << sh("ip -6 route show table 99");
  writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);

  ASSERT_TRUE(prog->remove_all().ok());
  EXPECT_EQ(kernel_snapshot(), before);
}

TEST_F(KernelTest, Ipv6NextHopLearnedFromTheKernelAndSharedWithRouterTraffic) {
  ASSERT_EQ(sh("ip -6 route add default via fe80::1 dev wan2 && echo ok"), "ok\n");
  ASSERT_TRUE(prog->apply(desired(backup)).ok());
  EXPECT_EQ(sh("ip -6 route show table 102"), "default via fe80::1 dev wan2 proto 85 metric 1024 pref medium\n");
  EXPECT_EQ(sh("ip -6 route show table 99"), "default via fe80::1 dev wan2 proto 85 metric 1024 pref medium\n");
  int writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);
  ASSERT_TRUE(prog->remove_all().ok());
  sh("ip -6 route del default via fe80::1 dev wan2");
  EXPECT_EQ(kernel_snapshot(), before);
}

// Weighted tier: a multipath default in both families; IPv6 multipath is
// dumped differently from IPv4, and the read-back must still equal it (else
// every sync, and every route event it causes, would write again).
TEST_F(KernelTest, WeightedTierGivesRouterTrafficAMultipathDefaultReadBackExactly) {
  ASSERT_EQ(sh("ip -6 addr add 2001:db8:1::2/64 dev wan1 nodad && echo ok"), "ok\n");
  config.links["wan1"].gateway6 = testing::address("2001:db8:1::1");
  config.links["wan2"].gateway6 = testing::address("2001:db8:2::1");
  ASSERT_TRUE(prog->apply(desired(primary)).ok());
  EXPECT_EQ(sh("ip -6 route show table 99"),
            "default proto 85 metric 1024 pref medium\n"
            "\tnexthop via 2001:db8:1::1 dev wan1 weight 3 \n\tnexthop via 2001:db8:2::1 dev wan2 weight 1 \n");
  int writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);
  // To one path and back: one replace each, no leftovers.
  ASSERT_TRUE(prog->apply(desired(backup)).ok());
  EXPECT_EQ(sh("ip -6 route show table 99"), "default via 2001:db8:2::1 dev wan2 proto 85 metric 1024 pref medium\n");
  ASSERT_TRUE(prog->apply(desired(primary)).ok());
  EXPECT_EQ(nl->writes, writes + 4);  // v4 and v6 route of table 99, twice
  writes = nl->writes;
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(nl->writes, writes);
  ASSERT_TRUE(prog->remove_all().ok());
  sh("ip -6 addr del 2001:db8:1::2/64 dev wan1");
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

// A firewall reload (`nft flush ruleset`) or an administrator's edit of our
// table is seen at once; our own transactions and others' tables are not.
TEST_F(KernelTest, NftMonitorSeesOthersEditsOfOurTableAndRepairs) {
  auto ks = desired(primary);
  ASSERT_TRUE(prog->apply(ks).ok());  // our own transactions, before and after start()
  std::string ours = sh("nft list table inet uplinkd");
  boost::asio::io_context io;
  LibmnlNftMonitor monitor(io);
  int reports = 0;
  ASSERT_TRUE(monitor.start([&] {
                 ++reports;
                 prog->schedule_sync();
               }).ok());
  // The events are queued before the committing process gets its ack, so
  // polling right after the command sees them.
  auto settle = [&] {
    io.restart();
    io.poll();
  };
  ASSERT_TRUE(prog->sync().ok());
  ASSERT_TRUE(nft->run("flush chain inet uplinkd policy_default").ok());  // this process: ours
  ASSERT_TRUE(prog->sync().ok());
  settle();
  EXPECT_EQ(reports, 0) << "uplinkd's own transactions";
  sh("nft add table inet other && nft add table ip uplinkd && nft delete table ip uplinkd");
  settle();
  EXPECT_EQ(reports, 0) << "other tables, and table ip uplinkd";
  sh("nft flush ruleset");
  settle();
  EXPECT_EQ(reports, 1);
  time.advance(std::chrono::milliseconds(60));  // debounce
  EXPECT_EQ(sh("nft list table inet uplinkd"), ours);
  sh("nft delete rule inet uplinkd policy_default handle $(nft -a list chain inet uplinkd policy_default | "
     "grep -o 'handle [0-9]*' | tail -1 | cut -d' ' -f2)");
  settle();
  EXPECT_EQ(reports, 2);
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

// The private-traffic guard in the real kernel: a packet to the private
// network may leave on the line whose private_routes cover it (wan2 here),
// never on another public line (wan1); it is in place before the first
// route, and a fail_closed stop leaves it (and only it) behind.
TEST_F(KernelTest, PrivateGuardDropsPrivateTrafficOnPublicLinesAndOutlivesAFailClosedStop) {
  config.links["wan2"].kind = LinkKind::cellular;
  config.links["wan2"].private_routes = {testing::prefix("10.200.0.0/16")};
  PolicyConfig priv;
  priv.name = "private";
  priv.members = {{"wan2", 1, 1}};
  priv.is_private = true;
  config.policies[priv.name] = priv;
  config.policy_order.push_back(priv.name);
  config.daemon.fail_closed = true;
  Decisions d = primary;
  d["private"] = PolicyDecision{{{"wan2", 1}}};
  ASSERT_TRUE(prog->apply(desired(d)).ok());
  // Sends one datagram to 10.200.0.5 out of `dev` (SO_BINDTODEVICE); "EPERM" when the guard drops it.
  auto send_via = [](const std::string& dev) {
    return sh("python3 -c \"import socket,errno\n"
              "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
              "s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b'" + dev + "')\n"
              "try:\n s.sendto(b'x',('10.200.0.5',9)); print('sent')\n"
              "except OSError as e: print(errno.errorcode[e.errno])\"");
  };
  ASSERT_EQ(sh("ip route add 10.200.0.0/16 via 198.18.1.1 dev wan1 && ip route add 10.200.0.0/16 via 198.18.2.1 dev wan2 table 55 && echo ok"), "ok\n");
  EXPECT_EQ(send_via("wan1"), "EPERM\n");  // a public line: dropped
  EXPECT_EQ(sh("ip rule add from all lookup 55 priority 100 && echo ok"), "ok\n");
  EXPECT_EQ(send_via("wan2"), "sent\n");   // the private APN covers it
  auto table = sh("nft list table inet uplinkd");
  EXPECT_NE(table.find("chain private_guard_output"), std::string::npos) << table;
  EXPECT_NE(table.find("chain private_guard_forward"), std::string::npos) << table;

  ASSERT_TRUE(prog->remove_all(/*keep_guard=*/true).ok());
  auto left = sh("nft list table inet uplinkd");
  EXPECT_NE(left.find("chain private_guard_output"), std::string::npos) << left;
  EXPECT_EQ(left.find("chain policy_default"), std::string::npos) << left;  // nothing else of ours
  auto rest = sh("ip rule; ip -6 rule; ip route show table all; ip -6 route show table all");
  EXPECT_EQ(rest.find("proto 85"), std::string::npos) << rest;
  EXPECT_EQ(send_via("wan1"), "EPERM\n");  // still dropped while uplinkd is not running

  // The next start replaces the guard-only table atomically, and a normal stop removes it.
  Programmer next(*nl, *nft, time);
  ASSERT_TRUE(next.apply(desired(d)).ok());
  EXPECT_NE(sh("nft list table inet uplinkd").find("chain policy_default"), std::string::npos);
  ASSERT_TRUE(next.remove_all().ok());
  EXPECT_EQ(sh("nft list tables"), "");
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

TEST_F(KernelTest, AsyncFlushRunsOnTheWorkerAndReportsOnTheIoContext) {
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  ASSERT_NE(h, nullptr);
  uint16_t port = 2000;
  for (uint32_t mark : {0x100u, 0x8100u, 0x200u})
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(insert_ct(h, port++, mark));
  nfct_close(h);
  boost::asio::io_context io;
  auto flusher = AsyncConntrackFlusher::open(io.get_executor());
  ASSERT_TRUE(flusher.ok()) << flusher.error().message;
  std::vector<Result<size_t>> results;
  (*flusher)->flush_mark_async(0x100, 0xff00, [&](Result<size_t> n) { results.push_back(n); });
  (*flusher)->flush_mark_async(0x100, 0x7f00, [&](Result<size_t> n) { results.push_back(n); });
  auto work = boost::asio::make_work_guard(io);
  for (int i = 0; i < 100 && results.size() < 2; ++i) io.run_one_for(std::chrono::milliseconds(50));
  ASSERT_EQ(results.size(), 2u);
  // The first may have started before the second arrived (then: 50 + 50), or
  // been absorbed by it (then: one flush of 100 for both).
  ASSERT_TRUE(results[0].ok() && results[1].ok());
  EXPECT_TRUE((*results[0] == 50 && *results[1] == 50) || (*results[0] == 100 && *results[1] == 100))
      << *results[0] << " " << *results[1];
  EXPECT_EQ(count_mark("0x200"), 50);
  EXPECT_EQ(atoi(sh("conntrack -C").c_str()), 50);
  (*flusher)->stop();
}

// --- sticky source pins (rule "router": local, to 203.0.113.0/24, sticky, policy default)

// One new UDP flow (a fresh socket: a fresh source port) from `src` to
// 203.0.113.5:7000; returns the ct mark conntrack recorded for it.
uint32_t new_flow(const char* src) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 0xffffffff;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = inet_addr(src);
  sockaddr_in d{};
  d.sin_family = AF_INET;
  d.sin_port = htons(7000);
  d.sin_addr.s_addr = inet_addr("203.0.113.5");
  socklen_t len = sizeof a;
  uint32_t mark = 0xffffffff;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&d), sizeof d) == 1 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    auto out = sh("conntrack -L -p udp -s " + std::string(src) + " --sport " + std::to_string(ntohs(a.sin_port)) +
                  " 2>/dev/null");
    auto pos = out.find("mark=");
    if (pos != std::string::npos) mark = uint32_t(strtoul(out.c_str() + pos + 5, nullptr, 10));
  }
  close(fd);
  return mark;
}

class StickyKernelTest : public KernelTest {
 protected:
  void SetUp() override {
    KernelTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (auto& r : config.rules)
      if (r.name == "router") {
        r.policy = "default";
        r.sticky = std::chrono::seconds(30);  // the expiry test shortens it
      }
    std::string cmd;
    for (int i = 1; i <= kSources; ++i) cmd += "ip addr add " + source(i) + "/32 dev lo && ";
    ASSERT_EQ(sh(cmd + "echo ok"), "ok\n");
  }
  static std::string source(int i) { return "10.77.0." + std::to_string(i); }
  // The pins of a sticky set: source address -> ms until it expires.
  std::map<std::string, int> pins(const std::string& link) {
    auto out = sh("nft list set inet uplinkd sticky_router_" + link + "_v4");
    std::map<std::string, int> got;
    auto open = out.find("elements = {");
    if (open == std::string::npos) return got;
    std::istringstream in(out.substr(open + 12, out.find('}', open) - open - 12));
    std::string addr, word, left;
    while (in >> addr >> word >> left) {  // "10.77.0.1 expires 1s", "... expires 512ms,"
      int ms = 0;
      for (const char* c = left.c_str(); *c && *c != ',';) {
        char* end;
        long v = strtol(c, &end, 10);
        if (strncmp(end, "ms", 2) == 0) ms += int(v), c = end + 2;
        else if (*end == 's') ms += int(v) * 1000, c = end + 1;
        else break;
      }
      got[addr] = ms;
    }
    return got;
  }
  std::set<std::string> pinned(const std::string& link) {
    std::set<std::string> out;
    for (const auto& [addr, ms] : pins(link)) out.insert(addr);
    return out;
  }
  static constexpr int kSources = 20;
  static constexpr uint32_t kWan1 = 0x8100, kWan2 = 0x8200;  // sticky bit + link mark
  Decisions both{{"default", {{{"wan1", 1}, {"wan2", 1}}}}, {"cellular", {}}};
  Decisions only_wan1{{"default", {{{"wan1", 1}}}}, {"cellular", {}}};
  Decisions only_wan2{{"default", {{{"wan2", 1}}}}, {"cellular", {}}};
};

TEST_F(StickyKernelTest, SourcesStayOnTheirLinkOthersBalance) {
  ASSERT_TRUE(prog->apply(desired(both)).ok());
  std::map<uint32_t, int> first;  // link of each source's first flow -> sources
  for (int i = 1; i <= kSources; ++i) {
    uint32_t m = new_flow(source(i).c_str());
    ASSERT_TRUE(m == kWan1 || m == kWan2) << source(i) << " mark " << m;
    ++first[m];
    // Two more flows from the same source: same link.
    EXPECT_EQ(new_flow(source(i).c_str()), m) << source(i);
    EXPECT_EQ(new_flow(source(i).c_str()), m) << source(i);
  }
  // Other sources are free to balance: both links got some (1 in 2^19 to fail by chance).
  EXPECT_GT(first[kWan1], 0);
  EXPECT_GT(first[kWan2], 0);
  // A periodic sync finds the table as loaded (set elements are not compared): the pins survive.
  auto wan1 = pinned("wan1"), wan2 = pinned("wan2");
  EXPECT_EQ(wan1.size() + wan2.size(), size_t(kSources));
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(pinned("wan1"), wan1);
  EXPECT_EQ(pinned("wan2"), wan2);
  ASSERT_TRUE(prog->remove_all().ok());
  EXPECT_EQ(sh("nft list ruleset"), "");  // the sets went with the table
}

TEST_F(StickyKernelTest, PinsExpireOneTimeoutAfterTheLastNewFlow) {
  for (auto& r : config.rules)
    if (r.name == "router") r.sticky = std::chrono::seconds(1);
  ASSERT_TRUE(prog->apply(desired(only_wan1)).ok());
  ASSERT_EQ(new_flow("10.77.0.1"), kWan1);
  auto expires = [&] {  // ms left on the pin of 10.77.0.1 (-1: no pin)
    auto p = pins("wan1");
    return p.count("10.77.0.1") ? p["10.77.0.1"] : -1;
  };
  int fresh = expires();
  EXPECT_GT(fresh, 500);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  int older = expires();
  EXPECT_GE(older, 0);
  EXPECT_LT(older, fresh);
  ASSERT_EQ(new_flow("10.77.0.1"), kWan1);  // a new flow refreshes the pin
  EXPECT_GT(expires(), older);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(expires(), -1);  // gone one timeout after the last new flow
  ASSERT_TRUE(prog->remove_all().ok());
}

TEST_F(StickyKernelTest, ALinkLeavingThePolicyMakesNewFlowsChooseAfresh) {
  ASSERT_TRUE(prog->apply(desired(only_wan1)).ok());
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(new_flow(source(i).c_str()), kWan1);
  EXPECT_EQ(pinned("wan1").size(), 5u);
  // wan1 leaves the policy: its pins are dropped in the same transaction.
  ASSERT_TRUE(prog->apply(desired(only_wan2)).ok());
  EXPECT_TRUE(pinned("wan1").empty());
  for (int i = 1; i <= 5; ++i) ASSERT_EQ(new_flow(source(i).c_str()), kWan2) << source(i);
  // wan1 is back: the sources stay where their last flows went (their wan1
  // pins did not come back with the link).
  ASSERT_TRUE(prog->apply(desired(both)).ok());
  for (int i = 1; i <= 5; ++i)
    for (int n = 0; n < 3; ++n) EXPECT_EQ(new_flow(source(i).c_str()), kWan2) << source(i);
  // The next sync finds our chain updates, not a foreign edit: no reload, the pins stay.
  EXPECT_EQ(pinned("wan2").size(), 5u);
  ASSERT_TRUE(prog->sync().ok());
  EXPECT_EQ(pinned("wan2").size(), 5u);
  ASSERT_TRUE(prog->remove_all().ok());
  EXPECT_EQ(sh("nft list ruleset"), "");  // the sets went with the table
}

}  // namespace
}  // namespace uplink
