#pragma once
// What the kernel knows about the interfaces of our links: ifindex,
// addresses, and default gateways that someone else (DHCP, RA, the admin)
// installed, from which a link without a configured gateway learns its own.
#include <string>
#include <vector>

#include "net/desired_state.h"
#include "net/netlink.h"

namespace uplink {

// Facts for the named interfaces (absent interfaces get ifindex 0).
// Learned gateway: a default route via that interface that we do not own,
// from the main table if there is one, else from any other table.
Result<InterfaceFactsMap> gather_facts(Netlink& netlink, const std::vector<std::string>& interfaces);

}  // namespace uplink
