#pragma once
// Exit codes of uplink-plugin-host, shared with the supervisor so an exit
// says why: a plugin that cannot be loaded is not a plugin that crashed.
#include <string_view>

namespace uplink::plugin {

enum class HostExit : int {
  ok = 0,
  usage = 64,
  protocol = 65,    // garbage from (or to) uplinkd
  dlopen = 66,      // the .so cannot be loaded (missing file, unresolved symbol)
  abi = 67,         // wrong ABI version, table too small, missing symbol/function
  create = 68,      // the plugin's create() refused its configuration
  privileges = 69,  // cannot become the configured user
  limits = 70,      // cannot apply the resource limits
};

// "abi", "dlopen", ... for the exit codes above; "" for any other code.
inline std::string_view host_exit_reason(int code) {
  switch (HostExit(code)) {
    case HostExit::usage: return "usage";
    case HostExit::protocol: return "protocol";
    case HostExit::dlopen: return "dlopen";
    case HostExit::abi: return "abi";
    case HostExit::create: return "create";
    case HostExit::privileges: return "privileges";
    case HostExit::limits: return "limits";
    case HostExit::ok: break;
  }
  return "";
}

}  // namespace uplink::plugin
