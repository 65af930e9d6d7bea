#include "common/ip.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

namespace uplink {
namespace {

TEST(IpAddress, V4) {
  auto a = IpAddress::parse("203.0.113.7");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_v4());
  EXPECT_FALSE(a->is_v6());
  EXPECT_EQ(a->family, AF_INET);
  EXPECT_EQ(a->byte_len(), 4u);
  EXPECT_EQ(a->bytes[0], 203);
  EXPECT_EQ(a->bytes[3], 7);
  EXPECT_EQ(a->to_string(), "203.0.113.7");
}

TEST(IpAddress, V6IsCanonicalised) {
  auto a = IpAddress::parse("2001:DB8:0:0::1");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->is_v6());
  EXPECT_EQ(a->byte_len(), 16u);
  EXPECT_EQ(a->to_string(), "2001:db8::1");
  EXPECT_EQ(*a, *IpAddress::parse("2001:db8::1"));
  EXPECT_EQ(IpAddress::parse("::ffff:192.0.2.1")->to_string(), "::ffff:192.0.2.1");
}

TEST(IpAddress, Invalid) {
  for (const char* s : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "example.com", "2001:db8:::1",
                        "1.2.3.4/32", "[2001:db8::1]", "01.2.3.4"}) {
    auto a = IpAddress::parse(s);
    EXPECT_FALSE(a.ok()) << s;
  }
  EXPECT_EQ(IpAddress::parse("1.2.3").error().message, "invalid IP address '1.2.3'");
}

TEST(IpAddress, EmbeddedNulIsRejected) {
  // A TOML string may carry "\u0000"; the part after it must not be silently dropped.
  EXPECT_FALSE(IpAddress::parse(std::string("1.2.3.4\0junk", 12)).ok());
}

TEST(IpAddress, UnsetAndOrdering) {
  IpAddress unset;
  EXPECT_FALSE(unset.valid());
  EXPECT_EQ(unset.to_string(), "");
  EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
}

TEST(IpPrefix, V4AndV6) {
  auto p = IpPrefix::parse("192.168.50.0/24");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->to_string(), "192.168.50.0/24");
  auto q = IpPrefix::parse("2001:db8::/32");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->length, 32);
  EXPECT_EQ(q->to_string(), "2001:db8::/32");
  EXPECT_EQ(IpPrefix::parse("0.0.0.0/0")->length, 0);
}

TEST(IpPrefix, BareAddressIsAHostPrefix) {
  EXPECT_EQ(IpPrefix::parse("10.1.2.3")->to_string(), "10.1.2.3/32");
  EXPECT_EQ(IpPrefix::parse("2001:db8::5")->length, 128);
}

TEST(IpPrefix, HostBitsAreAnError) {
  auto p = IpPrefix::parse("10.0.0.1/8");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "invalid prefix '10.0.0.1/8': host bits set (did you mean a network address?)");
  EXPECT_FALSE(IpPrefix::parse("2001:db8::1/64").ok());
  EXPECT_FALSE(IpPrefix::parse("192.168.50.128/24").ok());
  EXPECT_TRUE(IpPrefix::parse("192.168.50.128/25").ok());
}

TEST(IpPrefix, BadLength) {
  EXPECT_EQ(IpPrefix::parse("10.0.0.0/33").error().message, "invalid prefix '10.0.0.0/33': length must be 0..32");
  EXPECT_EQ(IpPrefix::parse("::/129").error().message, "invalid prefix '::/129': length must be 0..128");
  for (const char* s : {"10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/9", "10.0.0.0/8 ", "10.0.0.0/x"}) {
    EXPECT_FALSE(IpPrefix::parse(s).ok()) << s;
  }
  EXPECT_EQ(IpPrefix::parse("nope/8").error().message, "invalid prefix 'nope/8': invalid IP address 'nope'");
}

TEST(IpPrefix, Contains) {
  auto p = *IpPrefix::parse("10.200.0.0/16");
  EXPECT_TRUE(p.contains(*IpAddress::parse("10.200.0.1")));
  EXPECT_TRUE(p.contains(*IpAddress::parse("10.200.255.255")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("10.201.0.0")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("::ffff:10.200.0.1")));  // other family
  auto odd = *IpPrefix::parse("192.168.50.128/25");
  EXPECT_TRUE(odd.contains(*IpAddress::parse("192.168.50.200")));
  EXPECT_FALSE(odd.contains(*IpAddress::parse("192.168.50.127")));
  auto all = *IpPrefix::parse("0.0.0.0/0");
  EXPECT_TRUE(all.contains(*IpAddress::parse("203.0.113.1")));
  EXPECT_FALSE(all.contains(*IpAddress::parse("2001:db8::1")));
  auto v6 = *IpPrefix::parse("2001:db8::/32");
  EXPECT_TRUE(v6.contains(*IpAddress::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(v6.contains(*IpAddress::parse("2001:db9::1")));
  auto host = *IpPrefix::parse("2001:db8::1/128");
  EXPECT_TRUE(host.contains(*IpAddress::parse("2001:db8::1")));
  EXPECT_FALSE(host.contains(*IpAddress::parse("2001:db8::2")));
}

TEST(IpEndpoint, ParsesV4AndBracketedV6) {
  auto v4 = IpEndpoint::parse("127.0.0.1:9109");
  ASSERT_TRUE(v4) << v4.error().message;
  EXPECT_EQ(v4->addr.to_string(), "127.0.0.1");
  EXPECT_EQ(v4->port, 9109);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:9109");
  auto v6 = IpEndpoint::parse("[::1]:65535");
  ASSERT_TRUE(v6) << v6.error().message;
  EXPECT_TRUE(v6->addr.is_v6());
  EXPECT_EQ(v6->to_string(), "[::1]:65535");
}

TEST(IpEndpoint, SaysWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "has no port"},
      {"127.0.0.1", "has no port"},
      {"127.0.0.1:", "has no valid port (1-65535)"},
      {"127.0.0.1:0", "has no valid port (1-65535)"},
      {"127.0.0.1:65536", "has no valid port (1-65535)"},
      {"127.0.0.1:9x", "has no valid port (1-65535)"},
      {"localhost:9109", "is not a numeric address"},
      {":9109", "is not a numeric address"},
      {"::1:9109", "has an IPv6 address without brackets"},
      {"[::1]", "is not [ipv6]:port"},
      {"[::1]9109", "is not [ipv6]:port"},
      {"[127.0.0.1]:9109", "has an IPv4 address in brackets"},
  };
  for (const auto& [text, why] : cases) {
    auto r = IpEndpoint::parse(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().message, why) << text;
  }
}

}  // namespace
}  // namespace uplink
