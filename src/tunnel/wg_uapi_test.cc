// The wireguard-go UAPI text: keys, endpoints, set requests, get replies, errno.
#include "tunnel/wg_uapi.h"

#include <gtest/gtest.h>

#include "tunnel/wg_backend.h"

namespace uplink {
namespace {

const std::string kPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const std::string kPrivHex = "c809f3e5317e9575c9b5ed78b638b7ce530dabe85ddab614220241801ddf0669";
const std::string kPub = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const std::string kPubHex = "c53201039adba14be71f886da1d8dbe9eebded08cb111b75340078999aa9f038";

std::string pub_hex() { return kPubHex; }

TEST(WgKeys, Base64ToHexAndBack) {
  auto k = decode_wg_key(kPriv);
  ASSERT_TRUE(k);
  EXPECT_EQ(wg_key_hex(*k), kPrivHex);
  EXPECT_EQ(wg_key_base64(*k), kPriv);
  auto p = decode_wg_key(kPub);
  ASSERT_TRUE(p);
  EXPECT_EQ(wg_key_hex(*p), pub_hex());
  auto back = wg_key_from_hex(kPrivHex);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *k);
  EXPECT_FALSE(wg_key_from_hex("zz"));
}

TEST(WgKeys, WrongLengthAlphabetAndPaddingAreRefused) {
  EXPECT_TRUE(check_wg_key("abc="));
  EXPECT_TRUE(check_wg_key(kPriv.substr(0, 43)));         // no pad
  EXPECT_TRUE(check_wg_key(kPriv.substr(0, 42) + "=="));  // 31 bytes
  std::string bad = kPriv;
  bad[5] = '-';  // base64url, not standard
  EXPECT_TRUE(check_wg_key(bad));
  EXPECT_FALSE(decode_wg_key(bad));
  EXPECT_FALSE(check_wg_key(kPriv));
  EXPECT_FALSE(check_wg_key(std::string(43, 'A').append("=")));
}

TEST(WgEndpoint, NumericOnly) {
  auto e = parse_wg_endpoint("203.0.113.10:51820");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 51820);
  EXPECT_EQ(e->to_string(), "203.0.113.10:51820");
  auto v6 = parse_wg_endpoint("[2001:db8::1]:443");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[2001:db8::1]:443");
  EXPECT_FALSE(parse_wg_endpoint("vpn.example.com:51820"));
  EXPECT_FALSE(parse_wg_endpoint("203.0.113.10"));
  EXPECT_FALSE(parse_wg_endpoint("203.0.113.10:0"));
  EXPECT_FALSE(parse_wg_endpoint("203.0.113.10:65536"));
  EXPECT_FALSE(parse_wg_endpoint("2001:db8::1:443"));
  EXPECT_FALSE(parse_wg_endpoint("[203.0.113.10]:1"));
  EXPECT_FALSE(parse_wg_endpoint("203.0.113.10:51820x"));
}

TEST(WgUapiFormat, SetCarriesDeviceKeysThenPeers) {
  WgDeviceSpec d;
  d.private_key = kPriv;
  d.listen_port = 51820;
  d.fwmark = 0x10000;
  WgPeerSpec p;
  p.public_key = kPub;
  p.endpoint = *parse_wg_endpoint("203.0.113.10:51820");
  p.allowed_ips = {*IpPrefix::parse("10.200.0.0/16"), *IpPrefix::parse("10.201.0.0/16")};
  p.persistent_keepalive_s = 25;
  d.peers = {p};
  auto r = format_wg_set(d);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "set=1\n"
                "private_key=" + kPrivHex + "\n"
                "listen_port=51820\n"
                "fwmark=65536\n"
                "replace_peers=true\n"
                "public_key=" + pub_hex() + "\n"
                "endpoint=203.0.113.10:51820\n"
                "persistent_keepalive_interval=25\n"
                "replace_allowed_ips=true\n"
                "allowed_ip=10.200.0.0/16\n"
                "allowed_ip=10.201.0.0/16\n"
                "\n");
}

TEST(WgUapiFormat, BadKeyIsAnErrorNotARequest) {
  WgDeviceSpec d;
  d.private_key = "nope";
  auto r = format_wg_set(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("nope"), std::string::npos);
}

