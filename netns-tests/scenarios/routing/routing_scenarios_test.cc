// Policy routing and failover in the lab (issue 5): uplinkd in `router`, LAN
// traffic from `lan`, receivers in `core`. The ISPs do not NAT, so the source
// address core sees names the line that carried each packet (routing_lab.h).
// Every wait is bounded; the whole file runs in about two to three minutes.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "common/strings.h"
#include "harness/lab_test.h"
#include "routing_lab.h"

namespace uplink::lab {
namespace {

using namespace std::chrono_literals;
using namespace routing;

constexpr const char* kCore = "203.0.113.1";

// wan1 first, then wan2, then cell1: each tier a single line, not sticky, so a
// LAN stream follows the policy both ways.
const std::string kTiered = failover_tiers({"wan1", "wan2", "cell1"});

std::string bracketed(const std::vector<std::string>& v) { return "[" + uplink::join(v) + "]"; }

std::string describe(const FlowRecord* f) {
  if (!f) return "no packets";
  std::ostringstream out;
  out << f->packets << " packets, max gap " << f->max_gap_ns / 1e6 << " ms, segments:";
  for (const auto& s : f->segments)
    out << " " << link_of_source(s.src) << "(" << s.packets << " pkts, seq " << s.first_seq << "-" << s.last_seq << ")";
  return out.str();
}

double ms_between(int64_t from_ns, int64_t to_ns) { return static_cast<double>(to_ns - from_ns) / 1e6; }

class Routing : public LabTest {
 protected:
  std::vector<std::string> active(const std::string& policy = "default") {
    auto a = active_members(status(), policy);
    std::sort(a.begin(), a.end());
    return a;
  }
  // Sorted `want`: the order of members in a balanced set does not matter.
  bool wait_active(std::vector<std::string> want, std::chrono::milliseconds timeout,
                   const std::string& policy = "default") {
    std::sort(want.begin(), want.end());
    return eventually([&] { return active(policy) == want; }, timeout,
                      "policy " + policy + " active = " + bracketed(want), 100ms);
  }
  bool wait_up(const std::vector<std::string>& links, std::chrono::milliseconds timeout) {
    return eventually(
        [&] {
          auto s = status();
          return std::all_of(links.begin(), links.end(), [&](const auto& l) { return state_of(s, l) == "up"; });
        },
        timeout, "links " + bracketed(links) + " up", 100ms);
  }
  // Flow `id` at `recv` has packets and its latest segment arrived via `link`.
  bool wait_flow_on(FlowReceiver& recv, uint32_t id, const std::string& link, std::chrono::milliseconds timeout) {
    std::string last;
    bool ok = routing::wait_for(
        [&] {
          auto r = recv.snapshot();
          if (!r.ok()) return false;
          const FlowRecord* f = r->flow(id);
          last = describe(f);
          return f && !f->segments.empty() && link_of_source(f->segments.back().src) == link;
        },
        timeout, 100ms);
    if (!ok) ADD_FAILURE() << "flow " << id << " not on " << link << " within " << timeout.count() << " ms: " << last;
    return ok;
  }
  std::filesystem::path file(const std::string& name) const { return temp_dir() / name; }

