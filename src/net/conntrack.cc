#include "net/conntrack.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace uplink {

namespace {

// What identifies one entry for deletion: its family and the raw
// CTA_TUPLE_ORIG (+ CTA_ZONE) attributes exactly as the kernel sent them.
struct Victim {
  uint8_t family;
  std::vector<char> attrs;
  uint32_t timeout = 0;  // seconds left (CTA_TIMEOUT): every packet of the flow resets it
};

struct DumpState {
  uint32_t mark, mask;
  std::vector<Victim> victims;
};

int on_entry(const nlmsghdr* nlh, void* data) {
  auto* st = static_cast<DumpState*>(data);
  auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  const nlattr* tuple = nullptr;
  const nlattr* zone = nullptr;
  uint32_t mark = 0, timeout = 0;
  auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
       mnl_attr_ok(a, int(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a)) {
    switch (mnl_attr_get_type(a)) {
      case CTA_TUPLE_ORIG: tuple = a; break;
      case CTA_ZONE: zone = a; break;
      case CTA_MARK: mark = ntohl(mnl_attr_get_u32(a)); break;
      case CTA_TIMEOUT: timeout = ntohl(mnl_attr_get_u32(a)); break;
      default: break;
    }
  }
  // The kernel filtered already; check again so a kernel that ignores the
  // filter can never make us delete someone else's flows.
  if (!tuple || (mark & st->mask) != st->mark) return MNL_CB_OK;
  Victim v{nfg->nfgen_family, {}, timeout};
  for (const nlattr* x : {tuple, zone}) {
    if (!x) continue;
    auto* p = reinterpret_cast<const char*>(x);
    v.attrs.insert(v.attrs.end(), p, p + MNL_ALIGN(x->nla_len));
  }
  st->victims.push_back(std::move(v));
  return MNL_CB_OK;
}

nlmsghdr* put_ct_header(void* buf, uint16_t type, uint16_t flags, uint32_t seq, uint8_t family) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
  nlh->nlmsg_flags = NLM_F_REQUEST | flags;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  return nlh;
}

class Socket {
 public:
  Socket() : nl_(mnl_socket_open(NETLINK_NETFILTER)) {}
  ~Socket() {
    if (nl_) mnl_socket_close(nl_);
  }
  Result<void> init() {
    if (!nl_) return make_error(std::string("cannot open a netfilter socket: ") + strerror(errno));
    int one = 1;
    mnl_socket_setsockopt(nl_, NETLINK_CAP_ACK, &one, sizeof one);  // acks without the request echoed
    // Each ack or dump skb costs ~1 KiB of receive buffer: room for a batch
    // (SO_RCVBUFFORCE needs CAP_NET_ADMIN, which uplinkd has; best effort).
    int rcvbuf = 4 << 20;
    setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
      return make_error(std::string("cannot bind a netfilter socket: ") + strerror(errno));
    return {};
  }
  mnl_socket* get() { return nl_; }
  uint32_t portid() { return mnl_socket_get_portid(nl_); }

 private:
  mnl_socket* nl_;
};

// Dump filtered by mark in the kernel (CTA_MARK/CTA_MARK_MASK, built by
// libnetfilter_conntrack): entries of other links are not even copied to us.
Result<std::vector<Victim>> dump(Socket& s, uint32_t mark, uint32_t mask) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 16);
  uint32_t seq = 1;
  nlmsghdr* nlh = put_ct_header(buf.data(), IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq, AF_UNSPEC);
  nfct_filter_dump* filter = nfct_filter_dump_create();
  nfct_filter_dump_mark m{mark, mask};
  nfct_filter_dump_set_attr(filter, NFCT_FILTER_DUMP_MARK, &m);
  nfct_nlmsg_build_filter(nlh, filter);
  nfct_filter_dump_destroy(filter);
  if (mnl_socket_sendto(s.get(), nlh, nlh->nlmsg_len) < 0)
    return make_error(std::string("dump request failed: ") + strerror(errno));
  DumpState st{mark, mask, {}};
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(s.get(), buf.data(), buf.size());
    if (n < 0) return make_error(std::string("reading the dump failed: ") + strerror(errno));
    int rc = mnl_cb_run(buf.data(), size_t(n), seq, s.portid(), on_entry, &st);
    if (rc == MNL_CB_STOP) break;
    if (rc < 0) return make_error(std::string("dump failed: ") + strerror(errno));
  }
  return st.victims;
}

