#include "net/nft_monitor.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "net/kernel_state.h"

namespace uplink {

namespace {

// Every nftables object message names its table in attribute 1:
// NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
// NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE.
static_assert(NFTA_TABLE_NAME == 1 && NFTA_CHAIN_TABLE == 1 && NFTA_RULE_TABLE == 1 && NFTA_SET_TABLE == 1 &&
              NFTA_SET_ELEM_LIST_TABLE == 1 && NFTA_OBJ_TABLE == 1 && NFTA_FLOWTABLE_TABLE == 1);
constexpr uint16_t kTableAttr = 1;

struct Scan {
  const std::string& table;
  uint8_t family;
  uint32_t own_pid;
  bool& touched;
  bool foreign = false;
};

// Calls f(attr) for each top-level attribute after the nfgenmsg header.
template <class F>
void for_each_attr(const nlmsghdr* nlh, F&& f) {
  auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
       mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
    f(a);
}

int on_message(const nlmsghdr* nlh, void* data) {
  auto& s = *static_cast<Scan*>(data);
  if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) return MNL_CB_OK;
  const uint16_t type = nlh->nlmsg_type & 0xff;
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  if (type == NFT_MSG_NEWGEN) {
    uint32_t pid = 0;
    bool named = false;
    for_each_attr(nlh, [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == NFTA_GEN_PROC_PID && mnl_attr_get_payload_len(a) >= 4) {
        pid = ntohl(mnl_attr_get_u32(a));
        named = true;
      }
    });
    if (s.touched && (!named || pid != s.own_pid)) s.foreign = true;
    s.touched = false;
    return MNL_CB_OK;
  }
  if (nfg->nfgen_family != s.family) return MNL_CB_OK;
  for_each_attr(nlh, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != kTableAttr) return;
    const char* name = static_cast<const char*>(mnl_attr_get_payload(a));
    size_t len = strnlen(name, mnl_attr_get_payload_len(a));
    if (std::string_view(name, len) == s.table) s.touched = true;
  });
  return MNL_CB_OK;
}

}  // namespace

bool NftEventFilter::foreign_change(const void* buf, size_t len) {
  Scan s{table_, family_, own_pid_, touched_};
  // Notifications carry no sequence or port of ours: match none (0, 0).
  mnl_cb_run(buf, len, 0, 0, on_message, &s);
  return s.foreign;
}

LibmnlNftMonitor::LibmnlNftMonitor(boost::asio::io_context& io)
    : watch_(io), filter_(kNftTable, NFPROTO_INET, static_cast<uint32_t>(::getpid())) {}

LibmnlNftMonitor::~LibmnlNftMonitor() { stop(); }

Result<void> LibmnlNftMonitor::start(Handler on_foreign_change) {
  stop();
  handler_ = std::move(on_foreign_change);
  sock_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
  auto fail = [&](const std::string& what) {
    std::string msg = what + ": " + std::strerror(errno);
    stop();
    return make_error("nftables monitor: " + msg + "; edits of table inet " + std::string(kNftTable) +
                      " by others are noticed only by the periodic check");
  };
  if (!sock_) return fail("cannot open a netfilter socket");
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) return fail("cannot bind it");
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(sock_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
    return fail("cannot join NFNLGRP_NFTABLES");
  int rcvbuf = 1 << 20;
  setsockopt(mnl_socket_get_fd(sock_), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  // best effort
  watch_.start(mnl_socket_get_fd(sock_), [this] { drain(); });
  return {};
}

void LibmnlNftMonitor::stop() {
  watch_.stop();
  if (sock_) {
    mnl_socket_close(sock_);
    sock_ = nullptr;
  }
}

void LibmnlNftMonitor::drain() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  bool foreign = false;
  for (int i = 0; i < 1000 && sock_; ++i) {
    ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      // ENOBUFS: events were lost, so possibly someone's change too.
      get_logger("net")->warn("nftables monitor: {} (events lost); checking table inet {}", std::strerror(errno),
                              kNftTable);
      foreign = true;
      break;
    }
    foreign = filter_.foreign_change(buf.data(), static_cast<size_t>(n)) || foreign;
  }
  // One report per wake-up, however many transactions it read.
  if (foreign && handler_) handler_();
}

}  // namespace uplink