  // A UDP stream from the router itself (no --bind: its routing picks the
  // source address and the line) arrives via wan1, then after wan1's upstream
  // fails via wan2, each packet on one line or the other.
  void router_stream_moves_to_wan2(uint16_t port, const std::string& if_stuck) {
    FlowReceiver recv(lab(), port, file("recv.log"));
    FlowStream stream(lab(), "router", kCore, port, 1, 200, file("send.log"));
    if (!wait_flow_on(recv, 1, "wan1", 3s)) {
      auto sent = stream.stop();
      FAIL() << "router-originated UDP to " << kCore << " did not arrive via wan1; flow-send: " << sent.dump();
    }
    ASSERT_TRUE(fault("eth1", {"upstream-down"}));
    ASSERT_TRUE(wait_active({"wan2"}, 10s));
    EXPECT_TRUE(wait_flow_on(recv, 1, "wan2", 3s)) << if_stuck;
    std::this_thread::sleep_for(300ms);
    auto sent = stream.stop();
    auto report = recv.stop();
    ASSERT_TRUE(report.ok()) << report.error().message;
    const FlowRecord* f = report->flow(1);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->links(), (std::vector<std::string>{"wan1", "wan2"})) << describe(f) << "; flow-send " << sent.dump();
  }
};

// ---- failover ------------------------------------------------------------------

TEST_F(Routing, LanStreamMovesToNextTierAndBackAfterRecovery) {
  UPLINK_START_DAEMON(lab_config_with(kTiered));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));

  FlowReceiver recv(lab(), 5101, file("recv.log"));
  FlowStream stream(lab(), "lan", kCore, 5101, 1, 200, file("send.log"));
  ASSERT_TRUE(wait_flow_on(recv, 1, "wan1", 3s));

  ASSERT_TRUE(fault("eth1", {"upstream-down"}));
  ASSERT_TRUE(wait_active({"wan2"}, 10s));
  ASSERT_TRUE(wait_flow_on(recv, 1, "wan2", 3s));
  std::this_thread::sleep_for(300ms);

  const int64_t cleared = realtime_ns();
  ASSERT_TRUE(fault("eth1", {"clear"}));
  ASSERT_TRUE(wait_active({"wan1"}, 20s));
  ASSERT_TRUE(wait_flow_on(recv, 1, "wan1", 3s));
  std::this_thread::sleep_for(300ms);

  auto sent = stream.stop();
  auto report = recv.stop();
  ASSERT_TRUE(report.ok()) << report.error().message;
  const FlowRecord* f = report->flow(1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->links(), (std::vector<std::string>{"wan1", "wan2", "wan1"})) << describe(f);
  EXPECT_EQ(sent.value("errors", -1), 0) << sent.dump();
  if (f->segments.size() == 3) {
    const auto &a = f->segments[0], &b = f->segments[1], &c = f->segments[2];
    // Failover: packets sent into the dead line are lost until uplinkd decides.
    EXPECT_LT(ms_between(a.last_ns, b.first_ns), 5000) << "failover gap";
    // Recovery waits for up_after good rounds (5 at fast_interval 100 ms): never at once.
    EXPECT_GE(ms_between(cleared, c.first_ns), 300) << "came back without recovery hysteresis";
    // Both lines work while it returns: the move back itself loses (almost) nothing.
    EXPECT_LT(ms_between(b.last_ns, c.first_ns), 200) << "failback gap";
    std::printf("failover gap %.1f ms, back %.1f ms after clear, failback gap %.1f ms\n",
                ms_between(a.last_ns, b.first_ns), ms_between(cleared, c.first_ns), ms_between(b.last_ns, c.first_ns));
  }
}

// ---- sticky TCP on the healthy secondary -----------------------------------------

// `bulk` pins TCP to port 5201 on wan2; other LAN traffic follows `default` and is
// sticky, so a connection opened during the outage stays on wan2 after wan1 returns.
constexpr const char* kSticky = R"(
[policies.default]
mode    = "failover"
members = [ { link = "wan1", tier = 1 }, { link = "wan2", tier = 2 } ]

[policies.bulk]
mode    = "failover"
members = [ { link = "wan2", tier = 1 }, { link = "wan1", tier = 2 } ]

[[rules]]
name             = "bulk"
protocol         = "tcp"
destination_port = 5201
policy           = "bulk"
sticky           = "10m"

[[rules]]
name   = "lan"
source = "192.168.50.0/24"
policy = "default"
sticky = "10m"

[[rules]]
name   = "all"
policy = "default"
)";