// Many deletes per sendmsg(), then that batch's acks: ~50 round trips for
// 10,000 entries. ENOENT (the flow ended meanwhile) is not an error.
Result<void> delete_all(Socket& s, const std::vector<Victim>& victims, size_t& deleted) {
  // libmnl: the buffer must be twice the batch limit (the overflowing message lands in the second half).
  constexpr size_t kBatchLimit = 16 * 1024;
  std::vector<char> buf(2 * kBatchLimit), ack(MNL_SOCKET_BUFFER_SIZE * 16);
  uint32_t seq = 100;
  size_t next = 0;
  while (next < victims.size()) {
    mnl_nlmsg_batch* batch = mnl_nlmsg_batch_start(buf.data(), kBatchLimit);
    size_t in_batch = 0;
    while (next < victims.size()) {
      const auto& v = victims[next];
      nlmsghdr* nlh = put_ct_header(mnl_nlmsg_batch_current(batch), IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq, v.family);
      memcpy(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh)), v.attrs.data(), v.attrs.size());
      nlh->nlmsg_len += uint32_t(v.attrs.size());
      if (!mnl_nlmsg_batch_next(batch)) break;  // full: this one goes first in the next batch
      ++next;
      ++in_batch;
    }
    ssize_t sent = mnl_socket_sendto(s.get(), mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch));
    mnl_nlmsg_batch_stop(batch);
    if (sent < 0) return make_error(std::string("sending deletes failed: ") + strerror(errno));
    for (size_t acked = 0; acked < in_batch;) {
      ssize_t n = mnl_socket_recvfrom(s.get(), ack.data(), ack.size());
      if (n < 0) return make_error(std::string("reading acks failed: ") + strerror(errno));
      int len = int(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(ack.data()); mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len)) {
        if (h->nlmsg_type != NLMSG_ERROR) continue;
        ++acked;
        int err = -static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(h))->error;
        if (err == 0) ++deleted;
        else if (err != ENOENT) return make_error(std::string("delete failed: ") + strerror(err));
      }
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<NfConntrack>> NfConntrack::open() {
  Socket s;
  if (auto ok = s.init(); !ok) return make_error("conntrack: " + ok.error().message);
  return std::unique_ptr<NfConntrack>(new NfConntrack());
}

Result<size_t> NfConntrack::flush_mark(uint32_t mark, uint32_t mask) {
  auto fail = [&](const std::string& what, size_t deleted) {
    char buf[64];
    snprintf(buf, sizeof buf, "0x%x/0x%x", mark, mask);
    return make_error("conntrack flush of mark " + std::string(buf) + ": " + what + " (" + std::to_string(deleted) +
                      " entries deleted; flows left will move when they time out)");
  };
  Socket s;
  if (auto ok = s.init(); !ok) return fail(ok.error().message, 0);
  auto victims = dump(s, mark & mask, mask);
  if (!victims) return fail(victims.error().message, 0);
  // Most recently active first: a flow's timeout restarts with each packet, so
  // the flows still sending (the ones users notice) move in the first batch,
  // not after thousands of idle entries (README: failover with 10,000 flows).
  std::stable_sort(victims->begin(), victims->end(),
                   [](const Victim& a, const Victim& b) { return a.timeout > b.timeout; });
  size_t deleted = 0;
  if (auto ok = delete_all(s, *victims, deleted); !ok) return fail(ok.error().message, deleted);
  return deleted;
}

}  // namespace uplink
