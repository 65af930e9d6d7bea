#pragma once
// MSG_CONFIRM for probes: ICMP/UDP replies do not confirm the next hop's
// neighbour entry, so every ~30 s (base_reachable_time) the kernel re-probes
// the gateway with unicast ARP/NS over the measured line. On a lossy line all
// of them get lost now and then, probes queue ~1 s behind the resolution and a
// round looks like a cut. While the link has answered recently, probes are
// sent with MSG_CONFIRM ("forward progress happened"), which keeps the entry
// REACHABLE. Once replies stop for `fresh`, confirming stops and the kernel's
// own neighbour probing takes over again (a replaced gateway is re-learnt).
#include <sys/socket.h>

#include <optional>

#include "common/clock.h"

namespace uplink::probe {

class NeighbourConfirm {
 public:
  // Half the kernel's minimum REACHABLE time (base_reachable_time 30 s,
  // randomised to 15-45 s): a reply this recent still proves the neighbour.
  static constexpr Duration kFresh = std::chrono::seconds(15);

  explicit NeighbourConfirm(Duration fresh = kFresh) : fresh_(fresh) {}
  // Any reply matched to one of this link's probes, in time or late.
  void on_reply(TimePoint now) { last_reply_ = now; }
  // Flags for the next probe's send.
  int send_flags(TimePoint now) const {
    return last_reply_ && now - *last_reply_ <= fresh_ ? MSG_CONFIRM : 0;
  }

 private:
  Duration fresh_;
  std::optional<TimePoint> last_reply_;
};

}  // namespace uplink::probe
