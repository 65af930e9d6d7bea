#pragma once
// Faults applied from the benchmark process itself, for timing: `uplink-lab
// fault` starts python and then nft/linkemu (~60-100 ms), so a fault's instant
// is only known to within that. These act in about a millisecond:
//   upstream_down: the same nft rules as `uplink-lab fault LINE upstream-down`,
//                  committed through libnftables from a thread inside the ISP's
//                  namespace (one transaction);
//   emu:           one request on the line's linkemu control socket.
// They do not update uplink-lab's state file; `Lab::fault(line, {"clear"})`
// clears both kinds.
#include <string>

#include "common/result.h"
#include "harness/lab.h"

namespace uplink::lab {

Result<void> quick_upstream_down(const Lab& lab, const std::string& line);
// `request`: a linkemu control line, e.g. "set dir=a2b loss=30 burst=0".
Result<void> quick_emu(const Lab& lab, const std::string& line, const std::string& request);

}  // namespace uplink::lab