TEST(WgUapiFormat, EndpointUpdateTouchesOnlyEndpoints) {
  WgPeerSpec p;
  p.public_key = kPub;
  p.endpoint = *parse_wg_endpoint("203.0.113.10:51820");
  WgPeerSpec no_endpoint;
  no_endpoint.public_key = kPub;
  auto r = format_wg_endpoint_update({p, no_endpoint});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "set=1\npublic_key=" + pub_hex() + "\nupdate_only=true\nendpoint=203.0.113.10:51820\n\n");
}

TEST(WgUapiParse, ErrnoIsTakenAsAbsoluteValue) {
  EXPECT_EQ(*parse_wg_errno("errno=0\n\n"), 0);
  EXPECT_EQ(*parse_wg_errno("errno=-22\n\n"), 22);
  EXPECT_EQ(*parse_wg_errno("errno=1\n\n"), 1);
  EXPECT_FALSE(parse_wg_errno("\n"));
  EXPECT_FALSE(parse_wg_errno("errno=x\n\n"));
}

TEST(WgUapiParse, GetReplyWithPeers) {
  std::string reply = "private_key=" + kPrivHex +
                      "\nlisten_port=51820\nfwmark=65536\n"
                      "public_key=" + pub_hex() +
                      "\npreshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
                      "protocol_version=1\nendpoint=203.0.113.10:51820\n"
                      "last_handshake_time_sec=1764670000\nlast_handshake_time_nsec=5\n"
                      "tx_bytes=1234\nrx_bytes=5678\npersistent_keepalive_interval=25\n"
                      "allowed_ip=10.200.0.0/16\n"
                      "errno=0\n\n";
  auto r = parse_wg_get(reply);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->has_private_key);
  EXPECT_EQ(r->listen_port, 51820);
  EXPECT_EQ(r->fwmark, 0x10000u);
  ASSERT_EQ(r->peers.size(), 1u);
  const auto& p = r->peers[0];
  EXPECT_EQ(p.public_key, kPub);
  EXPECT_EQ(p.endpoint->to_string(), "203.0.113.10:51820");
  EXPECT_EQ(p.last_handshake_sec, 1764670000);
  EXPECT_EQ(p.rx_bytes, 5678u);
  EXPECT_EQ(p.tx_bytes, 1234u);
  EXPECT_EQ(p.persistent_keepalive_s, 25);
  ASSERT_EQ(p.allowed_ips.size(), 1u);
}

TEST(WgUapiParse, EmptyDeviceAndErrors) {
  auto r = parse_wg_get("listen_port=0\nerrno=0\n\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_private_key);
  EXPECT_TRUE(r->peers.empty());
  EXPECT_FALSE(parse_wg_get("errno=-5\n\n"));
  EXPECT_FALSE(parse_wg_get("garbage\nerrno=0\n\n"));
  EXPECT_FALSE(parse_wg_get("public_key=zz\nerrno=0\n\n"));
  EXPECT_FALSE(parse_wg_get("listen_port=0\n"));  // no errno: truncated
}

TEST(WgBackendChoice, AutoFallsBackToWireguardGo) {
  KernelWgProbe absent{false, "genl family 'wireguard': Object not found"};
  KernelWgProbe present{true, ""};
  EXPECT_EQ(*choose_backend(WgBackendChoice::automatic, absent), WgBackendKind::wireguard_go);
  // This build drives wireguard-go only: auto uses it even where the kernel has WireGuard.
  EXPECT_EQ(*choose_backend(WgBackendChoice::automatic, present), WgBackendKind::wireguard_go);
  EXPECT_EQ(*choose_backend(WgBackendChoice::automatic, present, /*kernel_supported=*/true), WgBackendKind::kernel);
  EXPECT_EQ(*choose_backend(WgBackendChoice::wireguard_go, present, true), WgBackendKind::wireguard_go);
  auto k = choose_backend(WgBackendChoice::kernel, absent);
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("Object not found"), std::string::npos);
  EXPECT_FALSE(choose_backend(WgBackendChoice::kernel, present));  // not driven by this build
  EXPECT_EQ(*choose_backend(WgBackendChoice::kernel, present, true), WgBackendKind::kernel);
}

}  // namespace
}  // namespace uplink