// The last JSON line a child printed after SIGUSR1 (bounded wait).
nlohmann::json poll_json(Child& c) {
  auto count = [&] {
    std::string text = c.log();
    return std::count(text.begin(), text.end(), '\n');
  };
  auto before = count();
  c.signal(SIGUSR1);
  routing::wait_for([&] { return count() > before; }, 3s);
  std::string text = c.log(), last;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() == '{') last = line;
  auto j = nlohmann::json::parse(last, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

TEST_F(Routing, TcpOnHealthySecondaryIsUntouchedWhenPrimaryFailsAndReturns) {
  UPLINK_START_DAEMON(lab_config_with(kSticky));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));
  ASSERT_TRUE(wait_active({"wan2"}, 5s, "bulk"));

  Child server_pinned = lab().spawn("core", {tool("tcp-hold"), "serve", "--port", "5201"}, file("srv1.log"));
  Child server_lan = lab().spawn("core", {tool("tcp-hold"), "serve", "--port", "5202"}, file("srv2.log"));
  std::this_thread::sleep_for(200ms);
  // Pinned by a rule to wan2 before anything fails.
  Child pinned = lab().spawn("lan", {tool("tcp-hold"), "connect", "--target", kCore, "--port", "5201"},
                             file("cli1.log"));
  std::this_thread::sleep_for(500ms);

  ASSERT_TRUE(fault("eth1", {"upstream-down"}));
  ASSERT_TRUE(wait_active({"wan2"}, 10s));
  // Opened during the outage: on wan2, sticky.
  Child during = lab().spawn("lan", {tool("tcp-hold"), "connect", "--target", kCore, "--port", "5202"},
                             file("cli2.log"));
  std::this_thread::sleep_for(700ms);

  ASSERT_TRUE(fault("eth1", {"clear"}));
  ASSERT_TRUE(wait_active({"wan1"}, 20s));
  // New flows follow the policy back to wan1; the sticky ones must not.
  FlowReceiver recv(lab(), 5203, file("recv.log"));
  auto probe = send_flows(lab(), "lan", kCore, 5203, 5, 0, 23000, 3, 500);
  std::this_thread::sleep_for(1500ms);

  auto c1 = poll_json(pinned), c2 = poll_json(during);
  auto s1 = poll_json(server_pinned), s2 = poll_json(server_lan);
  for (const auto& [name, c] : {std::pair{"pinned", c1}, std::pair{"opened during the outage", c2}}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(c.is_object()) << "client printed nothing";
    EXPECT_TRUE(c.value("connected", false)) << c.dump();
    EXPECT_EQ(c.value("error", "?"), "") << c.dump();
    EXPECT_LT(c.value("max_echo_gap_ms", 1e9), 1000.0) << c.dump();
    EXPECT_GE(c.value("echoed", 0) + 5, c.value("sent", 0)) << c.dump();
    EXPECT_GT(c.value("sent", 0), 40) << c.dump();
  }
  for (const auto& [name, s] : {std::pair{"server 5201", s1}, std::pair{"server 5202", s2}}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(s.is_object() && s.contains("conns")) << "server printed nothing";
    ASSERT_EQ(s["conns"].size(), 1u) << s.dump();  // no reconnect from another address
    EXPECT_TRUE(s["conns"][0].value("open", false)) << s.dump();
    EXPECT_EQ(s["conns"][0].value("peer", "").rfind(source_of_link("wan2") + ":", 0), 0u) << s.dump();
  }
  auto report = recv.stop();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->flows_by_first_link, (std::map<std::string, uint64_t>{{"wan1", 5}})) << probe.dump();
}

// ---- balance ---------------------------------------------------------------------

constexpr const char* kBalance = R"(
[policies.default]
mode    = "balance"
members = [ { link = "wan1", weight = 3 }, { link = "wan2", weight = 1 } ]

[[rules]]
name   = "lan"
source = "192.168.50.0/24"
policy = "default"

[[rules]]
name   = "all"
policy = "default"
)";

