#include <gtest/gtest.h>

#include "probe/icmp_codec.h"
#include "probe/prober_tcp.h"
#include "probe/prober_udp.h"

namespace uplink::probe {
namespace {

// Turns a request into the reply a host would send (IPv4: with an IP header).
std::vector<uint8_t> as_reply_v4(std::vector<uint8_t> icmp) {
  icmp[0] = 0;
  icmp[2] = icmp[3] = 0;
  uint16_t c = inet_checksum(icmp.data(), icmp.size());
  icmp[2] = static_cast<uint8_t>(c >> 8);
  icmp[3] = static_cast<uint8_t>(c);
  std::vector<uint8_t> pkt(20, 0);
  pkt[0] = 0x45;
  pkt.insert(pkt.end(), icmp.begin(), icmp.end());
  return pkt;
}

TEST(IcmpCodec, ReplyCarriesIdSeqAndNonce) {
  EchoKey k{0x1234, 7, 0xdeadbeefcafef00dULL};
  auto req = build_echo_request(false, k, 99);
  ASSERT_EQ(req.size(), kEchoPacket);
  EXPECT_EQ(inet_checksum(req.data(), req.size()), 0);
  auto reply = as_reply_v4(req);
  auto got = parse_echo_reply(false, reply.data(), reply.size());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, k);
}

TEST(IcmpCodec, RejectsRequestsCorruptionAndShortPackets) {
  auto req = build_echo_request(false, EchoKey{1, 2, 3}, 0);
  std::vector<uint8_t> as_ip(20, 0);
  as_ip[0] = 0x45;
  as_ip.insert(as_ip.end(), req.begin(), req.end());
  EXPECT_FALSE(parse_echo_reply(false, as_ip.data(), as_ip.size()));  // our own request, looped back
  auto reply = as_reply_v4(req);
  reply.back() ^= 1;                                                  // corrupted payload
  EXPECT_FALSE(parse_echo_reply(false, reply.data(), reply.size()));
  EXPECT_FALSE(parse_echo_reply(false, reply.data(), 30));
  // ICMPv6: no IP header, type 129; the kernel checks the checksum.
  auto req6 = build_echo_request(true, EchoKey{9, 10, 11}, 0);
  EXPECT_EQ(req6[0], 128);
  req6[0] = 129;
  auto got6 = parse_echo_reply(true, req6.data(), req6.size());
  ASSERT_TRUE(got6);
  EXPECT_EQ(got6->nonce, 11u);
}

TEST(DnsCodec, QueryForRootAndNames) {
  auto root = build_dns_query(0xabcd, ".");
  EXPECT_EQ(root.size(), 12u + 1 + 4);
  EXPECT_EQ(root[0], 0xab);
  auto q = build_dns_query(1, "example.org");
  std::vector<uint8_t> name(q.begin() + 12, q.end() - 4);
  EXPECT_EQ(name, (std::vector<uint8_t>{7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0}));
  auto resp = root;
  resp[2] |= 0x80;
  EXPECT_TRUE(is_dns_response(resp.data(), resp.size(), 0xabcd));
  EXPECT_FALSE(is_dns_response(resp.data(), resp.size(), 0xabce));
  EXPECT_FALSE(is_dns_response(root.data(), root.size(), 0xabcd));  // a query, not a response
}

TEST(HttpStatus, ParsesStatusLineOnly) {
  EXPECT_EQ(parse_http_status("HTTP/1.1 204 No Content\r\n"), 204);
  EXPECT_EQ(parse_http_status("HTTP/1.0 503 Busy\r\nX: y\r\n"), 503);
  EXPECT_FALSE(parse_http_status("HTTP/1.1 200 OK"));  // incomplete
  EXPECT_FALSE(parse_http_status("SSH-2.0-OpenSSH\r\n"));
}

}  // namespace
}  // namespace uplink::probe
