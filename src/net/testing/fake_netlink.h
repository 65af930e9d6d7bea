#pragma once
// In-memory Netlink for unit tests: a kernel with routes, rules, links and
// addresses, counters of writes, and one-shot failure injection.
#include <algorithm>
#include <map>

#include "net/netlink.h"

namespace uplink {

class FakeNetlink final : public Netlink {
 public:
  std::vector<RouteEntry> routes;
  std::vector<RuleEntry> rules;
  std::vector<LinkInfo> links;
  std::vector<AddressInfo> addresses;
  int writes = 0;
  int reads = 0;
  bool fail_next_write = false;

  Result<std::vector<RouteEntry>> list_default_routes() override {
    ++reads;
    return routes;
  }
  Result<void> add_route(const Route& r) override {
    if (auto e = write_error("add route " + r.to_string())) return *e;
    std::erase_if(routes, [&](const RouteEntry& x) { return x.route.key() == r.key(); });
    routes.push_back({r, kOwnedProtocol});
    return {};
  }
  Result<void> delete_route(const Route& r) override {
    if (auto e = write_error("delete route " + r.to_string())) return *e;
    auto n = std::erase_if(routes, [&](const RouteEntry& x) { return x.route == r; });
    if (n == 0) return make_error("delete route " + r.to_string() + ": No such process");
    return {};
  }
  Result<std::vector<RuleEntry>> list_rules() override {
    ++reads;
    return rules;
  }
  Result<void> add_rule(const Rule& r) override {
    if (auto e = write_error("add rule " + r.to_string())) return *e;
    rules.push_back({r, kOwnedProtocol});
    return {};
  }
  Result<void> delete_rule(const Rule& r) override {
    if (auto e = write_error("delete rule " + r.to_string())) return *e;
    auto it = std::find_if(rules.begin(), rules.end(), [&](const RuleEntry& x) { return x.rule == r; });
    if (it == rules.end()) return make_error("delete rule " + r.to_string() + ": No such file or directory");
    rules.erase(it);
    return {};
  }
  Result<std::vector<LinkInfo>> list_links() override { return links; }
  Result<std::vector<AddressInfo>> list_addresses() override { return addresses; }
  Result<void> add_address(int ifindex, const IpPrefix& prefix) override {
    if (auto e = write_error("add address " + prefix.to_string())) return *e;
    AddressInfo a{ifindex, prefix};
    if (std::find_if(addresses.begin(), addresses.end(), [&](const AddressInfo& x) {
          return x.ifindex == ifindex && x.prefix == prefix;
        }) == addresses.end())
      addresses.push_back(a);
    return {};
  }
  Result<void> delete_address(int ifindex, const IpPrefix& prefix) override {
    if (auto e = write_error("delete address " + prefix.to_string())) return *e;
    std::erase_if(addresses, [&](const AddressInfo& x) { return x.ifindex == ifindex && x.prefix == prefix; });
    return {};
  }
  Result<void> set_link_mtu(int ifindex, int mtu) override {
    if (auto e = write_error("set mtu " + std::to_string(ifindex))) return *e;
    mtus[ifindex] = mtu;
    return {};
  }
  std::map<int, int> mtus;
  Result<void> set_link_up(int ifindex, bool up) override {
    if (auto e = write_error("set link " + std::to_string(ifindex))) return *e;
    for (auto& l : links)
      if (l.ifindex == ifindex) {
        l.up = up;
        return {};
      }
    return make_error("set link " + std::to_string(ifindex) + ": No such device");
  }

  std::vector<Rule> owned_rules() const {
    std::vector<Rule> out;
    for (const auto& r : rules)
      if (r.protocol == kOwnedProtocol) out.push_back(r.rule);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<Route> owned_routes() const {
    std::vector<Route> out;
    for (const auto& r : routes)
      if (r.protocol == kOwnedProtocol) out.push_back(r.route);
    return out;
  }

 private:
  std::optional<Error> write_error(const std::string& what) {
    ++writes;
    if (!fail_next_write) return std::nullopt;
    fail_next_write = false;
    return make_error(what + ": injected failure");
  }
};

class FakeNetlinkMonitor final : public NetlinkMonitor {
 public:
  Handler handler;
  Result<void> start(Handler h) override {
    handler = std::move(h);
    return {};
  }
  void stop() override { handler = nullptr; }
  void emit(const NetlinkEvent& e) {
    if (handler) handler(e);
  }
};

}  // namespace uplink
