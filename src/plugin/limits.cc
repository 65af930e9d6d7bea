#include "plugin/limits.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace uplink::plugin {

namespace {

std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<void> write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  if (!f) return make_error("cannot open " + path + ": " + strerror(errno));
  f << text;
  f.flush();
  if (!f) return make_error("cannot write '" + text + "' to " + path + ": " + strerror(errno));
  return {};
}

bool has_word(const std::string& list, const std::string& word) {
  std::istringstream in(list);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

}  // namespace

LimitsMode LimitsMode::detect() {
  LimitsMode m;
  std::string mount;
  for (const char* c : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
    if (fs::exists(std::string(c) + "/cgroup.controllers")) {
      mount = c;
      break;
    }
  if (mount.empty()) {
    m.why = "no cgroup2 mount";
    return m;
  }
  std::string self;
  std::istringstream lines(read_all("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("0::", 0) == 0) self = line.substr(3);
  if (self.empty()) {
    m.why = "not in a cgroup2 hierarchy";
    return m;
  }
  std::string ours = mount + (self == "/" ? "" : self);
  std::string avail = read_all(ours + "/cgroup.controllers");
  if (!has_word(avail, "memory") || !has_word(avail, "cpu")) {
    m.why = "memory/cpu controllers not available in " + ours;
    return m;
  }
  std::string parent = ours + "/uplinkd-plugins";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) {
    m.why = "cannot create " + parent + ": " + ec.message();
    return m;
  }
  // Controllers for our children need them enabled here and in the new parent
  // (the kernel refuses the first when our group holds processes: then fall back).
  if (!has_word(read_all(ours + "/cgroup.subtree_control"), "memory") ||
      !has_word(read_all(ours + "/cgroup.subtree_control"), "cpu")) {
    if (auto r = write_text(ours + "/cgroup.subtree_control", "+memory +cpu"); !r) {
      m.why = r.error().message;
      fs::remove(parent, ec);
      return m;
    }
  }
  if (auto r = write_text(parent + "/cgroup.subtree_control", "+memory +cpu"); !r) {
    m.why = r.error().message;
    return m;
  }
  m.kind = Kind::cgroup;
  m.cgroup_parent = parent;
  return m;
}

Result<std::string> cgroup_prepare(const LimitsMode& mode, const std::string& plugin,
                                   std::optional<uint64_t> memory_max, std::optional<double> cpu_max) {
  std::string dir = mode.cgroup_parent + "/" + plugin;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create cgroup " + dir + ": " + ec.message());
  if (auto r = write_text(dir + "/memory.max", memory_max ? std::to_string(*memory_max) : "max"); !r) return r.error();
  if (memory_max) (void)write_text(dir + "/memory.swap.max", "0");
  std::string cpu = "max 100000";
  if (cpu_max) cpu = std::to_string(std::max<long>(1000, std::lround(*cpu_max * 1000))) + " 100000";
  if (auto r = write_text(dir + "/cpu.max", cpu); !r) return r.error();
  return dir;
}

Result<void> cgroup_add(const std::string& group, pid_t pid) {
  return write_text(group + "/cgroup.procs", std::to_string(pid));
}

uint64_t cgroup_oom_kills(const std::string& group) {
  std::istringstream in(read_all(group + "/memory.events"));
  std::string key;
  uint64_t v = 0;
  while (in >> key >> v)
    if (key == "oom_kill") return v;
  return 0;
}

void cgroup_remove(const std::string& group) { ::rmdir(group.c_str()); }

}  // namespace uplink::plugin
