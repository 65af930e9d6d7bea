#pragma once
// Desired kernel state (pure): Config + policy decisions + what the kernel
// told us about the interfaces -> every route, rule and nft object uplinkd owns.
//
// Layout (P = daemon.rule_priority_base, all rules for IPv4 and IPv6):
//   P+0        lookup main suppress_prefixlength 0
//              Marked traffic still reaches connected and specific routes
//              (LAN, replies after de-NAT); only default routes come from
//              the link tables.
//   P+1, P+2   fwmark <unreachable>/<link bits> unreachable, fwmark <blackhole>/<link bits> blackhole
//   P+100+i    fwmark <link i mark>/<link bits> lookup <link i table>
//   P+500+i    from <each address of link i> lookup <link i table>
//   P+900      lookup <local table>: router-originated traffic (see below)
// Table of link i: `default via <gateway> dev <if>` (gateway: IPv4 `gateway`,
// IPv6 `gateway6` (or an IPv6 `gateway`); else learned: a default route on
// that interface in any table we do not own), or `default dev <if>` when no
// gateway is known: IPv4 always (right for point-to-point links such as a
// cellular bearer; an Ethernet link relies on proxy ARP), IPv6 only on
// point-to-point/NOARP interfaces (else no IPv6 default, one warning). Only
// when a gateway or an address of the family is known; no routes while the
// interface is down (the kernel refuses them and flushes them itself).
//
// nftables (one table, `table inet uplinkd`): see nft_ruleset() below and
// README.md for the chain layout and why each chain exists.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "net/kernel_state.h"
#include "common/marks.h"
#include "uplink/decision.h"

namespace uplink {

// What the kernel told us about one interface.
struct InterfaceFacts {
  int ifindex = 0;                        // 0 = does not exist (no routes then)
  bool up = false;                        // IFF_UP: the kernel refuses routes via a down device
  bool point_to_point = false;            // IFF_POINTOPOINT/IFF_NOARP: a device-only default route reaches the peer
  std::vector<IpPrefix> addresses;        // address/prefix length, as configured on it
  std::optional<IpAddress> gateway4{}, gateway6{};  // learned from default routes we do not own
  bool operator==(const InterfaceFacts&) const = default;
};
using InterfaceFactsMap = std::map<std::string, InterfaceFacts>;  // by interface name

inline constexpr uint32_t kPrioritySuppress = 0, kPriorityUnreachable = 1, kPriorityBlackhole = 2,
                          kPriorityMarkBase = 100, kPriorityFromBase = 500, kPriorityLocal = 900,
                          kPrioritySpan = 1000;
inline constexpr uint32_t kMainTable = 254;

// Checks everything that would make the kernel programming fail or be wrong
// (mark collisions, priority range, unknown policies), with the object named.
Result<void> validate_for_kernel(const Config& config);

// Router-originated traffic (unmarked at its socket's route lookup):
//   P+900  lookup <local_table>     (after P+0, so main's default routes are hidden)
//   table local_table: the default route of the link(s) that the first rule
//   matching all router traffic (no selectors; catch-all or local) picks now:
//   `default via <gw> dev <if>`, a multipath default with the policy's
//   weights, `unreachable default` / `blackhole default` for those last
//   resorts, nothing for `main` (the main table decides). The nft output
//   chain then re-routes per rule by mark.
uint32_t local_table(const Config& config);  // daemon.table_base - 1 (validated)
const RuleConfig* local_default_rule(const Config& config);  // nullptr: none
std::optional<Route> local_default_route(const Config& config, const Decisions& decisions,
                                         const InterfaceFactsMap& facts, int family);

Result<KernelState> build_kernel_state(const Config& config, const Decisions& decisions,
                                       const InterfaceFactsMap& facts);

// Name of the nft chain of a policy / a link (identifiers sanitised to [A-Za-z0-9_]).
std::string policy_chain(const std::string& policy);
std::string link_chain(const std::string& link);
// Rule lines of one policy chain (exposed for tests).
std::vector<std::string> policy_chain_body(const PolicyConfig& policy, const PolicyDecision& decision);

// The private-traffic guard (ARCHITECTURE.md §3, `private = true`). A
// *public line* is the interface of every link that is not a tunnel; the
// *private network* is the union of the links' `private_routes`. Two filter
// chains (forward: what the router forwards; output: what it sends itself,
// after the output chain's re-route) drop, on a public line:
//   - any packet to the private network, unless that line's own
//     private_routes cover the destination (the private APN);
//   - the original direction of any flow a private policy's rule selects
//     (rules replayed in order, first match wins, as in prerouting/output),
//     with the same exception.
// They live in `table inet uplinkd`, so they change in the same transaction
// as the marks, survive a crash or kill -9, and a restart replaces them
// atomically. Lines of one chain, for tests; empty when there is nothing to guard.
std::vector<std::string> private_guard_body(const Config& config, bool output);

// Sticky rules with a duration ("sticky_timeout" of mwan3): a new flow from a
// source that a recent flow of the same rule pinned to link L goes to L
// again, while L is active in the rule's policy. Per sticky rule R, per
// member link L of its policy, per family F: a dynamic set of source
// addresses `sticky_R_L_vF` with the rule's duration as timeout (refreshed by
// every new flow of that source). The chain `sticky_R` (rewritten with the
// policy's decision) honours only the sets of active links, else chooses
// through the policy and pins the source to the link chosen.
inline constexpr int kStickySetSize = 65535;  // source addresses pinned per rule and link (nft's default)
std::string sticky_chain(const std::string& rule);
std::string sticky_set(const std::string& rule, const std::string& link, int family);
// Rule lines of a sticky rule's chain; `sets` receives the sets it honours.
std::vector<std::string> sticky_chain_body(const Config& config, const RuleConfig& rule,
                                           const PolicyDecision& decision, std::set<std::string>* sets = nullptr);
// Whether a rule pins sources (sticky with a positive duration).
inline bool pins_sources(const RuleConfig& rule) { return rule.sticky && *rule.sticky > Duration::zero(); }

}  // namespace uplink
