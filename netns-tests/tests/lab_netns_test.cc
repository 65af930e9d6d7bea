// uplink-lab: leaves the machine as it found it, runs twice side by side, and
// every fault verb does what it names on its own line only.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <thread>

#include "probe_util.h"

namespace uplink::lab {
namespace {

using namespace std::chrono_literals;

std::set<std::string> words_of(const std::string& text, bool first_word_only) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.insert(first_word_only ? line.substr(0, line.find(' ')) : line);
  }
  return out;
}

std::set<std::string> netns_list() { return words_of(run_command({"ip", "netns", "list"}).out, true); }
std::set<std::string> root_links() { return words_of(run_command({"ip", "-o", "link", "show"}).out, false); }
std::set<std::string> wireguard_dir() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/wireguard", ec)) out.insert(e.path().string());
  return out;
}

// Gone, or a zombie waiting for an init that does not reap (containers).
bool process_gone(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (stat.empty()) return true;
  auto paren = stat.rfind(')');
  return paren != std::string::npos && stat.compare(paren + 2, 1, "Z") == 0;
}

std::set<std::string> with_prefix(const std::set<std::string>& s, const std::string& prefix) {
  std::set<std::string> out;
  for (const auto& n : s)
    if (n.rfind(prefix + "-", 0) == 0) out.insert(n);
  return out;
}

TEST(LabLifecycle, UpDownLeavesTheMachineAsBefore) {
  auto ns_before = netns_list();
  auto links_before = root_links();
  auto wg_before = wireguard_dir();
  std::string prefix;
  {
    Lab lab;
    prefix = lab.prefix();
    ASSERT_TRUE(lab.up().ok());
    EXPECT_EQ(with_prefix(netns_list(), lab.prefix()).size(), 12u);
    EXPECT_TRUE(std::filesystem::exists("/run/uplink-lab/" + lab.prefix()));
    // `up` again over a live lab first cleans it, then builds afresh.
    ASSERT_TRUE(lab.up().ok());
    EXPECT_EQ(with_prefix(netns_list(), lab.prefix()).size(), 12u);
    auto pids = lab.status_json();
    ASSERT_TRUE(lab.down().ok());
    EXPECT_TRUE(with_prefix(netns_list(), lab.prefix()).empty());
    EXPECT_FALSE(std::filesystem::exists("/run/uplink-lab/" + lab.prefix()));
    // Every process the lab started is gone.
    auto st = nlohmann::json::parse(pids.out, nullptr, false);
    ASSERT_FALSE(st.is_discarded());
    ASSERT_FALSE(st["processes"].empty());
    for (const auto& [name, p] : st["processes"].items()) {
      EXPECT_TRUE(process_gone(p["pid"].get<int>())) << name;
    }
  }
  // Namespaces of other users of this machine may come and go meanwhile: only
  // ours are compared strictly (none left); the root namespace must be untouched.
  EXPECT_TRUE(with_prefix(netns_list(), prefix).empty());
  EXPECT_EQ(root_links(), links_before);
  EXPECT_EQ(wireguard_dir(), wg_before);
}

TEST(LabLifecycle, TwoPrefixesSideBySide) {
  Lab a, b;
  ASSERT_TRUE(a.up().ok());
  ASSERT_TRUE(b.up().ok());
  ASSERT_TRUE(a.pin_line("eth2").ok());
  ASSERT_TRUE(b.pin_line("eth2").ok());
  // Same addresses in both labs, separate worlds: a fault in one leaves the other alone.
  auto fa = run_command({bin_dir() + "/uplink-lab", "--prefix", a.prefix(), "fault", "eth2", "blackhole"});
  ASSERT_TRUE(fa.ok()) << fa.err;
  EXPECT_EQ(received(probe(a, "eth2", 10, 1000, 300)), 0);
  EXPECT_EQ(received(probe(b, "eth2", 10, 1000)), 10);
  ASSERT_TRUE(a.down().ok());
  EXPECT_EQ(received(probe(b, "eth2", 10, 1000)), 10);
  ASSERT_TRUE(b.down().ok());
}

