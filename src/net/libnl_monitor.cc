#include "net/libnl_monitor.h"

#include <net/if.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cstring>

#include "common/log.h"

namespace uplink {

LibnlMonitor::~LibnlMonitor() { stop(); }

Result<void> LibnlMonitor::start(Handler handler) {
  stop();
  handler_ = std::move(handler);
  sock_ = nl_socket_alloc();
  if (!sock_) return make_error("netlink monitor: cannot allocate a socket");
  nl_socket_disable_seq_check(sock_);
  nl_socket_modify_cb(sock_, NL_CB_VALID, NL_CB_CUSTOM, &LibnlMonitor::on_message, this);
  int err = nl_connect(sock_, NETLINK_ROUTE);
  if (err >= 0)
    err = nl_socket_add_memberships(sock_, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                    RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE, 0);
  if (err >= 0) err = nl_socket_set_nonblocking(sock_);
  if (err >= 0) nl_socket_set_buffer_size(sock_, 1 << 20, 0);
  if (err < 0) {
    std::string msg = nl_geterror(err);
    stop();
    return make_error("netlink monitor: cannot subscribe to rtnetlink groups: " + msg + "; kernel changes will be noticed only by the periodic check");
  }
  watch_.start(nl_socket_get_fd(sock_), [this] { drain(); });
  return {};
}

void LibnlMonitor::stop() {
  watch_.stop();
  if (sock_) {
    nl_socket_free(sock_);
    sock_ = nullptr;
  }
}

void LibnlMonitor::drain() {
  for (int i = 0; i < 1000 && sock_; ++i) {
    int err = nl_recvmsgs_default(sock_);
    if (err >= 0) continue;
    if (err == -NLE_AGAIN) return;
    {
      // Typically ENOBUFS (shown as NLE_NOMEM): events were lost; ask for a full re-read.
      get_logger("net")->warn("netlink monitor: {} (events lost); re-reading kernel state", nl_geterror(err));
      NetlinkEvent e;
      e.kind = NetlinkEvent::Kind::route;
      if (handler_) handler_(e);
      e.kind = NetlinkEvent::Kind::link;
      if (handler_) handler_(e);
      return;
    }
  }
}

int LibnlMonitor::on_message(nl_msg* msg, void* arg) {
  auto* self = static_cast<LibnlMonitor*>(arg);
  nlmsghdr* nlh = nlmsg_hdr(msg);
  NetlinkEvent e;
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(nlh));
      nlattr* tb[IFLA_MAX + 1];
      if (nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, nullptr) < 0) return NL_SKIP;
      e.link.ifindex = ifi->ifi_index;
      e.link.up = ifi->ifi_flags & IFF_UP;
      e.link.carrier = ifi->ifi_flags & (1u << 16);  // IFF_LOWER_UP (linux/if.h clashes with net/if.h)
      e.link.point_to_point = ifi->ifi_flags & (IFF_POINTOPOINT | IFF_NOARP);
      if (tb[IFLA_IFNAME]) e.link.name = nla_get_string(tb[IFLA_IFNAME]);
      e.ifname = e.link.name;
      if (nlh->nlmsg_type == RTM_DELLINK) {
        e.kind = NetlinkEvent::Kind::link_gone;
        self->names_.erase(ifi->ifi_index);
      } else {
        e.kind = NetlinkEvent::Kind::link;
        self->names_[ifi->ifi_index] = e.link.name;
      }
      break;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      auto* ifa = static_cast<ifaddrmsg*>(nlmsg_data(nlh));
      nlattr* tb[IFA_MAX + 1];
      if (nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, nullptr) < 0) return NL_SKIP;
      nlattr* a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
      if (!a || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)) return NL_OK;
      e.kind = nlh->nlmsg_type == RTM_NEWADDR ? NetlinkEvent::Kind::address_added : NetlinkEvent::Kind::address_removed;
      e.address.ifindex = ifa->ifa_index;
      e.address.prefix.addr.family = ifa->ifa_family;
      memcpy(e.address.prefix.addr.bytes.data(), nla_data(a), std::min<size_t>(nla_len(a), 16));
      e.address.prefix.length = ifa->ifa_prefixlen;
      char name[IF_NAMESIZE] = {};
      if (if_indextoname(ifa->ifa_index, name)) e.ifname = name;
      else if (auto it = self->names_.find(ifa->ifa_index); it != self->names_.end()) e.ifname = it->second;
      break;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: e.kind = NetlinkEvent::Kind::route; break;
    case RTM_NEWRULE:
    case RTM_DELRULE: e.kind = NetlinkEvent::Kind::rule; break;
    default: return NL_OK;
  }
  if (self->handler_) self->handler_(e);
  return NL_OK;
}

}  // namespace uplink
