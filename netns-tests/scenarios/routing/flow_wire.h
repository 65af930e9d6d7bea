#pragma once
// The datagram flow-send writes and flow-recv reads: which flow, which packet
// of it, and when it left. Fixed little-endian layout (both ends run on this
// machine); the rest of a datagram is padding.
#include <cstdint>
#include <cstring>

namespace uplink::labtools {

inline constexpr uint32_t kFlowMagic = 0x4c465055;  // "UPFL"

struct FlowHeader {
  uint32_t magic = kFlowMagic;
  uint32_t flow_id = 0;
  uint64_t seq = 0;           // 0, 1, 2, ... per flow
  int64_t sent_realtime_ns = 0;
};
static_assert(sizeof(FlowHeader) == 24);

inline bool read_flow_header(const char* buf, size_t len, FlowHeader& out) {
  if (len < sizeof(FlowHeader)) return false;
  std::memcpy(&out, buf, sizeof(FlowHeader));
  return out.magic == kFlowMagic;
}

}  // namespace uplink::labtools