// README.md's lab example, as written: a plain-routing lab reaches core from
// the LAN without uplinkd; options go after the verb too; a carrier-down moves
// the plain routes to the next line, an upstream-down does not (uplinkd's job).
TEST(LabLifecycle, PlainRoutingAndOptionsAfterTheVerb) {
  Lab lab;
  ASSERT_TRUE(lab.up({"--plain-routing"}).ok());
  const std::string script = bin_dir() + "/uplink-lab";
  auto ping = [&] {
    return run_command({script, "exec", "lan", "--prefix", lab.prefix(), "--", "ping", "-c", "3", "-i", "0.2", "-W",
                        "1", "-q", "203.0.113.1"},
                       std::chrono::seconds(15));
  };
  auto p = ping();
  EXPECT_TRUE(p.ok()) << "uplink-lab exec lan -- ping 203.0.113.1 on a --plain-routing lab: " << p.out << p.err;
  auto st = run_command({script, "status", "--json", "--prefix", lab.prefix()});
  auto j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << st.out << st.err;
  EXPECT_EQ(j["plain_routing"], true);

  // Options after the verb and its words; --prefix=P too.
  auto f = run_command({script, "fault", "eth1", "carrier-down", "--prefix", lab.prefix()});
  ASSERT_TRUE(f.ok()) << f.err;
  p = ping();
  EXPECT_TRUE(p.ok()) << "the kernel skips eth1's route without carrier: " << p.out << p.err;
  f = run_command({script, "fault", "eth1", "clear", "--prefix=" + lab.prefix()});
  ASSERT_TRUE(f.ok()) << f.err;
  f = run_command({script, "fault", "eth1", "upstream-down", "--prefix", lab.prefix()});
  ASSERT_TRUE(f.ok()) << f.err;
  EXPECT_FALSE(ping().ok()) << "plain routing does not notice an upstream-down";

  // Options a verb does not take, and unknown ones, are refused.
  EXPECT_EQ(run_command({script, "fault", "eth1", "clear", "--json", "--prefix", lab.prefix()}).exit_code, 1);
  EXPECT_EQ(run_command({script, "status", "--prefix", lab.prefix(), "--bogus"}).exit_code, 1);
  ASSERT_TRUE(lab.down().ok());

  // A bare lab leaves routing to uplinkd: the same ping gets nowhere.
  Lab bare;
  ASSERT_TRUE(bare.up().ok());
  auto q = run_command({script, "--prefix", bare.prefix(), "exec", "lan", "--", "ping", "-c", "1", "-W", "1", "-q",
                        "203.0.113.1"},
                       std::chrono::seconds(10));
  EXPECT_FALSE(q.ok()) << "a bare lab has no default route in router";
  ASSERT_TRUE(bare.down().ok());
}

class LabFaults : public LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    for (const auto& l : lines()) ASSERT_TRUE(pin_line(l.name));
  }
  int answers(const std::string& line, int count = 10, const std::string& target = "203.0.113.1", bool v6 = false) {
    return received(probe(lab(), line, count, 2000, 300, target, v6));
  }
  std::string operstate(const std::string& line) {
    return exec("router", {"cat", "/sys/class/net/" + line + "/operstate"}).out;
  }
};

TEST_F(LabFaults, EveryLineReachesCoreOverIPv4AndIPv6) {
  for (const auto& l : lines()) {
    EXPECT_EQ(answers(l.name), 10) << l.name;
    EXPECT_EQ(answers(l.name, 5, "2001:db8:ffff::1", true), 5) << l.name;
  }
}

TEST_F(LabFaults, PrivateNetOnlyThroughCell1) {
  EXPECT_EQ(answers("wwan0", 5, "10.200.0.1"), 5);
  EXPECT_EQ(answers("eth1", 5, "10.200.0.1"), 0);
  EXPECT_EQ(answers("wwan1", 5, "10.200.0.1"), 0);
}

