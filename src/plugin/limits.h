#pragma once
// Resource limits of plugin processes: cgroup v2 when the daemon can create
// child groups with the memory and cpu controllers, else rlimits.
//
//   cgroup v2:  <our cgroup>/uplinkd-plugins/<NAME>/ with memory.max (= memory_max,
//               memory.swap.max 0) and cpu.max ("<cpu_max% of 100ms> 100000");
//               the host is moved in before it loads the plugin; an OOM kill is
//               read back from memory.events.
//   fallback:   memory_max -> RLIMIT_DATA in the host (heap and anonymous
//               mappings: an allocation beyond it fails, the plugin usually
//               aborts, the exit is reported as "memory" when its data size was
//               near the limit); cpu_max -> nice 19 plus a duty-cycle governor in
//               the runner (SIGSTOP/SIGCONT of the host's group every 100 ms to
//               hold it to cpu_max% on average).
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"

namespace uplink::plugin {

struct LimitsMode {
  enum class Kind { cgroup, rlimit };
  Kind kind = Kind::rlimit;
  std::string cgroup_parent;  // kind == cgroup: where plugin groups are created
  std::string why;            // kind == rlimit: why cgroups are not used
  // Probes /proc/self/cgroup and the cgroup2 mount; creates the parent group.
  static LimitsMode detect();
  std::string_view name() const { return kind == Kind::cgroup ? "cgroup2" : "rlimit"; }
};

// Creates (or reuses) the plugin's group and writes its limits.
Result<std::string> cgroup_prepare(const LimitsMode& mode, const std::string& plugin,
                                   std::optional<uint64_t> memory_max, std::optional<double> cpu_max);
Result<void> cgroup_add(const std::string& group, pid_t pid);
// memory.events oom_kill (0 when unreadable).
uint64_t cgroup_oom_kills(const std::string& group);
void cgroup_remove(const std::string& group);

}  // namespace uplink::plugin
