#pragma once
// Pins a probe socket to its link: the device (SO_BINDTODEVICE), the link's
// firewall mark (SO_MARK, routed through the link's own table by src/net),
// so a link is measured even while policy sends traffic elsewhere, and an
// explicit source address when `probe.source` names one.
#include <cstdint>
#include <optional>
#include <string>

#include "common/ip.h"
#include "common/result.h"

namespace uplink::probe {

struct LinkBinding {
  std::string interface;  // empty: not bound to a device (tests only)
  uint32_t fwmark = 0;    // 0: no mark
  // probe.source: the source address of probes of that family (bind(2) before
  // sending); nullopt = the kernel picks the link's address through its table.
  std::optional<IpAddress> source = std::nullopt;
};

// Applies the binding to an open socket. The error names the socket option,
// the link's interface/mark and the errno text.
Result<void> bind_to_link(int fd, const LinkBinding& b);

// "sendto 203.0.113.1: Network is unreachable"
std::string errno_text(const std::string& what, int err);

}  // namespace uplink::probe
