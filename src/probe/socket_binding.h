#pragma once
// Pins a probe socket to its link: the device (SO_BINDTODEVICE) and the
// link's firewall mark (SO_MARK, routed through the link's own table by
// src/net), so a link is measured even while policy sends traffic elsewhere.
#include <cstdint>
#include <string>

#include "common/result.h"

namespace uplink::probe {

struct LinkBinding {
  std::string interface;  // empty: not bound to a device (tests only)
  uint32_t fwmark = 0;    // 0: no mark
};

// Applies the binding to an open socket. The error names the socket option,
// the link's interface/mark and the errno text.
Result<void> bind_to_link(int fd, const LinkBinding& b);

// "sendto 203.0.113.1: Network is unreachable"
std::string errno_text(const std::string& what, int err);

}  // namespace uplink::probe