TEST_F(LabFaults, CoreSeesTheLineAndLanIsNatted) {
  // LAN traffic out of eth2 arrives at core from the router's eth2 address.
  exec("router", {"ip", "rule", "add", "from", "192.168.50.0/24", "table", "902", "pref", "80"});
  Child sink = lab().spawn("core", {bin_dir() + "/udp-sink", "--port", "5002"}, (temp_dir() / "sink.json").string());
  std::this_thread::sleep_for(200ms);
  auto r = exec("lan", {bin_dir() + "/udp-blast", "--target", "203.0.113.2", "--port", "5002", "--rate-kbit", "800",
                        "--size", "100", "--duration-ms", "100"});
  EXPECT_TRUE(r.ok()) << r.err;
  std::this_thread::sleep_for(100ms);
  sink.stop();
  exec("router", {"ip", "rule", "del", "pref", "80"});
  auto j = nlohmann::json::parse(sink.log(), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << sink.log();
  ASSERT_TRUE(j["sources"].contains("198.18.2.2")) << sink.log();
  EXPECT_FALSE(j["sources"].contains("192.168.50.10"));
  EXPECT_GT(j["sources"]["198.18.2.2"]["packets"].get<int>(), 50);
}

TEST_F(LabFaults, CarrierDownIsSeenByTheRouterOnThatLineOnly) {
  ASSERT_TRUE(fault("wwan0", {"carrier-down"}));
  EXPECT_EQ(operstate("wwan0"), "down\n");
  EXPECT_NE(exec("router", {"ip", "link", "show", "wwan0"}).out.find("NO-CARRIER"), std::string::npos);
  EXPECT_EQ(answers("wwan0"), 0);
  EXPECT_EQ(operstate("wwan1"), "up\n");
  EXPECT_EQ(answers("wwan1"), 10);
  ASSERT_TRUE(fault("wwan0", {"carrier-up"}));
  EXPECT_EQ(operstate("wwan0"), "up\n");
  // The gateway's ARP entry went INCOMPLETE while the carrier was down; the
  // kernel retries it once a second, as on a real port.
  EXPECT_TRUE(eventually([&] { return answers("wwan0", 5) == 5; }, 4s, "wwan0 to carry traffic after carrier-up"));
}

TEST_F(LabFaults, UpstreamDownKeepsCarrierAndGatewayButNotCore) {
  ASSERT_TRUE(fault("eth2", {"upstream-down"}));
  EXPECT_EQ(operstate("eth2"), "up\n");
  auto gw = exec("router", {"ping", "-c", "2", "-i", "0.1", "-W", "1", "198.18.2.1"});
  EXPECT_TRUE(gw.ok()) << "the ISP's gateway should still answer: " << gw.out;
  EXPECT_EQ(answers("eth2"), 0);
  EXPECT_EQ(answers("eth2", 5, "2001:db8:ffff::1", true), 0);
  EXPECT_EQ(answers("eth1"), 10);
  ASSERT_TRUE(fault("eth2", {"upstream-up"}));
  EXPECT_EQ(answers("eth2"), 10);
}

TEST_F(LabFaults, ImpairmentsStayOnTheirLine) {
  ASSERT_TRUE(fault("wwan1", {"delay", "30"}));
  ASSERT_TRUE(fault("eth1", {"loss", "100"}));
  ASSERT_TRUE(fault("eth2", {"rate", "64"}));
  auto j = probe(lab(), "wwan1", 20, 2000, 300);
  EXPECT_EQ(received(j), 20);
  EXPECT_GE(j["rtt_ms"]["min"].get<double>(), 30.0);
  EXPECT_LT(j["rtt_ms"]["p50"].get<double>(), 33.0);  // slack for a loaded CI box
  EXPECT_EQ(answers("eth1"), 0);
  auto w0 = probe(lab(), "wwan0", 20, 2000, 300);
  EXPECT_EQ(received(w0), 20);
  EXPECT_LT(w0["rtt_ms"]["p50"].get<double>(), 15.0);  // clearly not wwan1's 30 ms, even under load
  // status reports each line's fault.
  auto st = nlohmann::json::parse(lab().status_json().out, nullptr, false);
  ASSERT_FALSE(st.is_discarded());
  EXPECT_DOUBLE_EQ(st["lines"]["wwan1"]["emu"]["a2b"]["delay_ms"].get<double>(), 30.0);
  EXPECT_DOUBLE_EQ(st["lines"]["eth1"]["emu"]["a2b"]["loss_pct"].get<double>(), 100.0);
  EXPECT_EQ(st["lines"]["eth2"]["emu"]["b2a"]["rate_kbit"].get<int>(), 64);
  EXPECT_DOUBLE_EQ(st["lines"]["wwan0"]["emu"]["a2b"]["delay_ms"].get<double>(), 0.0);
  ASSERT_TRUE(fault("eth1", {"clear"}));
  EXPECT_EQ(answers("eth1"), 10);
}

TEST_F(LabFaults, BadFaultsAreRejected) {
  for (std::vector<std::string> bad : {std::vector<std::string>{"explode"}, {"loss"}, {"loss", "ten"},
                                       {"delay", "10", "wobble", "3"}, {"rate"}}) {
    EXPECT_FALSE(lab().fault("eth1", bad).ok()) << bad[0];
  }
  EXPECT_FALSE(lab().fault("eth7", {"clear"}).ok());
}

}  // namespace
}  // namespace uplink::lab
