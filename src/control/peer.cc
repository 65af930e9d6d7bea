#include "control/peer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace uplink::control {

namespace {

bool user_in_group(uid_t uid, gid_t primary, gid_t group) {
  if (primary == group) return true;
  // getgrouplist reads the group database (files on an edge router): cheap
  // enough for a connection that is about to be served anyway.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* res = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) != 0 || !res) return false;
  int n = 64;
  std::vector<gid_t> groups(n);
  if (getgrouplist(pw.pw_name, primary, groups.data(), &n) < 0) {
    groups.resize(n);
    if (getgrouplist(pw.pw_name, primary, groups.data(), &n) < 0) return false;
  }
  for (int i = 0; i < n; ++i) {
    if (groups[i] == group) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> GroupPeerPolicy::check(const PeerCred& peer) const {
  if (peer.uid == 0 || peer.uid == self_uid_) return std::nullopt;
  if (group_ && user_in_group(peer.uid, peer.gid, *group_)) return std::nullopt;
  std::string msg = "permission denied: uid " + std::to_string(peer.uid) + " is not root";
  if (group_) msg += " nor a member of the control socket's group (gid " + std::to_string(*group_) + ")";
  return msg + "; closing the connection";
}

Result<PeerCred> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return make_error(std::string("cannot read peer credentials (SO_PEERCRED): ") + std::strerror(errno));
  }
  return PeerCred{cred.pid, cred.uid, cred.gid};
}

Result<gid_t> lookup_group(const std::string& name) {
  unsigned long num = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), num);
  if (ec == std::errc() && p == name.data() + name.size()) return static_cast<gid_t>(num);
  std::vector<char> buf(16384);
  group gr{};
  group* res = nullptr;
  int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) return make_error("unknown group '" + name + "' (daemon.socket_group)");
  return res->gr_gid;
}

}  // namespace uplink::control
