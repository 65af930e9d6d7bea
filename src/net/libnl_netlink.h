#pragma once
// Netlink over libnl-route-3: routes, links and addresses through the rtnl_*
// objects; rules as raw RTM_*RULE messages because libnl 3.7 has no
// FRA_SUPPRESS_PREFIXLEN (and reading it back must be exact for the diff).
// Requests are synchronous on one NETLINK_ROUTE socket: the kernel answers
// in microseconds, so they run on the io_context thread.
#include <memory>

#include "net/netlink.h"

struct nl_sock;

namespace uplink {

class LibnlNetlink final : public Netlink {
 public:
  static Result<std::unique_ptr<LibnlNetlink>> open();
  ~LibnlNetlink() override;

  Result<std::vector<RouteEntry>> list_default_routes() override;
  Result<void> add_route(const Route& route) override;
  Result<void> delete_route(const Route& route) override;
  Result<std::vector<RuleEntry>> list_rules() override;
  Result<void> add_rule(const Rule& rule) override;
  Result<void> delete_rule(const Rule& rule) override;
  Result<std::vector<LinkInfo>> list_links() override;
  Result<std::vector<AddressInfo>> list_addresses() override;
  Result<void> add_address(int ifindex, const IpPrefix& prefix) override;
  Result<void> delete_address(int ifindex, const IpPrefix& prefix) override;
  Result<void> set_link_mtu(int ifindex, int mtu) override;
  Result<void> set_link_up(int ifindex, bool up) override;

 private:
  explicit LibnlNetlink(nl_sock* sock) : sock_(sock) {}
  Result<void> rule_request(int type, int flags, const Rule& rule);
  nl_sock* sock_;
};

}  // namespace uplink
