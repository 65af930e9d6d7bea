#include "probe/icmp_codec.h"

#include <cstring>

namespace uplink::probe {

namespace {

constexpr uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;
constexpr uint8_t kEchoRequest6 = 128, kEchoReply6 = 129;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

uint16_t inet_checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> build_echo_request(bool v6, const EchoKey& key, uint64_t send_ns) {
  std::vector<uint8_t> p(kEchoPacket, 0);
  p[0] = v6 ? kEchoRequest6 : kEchoRequest4;
  put16(&p[4], key.id);
  put16(&p[6], key.seq);
  put64(&p[8], key.nonce);
  put64(&p[16], send_ns);
  if (!v6) put16(&p[2], inet_checksum(p.data(), p.size()));
  return p;
}

std::optional<EchoKey> parse_echo_reply(bool v6, const uint8_t* data, size_t len) {
  if (!v6) {
    if (len < 20 || (data[0] >> 4) != 4) return std::nullopt;
    size_t ihl = static_cast<size_t>(data[0] & 0x0f) * 4;
    if (ihl < 20 || len < ihl) return std::nullopt;
    data += ihl;
    len -= ihl;
  }
  if (len < kEchoPacket) return std::nullopt;
  if (data[0] != (v6 ? kEchoReply6 : kEchoReply4) || data[1] != 0) return std::nullopt;
  if (!v6 && inet_checksum(data, len) != 0) return std::nullopt;
  return EchoKey{get16(data + 4), get16(data + 6), get64(data + 8)};
}

}  // namespace uplink::probe
