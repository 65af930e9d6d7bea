// Real probers against responders in a private pair of network namespaces:
//   ns "<p>a" (this process, probes)  veth <p>a0 10.77.0.1 fd77::1
//   ns "<p>b" (targets on lo)         veth <p>b0 10.77.0.2 fd77::2
//     203.0.113.1, 2001:db8::1: answer everything; 203.0.113.9: nft drop (blackhole)
// ns a has NO route to the targets in its main table: only the link's mark
// (0x100 -> table 100) routes them, so a passing probe proves SO_MARK works.
// Needs root; every namespace is removed in TearDown, also on failure.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>
#include <gtest/gtest.h>

#include "probe/prober_icmp.h"
#include "probe/prober_tcp.h"
#include "probe/prober_udp.h"

namespace uplink::probe {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A run killed before its teardown leaves "upr<PID>a/b" behind: remove those
// whose process is gone (never a live run's: the name carries the full PID).
void remove_stale_namespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.rfind("upr", 0) != 0 || (name.back() != 'a' && name.back() != 'b')) continue;
    std::string digits = name.substr(3, name.size() - 4);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (kill(pid, 0) != 0 && errno == ESRCH) sh("ip netns del " + name);
  }
}

ProbeTarget target(const std::string& ip, uint16_t port = 0) { return ProbeTarget{*IpAddress::parse(ip), port, ip}; }

