#include "tunnel/wg_backend.h"

#include <netinet/in.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/child_process.h"
#include "common/log.h"

extern char** environ;

namespace uplink {

std::string_view to_string(WgBackendKind k) { return k == WgBackendKind::kernel ? "kernel" : "wireguard-go"; }

Result<WgBackendKind> choose_backend(WgBackendChoice choice, const KernelWgProbe& probe, bool kernel_supported) {
  switch (choice) {
    case WgBackendChoice::wireguard_go: return WgBackendKind::wireguard_go;
    case WgBackendChoice::kernel:
      if (!probe.available) return make_error("backend kernel: the kernel has no WireGuard (" + probe.detail + ")");
      if (!kernel_supported)
        return make_error("backend kernel: this build drives WireGuard through wireguard-go only; set backend = \"auto\"");
      return WgBackendKind::kernel;
    case WgBackendChoice::automatic:
      return probe.available && kernel_supported ? WgBackendKind::kernel : WgBackendKind::wireguard_go;
  }
  return WgBackendKind::wireguard_go;
}

KernelWgProbe probe_kernel_wireguard() {
  nl_sock* sock = nl_socket_alloc();
  if (!sock) return {false, "cannot allocate a netlink socket"};
  KernelWgProbe out;
  if (int err = genl_connect(sock); err < 0) {
    out.detail = std::string("generic netlink: ") + nl_geterror(err);
  } else if (int id = genl_ctrl_resolve(sock, "wireguard"); id < 0) {
    out.detail = std::string("genl family 'wireguard': ") + nl_geterror(id);
  } else {
    out.available = true;
  }
  nl_socket_free(sock);
  return out;
}

namespace {

class ChildWgProcess final : public WgProcess {
 public:
  ChildWgProcess(std::unique_ptr<ChildProcess> child, std::string socket_path)
      : child_(std::move(child)), socket_path_(std::move(socket_path)) {}
  pid_t pid() const override { return child_->pid(); }
  void terminate() override {
    if (!child_->running()) return;
    child_->signal(SIGTERM);
    // wireguard-go removes its socket (and the TUN device with it) on SIGTERM;
    // wait for that, bounded, then the destructor kills what is left.
    struct stat st;
    for (int i = 0; i < 100 && ::stat(socket_path_.c_str(), &st) == 0; ++i) {
      timespec ts{0, 10'000'000};
      nanosleep(&ts, nullptr);
    }
  }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string socket_path_;
};

class ChildWgLauncher final : public WgLauncher {
 public:
  ChildWgLauncher(boost::asio::io_context& io, std::string binary, std::string dir)
      : io_(io), binary_(std::move(binary)), dir_(std::move(dir)) {}
  Result<std::unique_ptr<WgProcess>> start(const std::string& ifname, ExitFn on_exit) override {
    SpawnSpec spec;
    spec.path = binary_;
    spec.args = {"-f", ifname};
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    env.emplace_back("WG_PROCESS_FOREGROUND=1");  // no "userspace" banner on every start
    spec.env = std::move(env);
    auto log = get_logger("tunnel");
    auto child = ChildProcess::spawn(
        io_, spec, [on_exit = std::move(on_exit)](const ExitStatus& s) { on_exit(s.describe()); },
        [log, ifname](std::string_view line) { log->debug("wireguard-go {}: {}", ifname, line); });
    if (!child) return make_error("starting " + binary_ + " -f " + ifname + ": " + child.error().message);
    return std::unique_ptr<WgProcess>(
        std::make_unique<ChildWgProcess>(std::move(*child), dir_ + "/" + ifname + ".sock"));
  }

 private:
  boost::asio::io_context& io_;
  std::string binary_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<WgLauncher> make_wireguard_go_launcher(boost::asio::io_context& io, std::string binary,
                                                       std::string socket_dir) {
  return std::make_unique<ChildWgLauncher>(io, std::move(binary), std::move(socket_dir));
}

Result<void> kick_tunnel(const std::string& ifname, const IpAddress& dst) {
  int fd = ::socket(dst.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return make_error(std::string("kick: socket: ") + strerror(errno));
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), socklen_t(ifname.size())) < 0)
    return make_error("kick: bind to " + ifname + ": " + strerror(errno));
  static constexpr char kByte = 0;
  int rc;
  if (dst.is_v4()) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9);  // discard
    memcpy(&sa.sin_addr, dst.bytes.data(), 4);
    rc = int(::sendto(fd, &kByte, 1, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(9);
    memcpy(&sa.sin6_addr, dst.bytes.data(), 16);
    rc = int(::sendto(fd, &kByte, 1, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa));
  }
  if (rc < 0) return make_error("kick: send into " + ifname + ": " + strerror(errno));
  return {};
}

std::optional<pid_t> uapi_peer_pid(const std::string& path) {
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) return std::nullopt;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  std::optional<pid_t> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid > 0) out = cred.pid;
  }
  ::close(fd);
  return out;
}

}  // namespace uplink
