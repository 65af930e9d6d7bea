#include "probe/socket_binding.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace uplink::probe {
namespace {

struct Fd {
  int fd;
  explicit Fd(int family) : fd(::socket(family, SOCK_DGRAM, 0)) {}
  ~Fd() { ::close(fd); }
};

TEST(SocketBinding, ProbeSourceIsTheSocketsAddress) {
  Fd s(AF_INET);
  ASSERT_GE(s.fd, 0);
  ASSERT_TRUE(bind_to_link(s.fd, LinkBinding{"", 0, *IpAddress::parse("127.0.0.1")}));
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(s.fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  char text[INET_ADDRSTRLEN];
  EXPECT_STREQ(::inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text), "127.0.0.1");
}

TEST(SocketBinding, ASourceOfTheOtherFamilyLeavesTheChoiceToTheKernel) {
  Fd s(AF_INET);
  ASSERT_TRUE(bind_to_link(s.fd, LinkBinding{"", 0, *IpAddress::parse("::1")}));
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  ASSERT_EQ(::getsockname(s.fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  EXPECT_EQ(sa.sin_addr.s_addr, htonl(INADDR_ANY));
}

TEST(SocketBinding, AnAddressTheHostDoesNotHaveIsAnErrorNamingIt) {
  Fd s(AF_INET);
  auto r = bind_to_link(s.fd, LinkBinding{"", 0, *IpAddress::parse("192.0.2.77")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("192.0.2.77"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace uplink::probe