class ProberNetns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
    remove_stale_namespaces();
    prefix_ = "upr" + std::to_string(getpid());  // "upr4194304a0" still fits IFNAMSIZ
    a_ = prefix_ + "a";
    b_ = prefix_ + "b";
    root_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    std::string A = "ip -n " + a_ + " ", B = "ip -n " + b_ + " ";
    const char* fail = nullptr;
    for (const std::string& c : {
             "ip netns add " + a_, "ip netns add " + b_,
             "ip link add " + a_ + "0 netns " + a_ + " type veth peer name " + b_ + "0 netns " + b_,
             A + "link set lo up", B + "link set lo up", A + "link set " + a_ + "0 up", B + "link set " + b_ + "0 up",
             A + "addr add 10.77.0.1/30 dev " + a_ + "0", B + "addr add 10.77.0.2/30 dev " + b_ + "0",
             A + "addr add fd77::1/64 dev " + a_ + "0 nodad", B + "addr add fd77::2/64 dev " + b_ + "0 nodad",
             B + "addr add 203.0.113.1/32 dev lo", B + "addr add 203.0.113.9/32 dev lo",
             B + "addr add 2001:db8::1/128 dev lo", B + "addr add 2001:db8::9/128 dev lo",
             B + "route add 198.51.100.0/24 via 10.77.0.1",  // nothing; keeps b's table explicit
             A + "route add default via 10.77.0.2 table 100", A + "-6 route add default via fd77::2 table 100",
             A + "rule add fwmark 0x100 lookup 100 priority 100", A + "-6 rule add fwmark 0x100 lookup 100 priority 100",
             "ip netns exec " + b_ + " nft add table inet probe_test",
             "ip netns exec " + b_ + " nft 'add chain inet probe_test in { type filter hook input priority 0; }'",
             "ip netns exec " + b_ + " nft add rule inet probe_test in ip daddr 203.0.113.9 drop",
             "ip netns exec " + b_ + " nft add rule inet probe_test in ip6 daddr 2001:db8::9 drop"}) {
      if (sh(c) != 0) {
        fail = "setup command failed";
        std::fprintf(stderr, "setup failed: %s\n", c.c_str());
        break;
      }
    }
    if (fail) {
      TearDownTestSuite();
      GTEST_SKIP() << fail;
    }
  }
  static void TearDownTestSuite() {
    if (root_fd_ >= 0) setns(root_fd_, CLONE_NEWNET);
    sh("ip netns del " + a_);
    sh("ip netns del " + b_);
    if (root_fd_ >= 0) close(root_fd_);
    root_fd_ = -1;
  }

  void SetUp() override {
    // Responders' sockets are created inside b, then this thread moves to a:
    // sockets stay in the namespace they were created in.
    enter(b_);
    start_responders();
    enter(a_);
  }
  void TearDown() override { setns(root_fd_, CLONE_NEWNET); }

  static void enter(const std::string& ns) {
    int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << ns;
    ASSERT_EQ(setns(fd, CLONE_NEWNET), 0) << ns;
    close(fd);
  }

  void start_responders() {
    for (bool v6 : {false, true}) {
      // Bound to the target address, so replies leave from it (a wildcard
      // socket would answer from 10.77.0.2 and a connected prober ignores that).
      auto any = asio::ip::make_address(v6 ? "2001:db8::1" : "203.0.113.1");
      for (uint16_t port : {7, 53}) {
        auto& s = udp_.emplace_back(std::make_unique<asio::ip::udp::socket>(io_));
        s->open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4());
        if (v6) s->set_option(asio::ip::v6_only(true));
        s->bind({any, port});
        serve_udp(*s, port == 53);
      }
      auto& acc = tcp_.emplace_back(std::make_unique<asio::ip::tcp::acceptor>(io_));
      acc->open(v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4());
      if (v6) acc->set_option(asio::ip::v6_only(true));
      acc->set_option(asio::socket_base::reuse_address(true));
      acc->bind({any, 80});
      acc->listen();
      serve_http(*acc);
    }
  }
  void serve_udp(asio::ip::udp::socket& s, bool dns) {
    auto buf = std::make_shared<std::array<uint8_t, 1500>>();
    auto from = std::make_shared<asio::ip::udp::endpoint>();
    s.async_receive_from(asio::buffer(*buf), *from, [this, &s, dns, buf, from](boost::system::error_code ec, size_t n) {
      if (ec) return;
      if (dns && n >= 12) (*buf)[2] |= 0x80;  // the query, turned into a (empty) response
      s.send_to(asio::buffer(buf->data(), n), *from, 0, ec);
      serve_udp(s, dns);
    });
  }
  void serve_http(asio::ip::tcp::acceptor& acc) {
    acc.async_accept([this, &acc](boost::system::error_code ec, asio::ip::tcp::socket sock) {
      if (ec) return;
      auto s = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
      auto buf = std::make_shared<std::array<char, 1024>>();
      s->async_read_some(asio::buffer(*buf), [s, buf](boost::system::error_code e, size_t) {
        if (e) return;
        static const std::string resp = "HTTP/1.0 204 No Content\r\n\r\n";
        asio::async_write(*s, asio::buffer(resp), [s](boost::system::error_code, size_t) {});
      });
      serve_http(acc);
    });
  }

  ProbeResult run(Prober& p, const ProbeTarget& t, Duration timeout = 500ms) {
    std::optional<ProbeResult> got;
    p.probe(t, timeout, [&](ProbeResult r) { got = std::move(r); });
    EXPECT_FALSE(got) << "callback ran inside probe()";
    auto deadline = SteadyClock::now() + timeout + 2s;
    while (!got && SteadyClock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(100));
    return got.value_or(ProbeResult{ProbeOutcome::error, {}, "no callback within timeout + 2 s"});
  }
  LinkBinding link() const { return LinkBinding{a_ + "0", 0x100}; }

  static std::string prefix_, a_, b_;
  static int root_fd_;
  asio::io_context io_;
  std::vector<std::unique_ptr<asio::ip::udp::socket>> udp_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp_;
};
std::string ProberNetns::prefix_, ProberNetns::a_, ProberNetns::b_;
int ProberNetns::root_fd_ = -1;

void expect_reply(const ProbeResult& r, const char* what) {
  EXPECT_EQ(r.outcome, ProbeOutcome::reply) << what << ": " << r.error;
  EXPECT_LT(r.rtt, 100ms) << what;
}

TEST_F(ProberNetns, IcmpV4AndV6ThroughTheLinkMark) {
  IcmpProber p(io_, link());
  expect_reply(run(p, target("203.0.113.1")), "icmp v4");
  expect_reply(run(p, target("2001:db8::1")), "icmp v6");
  EXPECT_EQ(run(p, target("203.0.113.9"), 200ms).outcome, ProbeOutcome::timeout);
  EXPECT_EQ(run(p, target("2001:db8::9"), 200ms).outcome, ProbeOutcome::timeout);
  EXPECT_EQ(p.bytes_sent(), 2u * (20 + 24) + 2u * (40 + 24));
}

