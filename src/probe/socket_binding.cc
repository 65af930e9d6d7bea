#include "probe/socket_binding.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace uplink::probe {

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

Result<void> bind_to_link(int fd, const LinkBinding& b) {
  if (!b.interface.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, b.interface.data(), static_cast<socklen_t>(b.interface.size())) != 0)
    return make_error(errno_text("SO_BINDTODEVICE " + b.interface, errno));
  if (b.fwmark != 0) {
    unsigned mark = b.fwmark;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
      return make_error(errno_text("SO_MARK " + std::to_string(b.fwmark) + " on " + b.interface, errno));
  }
  if (b.source) {
    int domain = 0;
    socklen_t len = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return make_error(errno_text("SO_DOMAIN", errno));
    if (domain != b.source->family) return {};  // the source names the other family: the kernel picks
    sockaddr_storage ss{};
    socklen_t sl = 0;
    if (b.source->is_v4()) {
      auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
      sa->sin_family = AF_INET;
      std::memcpy(&sa->sin_addr, b.source->bytes.data(), 4);
      sl = sizeof(sockaddr_in);
    } else {
      auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
      sa->sin6_family = AF_INET6;
      std::memcpy(&sa->sin6_addr, b.source->bytes.data(), 16);
      sl = sizeof(sockaddr_in6);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0)
      return make_error(errno_text("bind probe source " + b.source->to_string() + " on " + b.interface, errno));
  }
  return {};
}

}  // namespace uplink::probe
