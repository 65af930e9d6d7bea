#pragma once
// Which WireGuard backend a tunnel uses, and the seams around the backend
// process (wireguard-go) and the kernel probe.
//
//   backend = auto ---- kernel genl family "wireguard"? --yes--> kernel (not built yet: falls back, warns)
//                                                        --no---> wireguard-go (EOPNOTSUPP/ENOENT here)
//   backend = kernel -- family missing -> error, link down with that reason
//   backend = wireguard-go -> wireguard-go
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "tunnel/tunnel_config.h"

namespace boost::asio {
class io_context;
}

namespace uplink {

enum class WgBackendKind { kernel, wireguard_go };
std::string_view to_string(WgBackendKind k);

// Result of probing the kernel for the generic netlink family "wireguard".
struct KernelWgProbe {
  bool available = false;
  std::string detail;  // "genl family 'wireguard' not found: ..." when not
};

// Decides the backend. `kernel_supported` says whether this build can drive
// the kernel backend (it cannot yet: auto then prefers wireguard-go).
Result<WgBackendKind> choose_backend(WgBackendChoice choice, const KernelWgProbe& probe,
                                     bool kernel_supported = false);

// Resolves the generic netlink family "wireguard" (libnl-genl; microseconds, synchronous).
KernelWgProbe probe_kernel_wireguard();

// A running wireguard-go, owned by the module.
class WgProcess {
 public:
  virtual ~WgProcess() = default;  // kills a process still running
  virtual pid_t pid() const = 0;
  // Clean stop: SIGTERM, wait (bounded) for it to remove its device and socket.
  virtual void terminate() = 0;
};

class WgLauncher {
 public:
  using ExitFn = std::function<void(const std::string& how)>;  // "exit code 1", "signal 9 (Killed)"
  virtual ~WgLauncher() = default;
  // Starts `wireguard-go -f IFNAME`; on_exit runs on the io_context when it ends.
  virtual Result<std::unique_ptr<WgProcess>> start(const std::string& ifname, ExitFn on_exit) = 0;
};

// The real launcher (src/common/child_process.h).
std::unique_ptr<WgLauncher> make_wireguard_go_launcher(boost::asio::io_context& io,
                                                       std::string binary = "/usr/bin/wireguard-go",
                                                       std::string socket_dir = "/var/run/wireguard");

// Sends one UDP datagram into the tunnel device (SO_BINDTODEVICE) to `dst`:
// wireguard then handshakes (or roams) now instead of at the next keepalive.
Result<void> kick_tunnel(const std::string& ifname, const IpAddress& dst);

// The pid of the process serving a UAPI socket (SO_PEERCRED), to stop an
// adopted wireguard-go that a crashed predecessor started.
std::optional<pid_t> uapi_peer_pid(const std::string& socket_path);

}  // namespace uplink