// A busy router: the daemon runs 300 ms after its probe went out, when both
// the reply (back in well under a millisecond) and the probe's 100 ms timer
// are due. The reply counts, with the kernel's receive time as its end: the
// daemon's own scheduling delay is neither loss nor latency.
TEST_F(ProberNetns, IcmpRttEndsAtTheKernelReceiveTime) {
  IcmpProber p(io_, link());
  for (const char* addr : {"203.0.113.1", "2001:db8::1"}) {
    std::optional<ProbeResult> got;
    p.probe(target(addr), 100ms, [&](ProbeResult r) { got = std::move(r); });
    std::this_thread::sleep_for(300ms);  // the io_context is not run: a daemon that waits for a CPU
    auto deadline = SteadyClock::now() + 2s;
    while (!got && SteadyClock::now() < deadline) io_.run_one_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(got) << addr;
    EXPECT_EQ(got->outcome, ProbeOutcome::reply) << addr << ": " << got->error;
    EXPECT_LT(got->rtt, 50ms) << addr;
  }
}

TEST_F(ProberNetns, TheMarkAloneRoutesTheProbe) {
  // (SO_BINDTODEVICE alone would also get there: with an output device and no
  // route, Linux assumes the target is on-link. So test the mark without it.)
  IcmpProber unmarked(io_, LinkBinding{"", 0});
  auto r = run(unmarked, target("203.0.113.1"));
  EXPECT_EQ(r.outcome, ProbeOutcome::error);
  EXPECT_NE(r.error.find("unreachable"), std::string::npos) << r.error;
  IcmpProber marked(io_, LinkBinding{"", 0x100});
  expect_reply(run(marked, target("203.0.113.1")), "marked");
  UdpProber udp_unmarked(io_, LinkBinding{"", 0}, UdpProber::Mode::echo);
  EXPECT_EQ(run(udp_unmarked, target("203.0.113.1")).outcome, ProbeOutcome::error);
}

TEST_F(ProberNetns, ManyConcurrentIcmpProbesAreEachMatchedToTheirOwnReply) {
  IcmpProber p(io_, link());
  int replies = 0, wrong = 0;
  for (int i = 0; i < 50; ++i) {
    auto t = target(i % 2 ? "203.0.113.1" : "203.0.113.9");
    bool expect_answer = i % 2;
    p.probe(t, 300ms, [&, expect_answer](ProbeResult r) {
      if ((r.outcome == ProbeOutcome::reply) != expect_answer) ++wrong;
      if (r.outcome == ProbeOutcome::reply) ++replies;
    });
  }
  auto deadline = SteadyClock::now() + 2s;
  while (SteadyClock::now() < deadline) io_.run_one_for(100ms);
  EXPECT_EQ(replies, 25);
  EXPECT_EQ(wrong, 0);
}

TEST_F(ProberNetns, UdpEchoDnsTcpHttp) {
  UdpProber echo(io_, link(), UdpProber::Mode::echo);
  expect_reply(run(echo, target("203.0.113.1")), "udp v4");
  expect_reply(run(echo, target("2001:db8::1")), "udp v6");
  EXPECT_EQ(run(echo, target("203.0.113.9"), 200ms).outcome, ProbeOutcome::timeout);

  UdpProber dns(io_, link(), UdpProber::Mode::dns, ".");
  expect_reply(run(dns, target("203.0.113.1")), "dns v4");
  expect_reply(run(dns, target("2001:db8::1")), "dns v6");

  TcpProber tcp(io_, link(), TcpProber::Mode::connect);
  expect_reply(run(tcp, target("203.0.113.1", 80)), "tcp open");
  expect_reply(run(tcp, target("203.0.113.1", 81)), "tcp refused (RST = path works)");
  expect_reply(run(tcp, target("2001:db8::1", 80)), "tcp v6");
  EXPECT_EQ(run(tcp, target("203.0.113.9", 80), 200ms).outcome, ProbeOutcome::timeout);

  TcpProber http(io_, link(), TcpProber::Mode::http, "/");
  expect_reply(run(http, target("203.0.113.1")), "http v4");
  expect_reply(run(http, target("2001:db8::1")), "http v6");
  auto refused = run(http, target("203.0.113.1", 81));
  EXPECT_EQ(refused.outcome, ProbeOutcome::error);  // no server: not a working http path
}

}  // namespace
}  // namespace uplink::probe
