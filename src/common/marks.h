#pragma once
// How uplinkd uses the bits of daemon.fwmark_mask (default 0xff00):
//   sticky bit   = the highest bit of the mask (0x8000): set in the ct mark of
//                  flows matched by a `sticky` rule, so a flush for "link left
//                  the policy" can spare them;
//   link bits    = the rest of the mask (0x7f00): the link's fwmark, or one of
//                  two reserved values for a policy's last resort:
//   unreachable  = all link bits set (0x7f00), blackhole = that minus the lowest bit (0x7e00).
// Bits outside the mask are never touched, so other users' marks survive.
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "common/result.h"

namespace uplink {

struct MarkLayout {
  uint32_t mask = 0;
  uint32_t sticky_bit = 0;
  uint32_t link_mask = 0;
  uint32_t unreachable = 0;
  uint32_t blackhole = 0;

  static Result<MarkLayout> from_mask(uint32_t fwmark_mask) {
    if (__builtin_popcount(fwmark_mask) < 3)
      return make_error("daemon.fwmark_mask " + hex(fwmark_mask) + " needs at least 3 bits (sticky bit + link marks)");
    MarkLayout m;
    m.mask = fwmark_mask;
    m.sticky_bit = 1u << (31 - __builtin_clz(fwmark_mask));
    m.link_mask = fwmark_mask & ~m.sticky_bit;
    m.unreachable = m.link_mask;
    m.blackhole = m.link_mask & ~(m.link_mask & -m.link_mask);
    return m;
  }
  // Why a link's fwmark cannot be used, if it cannot.
  std::optional<std::string> check_link_mark(uint32_t mark) const {
    if (mark == 0) return "is 0";
    if (mark & ~link_mask) return "has bits outside the link bits " + hex(link_mask) + " of daemon.fwmark_mask";
    if (mark == unreachable || mark == blackhole) return "is reserved for last_resort (" + hex(unreachable) + ", " + hex(blackhole) + ")";
    return std::nullopt;
  }
  static std::string hex(uint32_t v) {
    char buf[16];
    snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
  }
};

}  // namespace uplink