TEST_F(Routing, BalanceSplitsNewFlowsByWeightAndMovesAllOffADownMember) {
  UPLINK_START_DAEMON(lab_config_with(kBalance));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1", "wan2"}, 5s));

  FlowReceiver recv(lab(), 5301, file("recv.log"));
  constexpr int kFlows = 1000;
  auto sent = send_flows(lab(), "lan", kCore, 5301, kFlows, 0, 20000, 2, 2000);
  ASSERT_EQ(sent.value("sent", 0), 2 * kFlows) << sent.dump();
  std::this_thread::sleep_for(300ms);
  auto first = recv.snapshot();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->flows.size(), size_t(kFlows)) << "flows lost in a loss-free lab";
  size_t split = 0;
  for (const auto& [id, f] : first->flows) split += f.segments.size() > 1;
  EXPECT_EQ(split, 0u) << "a flow changed lines between its packets (the ct mark must keep it)";
  // wan1 share ~ Binomial(1000, 3/4): mean 750, sd 13.7. +-5 sd = [682, 818]; a
  // correct split falls outside with probability < 1e-6.
  const auto on_wan1 = first->flows_by_first_link["wan1"], on_wan2 = first->flows_by_first_link["wan2"];
  EXPECT_EQ(on_wan1 + on_wan2, uint64_t(kFlows));
  EXPECT_GE(on_wan1, 682u) << "wan1 " << on_wan1 << " / wan2 " << on_wan2;
  EXPECT_LE(on_wan1, 818u) << "wan1 " << on_wan1 << " / wan2 " << on_wan2;
  std::printf("balance 3:1 over %d flows: wan1 %llu, wan2 %llu\n", kFlows, (unsigned long long)on_wan1,
              (unsigned long long)on_wan2);

  ASSERT_TRUE(fault("eth1", {"upstream-down"}));
  ASSERT_TRUE(wait_active({"wan2"}, 10s));
  sent = send_flows(lab(), "lan", kCore, 5301, kFlows, kFlows, 22000, 2, 2000);
  ASSERT_EQ(sent.value("sent", 0), 2 * kFlows) << sent.dump();
  std::this_thread::sleep_for(300ms);
  auto second = recv.stop();
  ASSERT_TRUE(second.ok()) << second.error().message;
  std::map<std::string, uint64_t> later;
  for (const auto& [id, f] : second->flows)
    if (id >= uint32_t(kFlows)) ++later[link_of_source(f.segments.front().src)];
  // All of them arrived (none was sent into the dead line), all through wan2.
  EXPECT_EQ(later, (std::map<std::string, uint64_t>{{"wan2", uint64_t(kFlows)}}));
}

// ---- quality ---------------------------------------------------------------------

constexpr const char* kQuality = R"(
[policies.default]
mode    = "quality"
members = [ { link = "wan1" }, { link = "wan2" } ]

[[rules]]
name   = "lan"
source = "192.168.50.0/24"
policy = "default"

[[rules]]
name   = "all"
policy = "default"
)";

// Probes every 250 ms instead of 1 s: the smoothed RTT (RFC 6298, 1/8 per
// sample) then follows a latency change in ~2 s instead of ~8 s.
std::string fast_probes(const std::string& toml) {
  return std::regex_replace(toml, std::regex(R"((^|\n)interval\s*=\s*"1s")"), "$1interval = \"250ms\"");
}

TEST_F(Routing, QualityPicksLowerLatencyAndSwitchesOnceWhenLatenciesCross) {
  ASSERT_TRUE(fault("eth1", {"delay", "60"}));
  UPLINK_START_DAEMON(fast_probes(lab_config_with(kQuality)));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  // Whichever came up first, the clearly faster wan2 wins within the 5 s hold.
  ASSERT_TRUE(wait_active({"wan2"}, 15s));

  FlowReceiver recv(lab(), 5401, file("recv.log"));
  FlowStream stream(lab(), "lan", kCore, 5401, 1, 100, file("send.log"));
  ASSERT_TRUE(wait_flow_on(recv, 1, "wan2", 3s));

  // Cross the latencies in steps of 15 ms every 1.5 s (wan1 60 -> 0, wan2 0 -> 60),
  // watching the active member every 100 ms.
  const std::vector<std::pair<int, int>> steps = {{45, 15}, {30, 30}, {15, 45}, {0, 60}};
  std::vector<std::string> seen = {"wan2"};
  auto watch = [&](std::chrono::milliseconds d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
      auto a = active();
      if (a.size() == 1 && a[0] != seen.back()) seen.push_back(a[0]);
      std::this_thread::sleep_for(100ms);
    }
  };
  for (auto [d1, d2] : steps) {
    ASSERT_TRUE(fault("eth1", {"delay", std::to_string(d1)}));
    ASSERT_TRUE(fault("eth2", {"delay", std::to_string(d2)}));
    watch(1500ms);
  }
  // The switch needs the 5 s hold of a clear margin; then it must stay.
  for (int i = 0; i < 150 && seen.back() != "wan1"; ++i) watch(100ms);
  watch(6s);

  stream.stop();
  auto report = recv.stop();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(seen, (std::vector<std::string>{"wan2", "wan1"})) << "active member over time";
  const FlowRecord* f = report->flow(1);
  ASSERT_NE(f, nullptr);
  // In send order: at the switch, packets still queued on the slower wan2 arrive
  // after the first ones via wan1 (reordering, not flapping).
  EXPECT_EQ(f->links_by_seq(), (std::vector<std::string>{"wan2", "wan1"})) << describe(f);
}

