#include "probe/socket_binding.h"

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
  return {};
}

}  // namespace uplink::probe
