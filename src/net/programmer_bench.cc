// programmer_bench (root): time from a policy decision to the kernel
// programmed (Programmer::apply with real libnl + libnftables), with 0 and
// 10,000 entries in conntrack, 20 trials each, p50/p95; and the cost of the
// per-link conntrack flush that follows (not on the failover path).
// Runs in a fresh anonymous network namespace: nothing outside is touched.
#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "common/log.h"
#include "common/percentile.h"
#include "net/conntrack.h"
#include "net/desired_state.h"
#include "net/facts.h"
#include "net/libnftables.h"
#include "net/libnl_netlink.h"
#include "net/programmer.h"
#include "net/testing/sample_config.h"

using namespace uplink;
using Clock = std::chrono::steady_clock;

namespace {

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void report(const char* what, const std::vector<double>& v) {
  printf("%-52s n=%zu  p50=%.3f ms  p95=%.3f ms  max=%.3f ms\n", what, v.size(), percentile(v, 0.5),
         percentile(v, 0.95), percentile(v, 1));
}

// 10.x.y.z:port -> 10.255.0.1:53 UDP entries with the given marks.
bool insert(nfct_handle* h, int count, uint32_t mark, uint32_t base) {
  for (int i = 0; i < count; ++i) {
    nf_conntrack* ct = nfct_new();
    uint32_t n = base + uint32_t(i);
    nfct_set_attr_u8(ct, ATTR_L3PROTO, AF_INET);
    nfct_set_attr_u32(ct, ATTR_IPV4_SRC, htonl(0x0a000000u | (n >> 8)));
    nfct_set_attr_u32(ct, ATTR_IPV4_DST, inet_addr("10.255.0.1"));
    nfct_set_attr_u8(ct, ATTR_L4PROTO, IPPROTO_UDP);
    nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(uint16_t(1024 + (n & 0xff))));
    nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(53));
    nfct_setobjopt(ct, NFCT_SOPT_SETUP_REPLY);
    nfct_set_attr_u32(ct, ATTR_TIMEOUT, 600);
    nfct_set_attr_u32(ct, ATTR_MARK, mark);
    bool ok = nfct_query(h, NFCT_Q_CREATE, ct) == 0;
    nfct_destroy(ct);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

int main() {
  set_log_level("warn");
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    fprintf(stderr, "programmer_bench: needs root (unshare(CLONE_NEWNET))\n");
    return 1;
  }
  if (system("ip link set lo up && ip link add wan1 type veth peer name wan1p && ip link add wan2 type veth peer name wan2p && "
             "ip link set wan1 up && ip link set wan2 up && ip link set wan1p up && ip link set wan2p up && "
             "ip addr add 198.18.1.2/24 dev wan1 && ip addr add 198.18.2.2/24 dev wan2") != 0) {
    fprintf(stderr, "programmer_bench: namespace setup failed\n");
    return 1;
  }
  Config config = testing::sample_config();
  config.links["wan1"].interface = "wan1";
  config.links["wan2"].interface = "wan2";
  config.links["wan2"].gateway = testing::address("198.18.2.1");
  auto nl = LibnlNetlink::open();
  auto nft = LibNftables::open();
  auto ct = NfConntrack::open();
  if (!nl || !nft || !ct) {
    fprintf(stderr, "programmer_bench: cannot open netlink/nftables/conntrack\n");
    return 1;
  }
  FakeTimeSource time;  // no retries needed: failures abort the bench
  Programmer prog(**nl, **nft, time);
  auto facts = gather_facts(**nl, {"wan1", "wan2", "wwan0"});
  Decisions primary{{"default", {{{"wan1", 3}, {"wan2", 1}}}}, {"cellular", {}}};
  Decisions backup{{"default", {{{"wan2", 1}}}}, {"cellular", {}}};
  auto a = build_kernel_state(config, primary, *facts);
  auto b = build_kernel_state(config, backup, *facts);
  if (!facts || !a || !b || !prog.apply(*a).ok()) {
    fprintf(stderr, "programmer_bench: initial programming failed\n");
    return 1;
  }
  nfct_handle* h = nfct_open(CONNTRACK, 0);
  for (int flows : {0, 10000}) {
    if (flows && !insert(h, flows, 0x100, 0)) {
      fprintf(stderr, "programmer_bench: inserting conntrack entries failed\n");
      return 1;
    }
    std::vector<double> v;
    for (int i = 0; i < 20; ++i) {
      const auto& next = i % 2 ? *a : *b;
      // Decision -> desired state -> kernel, as Routing does it.
      auto t0 = Clock::now();
      auto ks = build_kernel_state(config, i % 2 ? primary : backup, *facts);
      auto ok = prog.apply(*ks);
      auto t1 = Clock::now();
      if (!ok || !(ks->nft == next.nft)) {
        fprintf(stderr, "programmer_bench: apply failed\n");
        return 1;
      }
      v.push_back(ms(t1 - t0));
    }
    char label[96];
    snprintf(label, sizeof label, "decision -> kernel programmed, %5d flows", flows);
    report(label, v);
  }
  // Flush cost: 10,000 entries of the dead link among 10,000 of another.
  std::vector<double> f;
  for (int i = 0; i < 5; ++i) {
    uint32_t family = AF_INET;
    nfct_query(h, NFCT_Q_FLUSH, &family);  // this namespace's table only
    if (!insert(h, 10000, 0x100, 0) || !insert(h, 10000, 0x200, 100000)) return 1;
    auto t0 = Clock::now();
    auto n = (*ct)->flush_mark(0x100, 0x7f00);
    auto t1 = Clock::now();
    if (!n || *n != 10000) {
      fprintf(stderr, "programmer_bench: flush deleted %zu, expected 10000 (%s)\n", n ? *n : 0, n ? "" : n.error().message.c_str());
      return 1;
    }
    f.push_back(ms(t1 - t0));
  }
  report("conntrack flush of one link: 10,000 of 20,000 flows", f);
  nfct_close(h);
  (void)prog.remove_all();
  return 0;
}
