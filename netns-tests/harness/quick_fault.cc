#include "harness/quick_fault.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace uplink::lab {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

Result<void> quick_upstream_down(const Lab& lab, const std::string& line) {
  const std::string ns = lab.ns(line_info(line).isp);
  std::string error;
  // setns() changes only the calling thread's namespace: a thread of its own.
  std::thread t([&] {
    int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = errno_text("open /run/netns/" + ns);
      return;
    }
    int rc = ::setns(fd, CLONE_NEWNET);
    ::close(fd);
    if (rc != 0) {
      error = errno_text("setns " + ns);
      return;
    }
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_error(ctx);
    // The rules of uplink-lab's set_upstream(), as one transaction.
    const char* cmd =
        "flush chain inet lab forward\n"
        "add rule inet lab forward iifname \"core\" drop\n"
        "add rule inet lab forward oifname \"core\" drop\n";
    if (nft_run_cmd_from_buffer(ctx, cmd) != 0) error = "nft in " + ns + ": " + nft_ctx_get_error_buffer(ctx);
    nft_ctx_free(ctx);
  });
  t.join();
  if (!error.empty()) return Error{error};
  return {};
}

Result<void> quick_emu(const Lab& lab, const std::string& line, const std::string& request) {
  const std::string path = "/run/uplink-lab/" + lab.prefix() + "/linkemu-" + line + ".sock";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return Error{"socket path too long: " + path};
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{errno_text("socket")};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Error e{errno_text("connect " + path)};
    ::close(fd);
    return e;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = request + "\n", reply;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    Error e{errno_text("write " + path)};
    ::close(fd);
    return e;
  }
  char buf[1024];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (reply.empty() || reply.rfind("error", 0) == 0)
    return Error{"linkemu on " + line + ": " + (reply.empty() ? "no reply" : reply)};
  return {};
}

}  // namespace uplink::lab