// ---- router-originated traffic ---------------------------------------------------

TEST_F(Routing, RouterOriginatedTrafficFailsOver) {
  UPLINK_START_DAEMON(lab_config_with(kTiered));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));

  router_stream_moves_to_wan2(5501, "");
}

// As on most routers: DHCP left a default route via wan1 in the main table, so the
// first route lookup succeeds. After the failover the router's new packets must
// carry wan2's address: with wan1's they would leave through wan2 and their
// replies would come back through the dead ISP (core sees the chosen source).
TEST_F(Routing, RouterOriginatedTrafficFailsOverWithAKernelDefaultRoute) {
  auto added = exec("router", {"ip", "route", "add", "default", "via", line_info("eth1").gateway, "dev", "eth1"});
  ASSERT_TRUE(added.ok()) << added.err;
  struct Cleanup {
    Lab& lab;
    ~Cleanup() { lab.exec("router", {"ip", "route", "del", "default", "dev", "eth1"}); }
  } cleanup{lab()};
  UPLINK_START_DAEMON(lab_config_with(kTiered));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));

  router_stream_moves_to_wan2(5502, "router traffic still uses wan1's source address");
}

// "Traffic sourced from a link's address leaves by that link", IPv4 and IPv6:
// the router's sockets bound to wan2's addresses reach core through isp-dsl
// while wan1 is the active link (IPv6 through each link's gateway6).
TEST_F(Routing, TrafficFromALinksAddressLeavesByThatLinkV4AndV6) {
  UPLINK_START_DAEMON(lab_config_with(kTiered));
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));
  FlowReceiver recv(lab(), 5503, file("recv.log"));
  const auto& eth2 = line_info("eth2");
  auto v4 = lab().exec("router", {tool("flow-send"), "--target", kCore, "--port", "5503", "--bind", eth2.address,
                                  "--flow-id-base", "4", "--packets-per-flow", "20", "--rate", "200"});
  auto v6 = lab().exec("router", {tool("flow-send"), "--target", "2001:db8:ffff::1", "--port", "5503", "--bind",
                                  eth2.address6, "--flow-id-base", "6", "--packets-per-flow", "20", "--rate", "200"});
  std::this_thread::sleep_for(300ms);
  auto report = recv.stop();
  ASSERT_TRUE(report.ok()) << report.error().message;
  const FlowRecord *f4 = report->flow(4), *f6 = report->flow(6);
  ASSERT_NE(f4, nullptr) << "IPv4 from " << eth2.address << ": nothing arrived; " << v4.out << v4.err;
  EXPECT_EQ(f4->packets, 20u);
  EXPECT_EQ(f4->segments.front().src, eth2.address);
  ASSERT_NE(f6, nullptr) << "IPv6 from " << eth2.address6 << ": nothing arrived; flow-send " << v6.out << v6.err
                         << "; router: " << exec("router", {"ip", "-6", "route", "show", "table", "101"}).out
                         << exec("router", {"ip", "-6", "neigh", "show", "dev", "eth2"}).out;
  EXPECT_EQ(f6->packets, 20u);
  EXPECT_EQ(f6->segments.front().src, eth2.address6);
}

// ---- reload ----------------------------------------------------------------------

