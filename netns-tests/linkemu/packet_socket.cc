#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "linkemu/frame_port.h"

namespace uplink::linkemu {

namespace {

// sizeof(struct virtio_net_hdr): <linux/virtio_net.h> does not compile beside <net/if.h>.
constexpr size_t kVnetHdrLen = 10;

std::string errno_text(int e) { return std::strerror(e); }

class PacketSocket final : public FramePort {
 public:
  PacketSocket(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
  ~PacketSocket() override { ::close(fd_); }
  const std::string& name() const override { return name_; }
  int fd() const override { return fd_; }
  size_t header_bytes() const override { return kVnetHdrLen; }

  Result<size_t> receive(uint8_t* buf, size_t cap) override {
    for (;;) {
      sockaddr_ll from{};
      socklen_t fl = sizeof(from);
      ssize_t n = ::recvfrom(fd_, buf, cap, MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
        if (errno == EINTR) continue;
        // ENETDOWN is reported once when the interface goes down (carrier-down):
        // the socket re-attaches by itself when it comes back.
        if (errno == ENETDOWN) return size_t{0};
        return make_error("receive on " + name_ + " failed: " + errno_text(errno));
      }
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      if (static_cast<size_t>(n) > cap) continue;  // truncated: never forward a partial frame
      return static_cast<size_t>(n);
    }
  }

  Result<void> send(const uint8_t* frame, size_t len) override {
    for (;;) {
      ssize_t n = ::send(fd_, frame, len, 0);
      if (n >= 0) return {};
      if (errno == EINTR) continue;
      return make_error("send on " + name_ + " failed: " + errno_text(errno) + "; frame dropped");
    }
  }

 private:
  std::string name_;
  int fd_;
};

}  // namespace

Result<std::unique_ptr<FramePort>> open_packet_socket(const std::string& ifname) {
  unsigned idx = if_nametoindex(ifname.c_str());
  if (!idx) return make_error("interface " + ifname + ": " + errno_text(errno));
  // Protocol 0 until bind: no frame from another interface can slip in before.
  int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("AF_PACKET socket for " + ifname + ": " + errno_text(errno) + " (needs CAP_NET_RAW)");
  auto fail = [&](const char* what) -> Error {
    Error e = make_error(std::string(what) + " on " + ifname + ": " + errno_text(errno));
    ::close(fd);
    return e;
  };
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) return fail("PACKET_VNET_HDR");
  // Best effort: older kernels lack it, and the pkttype check covers that case.
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
  int buf = 8 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));

  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(idx);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) < 0) return fail("bind");

  packet_mreq mr{};
  mr.mr_ifindex = static_cast<int>(idx);
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) return fail("promiscuous mode");
  return std::unique_ptr<FramePort>(new PacketSocket(ifname, fd));
}

}  // namespace uplink::linkemu