std::string two_policies(const std::string& iot_members) {
  return R"(
[policies.default]
mode    = "failover"
members = [ { link = "wan1", tier = 1 }, { link = "wan2", tier = 2 } ]

[policies.iot]
mode    = "failover"
members = )" + iot_members + R"(

[[rules]]
name             = "iot"
protocol         = "udp"
destination_port = 5602
policy           = "iot"

[[rules]]
name   = "lan"
source = "192.168.50.0/24"
policy = "default"

[[rules]]
name   = "all"
policy = "default"
)";
}

// "id=N mark=M" of the router's conntrack entries for UDP to `port`.
std::vector<std::string> conntrack_ids(Lab& lab, uint16_t port) {
  auto r = lab.exec("router", {"conntrack", "-L", "-p", "udp", "--dport", std::to_string(port), "-o", "id"});
  std::vector<std::string> out;
  static const std::regex id(R"(mark=(\d+).*id=(\d+))");
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, id)) out.push_back("id=" + m[2].str() + " mark=" + m[1].str());
  }
  return out;
}

TEST_F(Routing, ReloadChangingOnePolicyLeavesOtherPoliciesFlowsAlone) {
  const std::string before = lab_config_with(two_policies(R"([ { link = "cell1", tier = 1 }, { link = "cell2", tier = 2 } ])"));
  const std::string after = lab_config_with(two_policies(R"([ { link = "cell2", tier = 1 }, { link = "cell1", tier = 2 } ])"));
  UPLINK_START_DAEMON(before);
  ASSERT_TRUE(wait_up({"wan1", "wan2", "cell1", "cell2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));
  ASSERT_TRUE(wait_active({"cell1"}, 5s, "iot"));

  FlowReceiver recv_default(lab(), 5601, file("recv1.log")), recv_iot(lab(), 5602, file("recv2.log"));
  FlowStream untouched(lab(), "lan", kCore, 5601, 1, 200, file("send1.log"));
  FlowStream moved(lab(), "lan", kCore, 5602, 2, 200, file("send2.log"));
  ASSERT_TRUE(wait_flow_on(recv_default, 1, "wan1", 3s));
  ASSERT_TRUE(wait_flow_on(recv_iot, 2, "cell1", 3s));
  auto ct_before = conntrack_ids(lab(), 5601);
  ASSERT_EQ(ct_before.size(), 1u) << "conntrack entries of the default-policy stream";

  {
    std::ofstream out(config_path());
    out << rewrite_daemon_paths(after, socket_path(), (temp_dir() / "state").string(),
                                (temp_dir() / "hooks.d").string());
  }
  auto r = ctl({"reload"});
  ASSERT_TRUE(r.ok()) << r.out << r.err;
  ASSERT_TRUE(wait_active({"cell2"}, 5s, "iot"));
  EXPECT_TRUE(wait_flow_on(recv_iot, 2, "cell2", 3s));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(active(), std::vector<std::string>{"wan1"});
  // The same conntrack entry (id) with the same mark: never flushed, never re-classified.
  EXPECT_EQ(conntrack_ids(lab(), 5601), ct_before);

  untouched.stop();
  moved.stop();
  auto rd = recv_default.stop(), ri = recv_iot.stop();
  ASSERT_TRUE(rd.ok() && ri.ok());
  const FlowRecord *fd = rd->flow(1), *fi = ri->flow(2);
  ASSERT_TRUE(fd && fi);
  EXPECT_EQ(fd->links(), std::vector<std::string>{"wan1"}) << describe(fd);
  EXPECT_LT(fd->max_gap_ns, 250'000'000) << "the default-policy stream stalled during the reload: " << describe(fd);
  EXPECT_EQ(fi->links(), (std::vector<std::string>{"cell1", "cell2"})) << describe(fi);
}

// ---- crash and restart, clean stop -------------------------------------------------

TEST_F(Routing, Kill9ThenRestartAdoptsStateWithoutDuplicates) {
  if (!daemon_available()) GTEST_SKIP() << "uplinkd not built";
  const KernelSnapshot pristine = kernel_snapshot(lab());
  Uplinkd d(lab(), temp_dir());
  ASSERT_TRUE(d.start(lab_config_with(kTiered)).ok());
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));

  FlowReceiver recv(lab(), 5701, file("recv.log"));
  FlowStream stream(lab(), "lan", kCore, 5701, 1, 200, file("send.log"));
  ASSERT_TRUE(wait_flow_on(recv, 1, "wan1", 3s));
  const KernelSnapshot programmed = kernel_snapshot(lab());

  d.kill9();
  ASSERT_FALSE(d.running());
  EXPECT_EQ(describe_difference(programmed, kernel_snapshot(lab())), "") << "kill -9 must leave the kernel as is";
  auto started = d.start(lab_config_with(kTiered));
  ASSERT_TRUE(started.ok()) << started.error().message;
  ASSERT_TRUE(wait_up({"wan1", "wan2"}, 20s));
  ASSERT_TRUE(wait_active({"wan1"}, 5s));
  std::this_thread::sleep_for(500ms);

  const KernelSnapshot adopted = kernel_snapshot(lab());
  EXPECT_EQ(describe_difference(programmed, adopted), "") << "the restarted daemon must adopt, not rebuild";
  EXPECT_EQ(duplicate_lines(adopted.rules4), std::vector<std::string>{});
  EXPECT_EQ(duplicate_lines(adopted.rules6), std::vector<std::string>{});
  EXPECT_EQ(duplicate_lines(adopted.routes4), std::vector<std::string>{});
  EXPECT_EQ(duplicate_lines(adopted.routes6), std::vector<std::string>{});
  auto tables = exec("router", {"nft", "list", "tables"}).out;
  size_t uplinkd_tables = 0;
  for (size_t p = 0; (p = tables.find("table inet uplinkd", p)) != std::string::npos; ++p) ++uplinkd_tables;
  EXPECT_EQ(uplinkd_tables, 1u) << tables;

  // Traffic still correct: new flows on wan1, the established stream never left it.
  auto fresh = send_flows(lab(), "lan", kCore, 5701, 20, 100, 24000, 2, 1000);
  std::this_thread::sleep_for(300ms);
  stream.stop();
  auto report = recv.stop();
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::map<std::string, uint64_t> fresh_links;
  for (const auto& [id, f] : report->flows)
    if (id >= 100) ++fresh_links[link_of_source(f.segments.front().src)];
  EXPECT_EQ(fresh_links, (std::map<std::string, uint64_t>{{"wan1", 20}})) << fresh.dump();
  const FlowRecord* f = report->flow(1);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->links(), std::vector<std::string>{"wan1"}) << describe(f);
  EXPECT_LT(f->max_gap_ns, 1'000'000'000) << "the established stream stalled across the restart: " << describe(f);

  EXPECT_EQ(d.stop(), 0) << d.log();
  EXPECT_EQ(describe_difference(pristine, kernel_snapshot(lab())), "");
}

TEST_F(Routing, SigtermLeavesKernelExactlyAsBeforeStart) {
  if (!daemon_available()) GTEST_SKIP() << "uplinkd not built";
  const KernelSnapshot before = kernel_snapshot(lab());
  UPLINK_START_DAEMON(lab_config());  // the full lab.toml: 4 links, weighted tier, sticky rule
  ASSERT_TRUE(wait_up({"wan1", "wan2", "cell1", "cell2"}, 20s));
  // Exercise more than the start: flows with marks, then a failover.
  auto sent = send_flows(lab(), "lan", kCore, 9, 50, 0, 25000, 1, 1000);
  EXPECT_EQ(sent.value("sent", 0), 50) << sent.dump();
  ASSERT_TRUE(fault("eth1", {"upstream-down"}));
  ASSERT_TRUE(wait_active({"wan2"}, 10s));
  const KernelSnapshot during = kernel_snapshot(lab());
  EXPECT_NE(during.rules4, before.rules4) << "uplinkd programmed no rules";
  EXPECT_NE(during.ruleset, before.ruleset) << "uplinkd loaded no nft table";

  stop_daemon();  // SIGTERM; a non-zero exit status is a failure
  EXPECT_EQ(describe_difference(before, kernel_snapshot(lab())), "");
}

}  // namespace
}  // namespace uplink::lab
