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

// The groups the peer process holds (primary, supplementary) count first;
// the group database second (a user added to a group who has not logged in
// again since).
bool user_in_group(const PeerCred& peer, gid_t group) {
  uid_t uid = peer.uid;
  gid_t primary = peer.gid;
  if (primary == group) return true;
  for (gid_t g : peer.groups) {
    if (g == group) return true;
  }
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
  if (read_group_ && user_in_group(peer, *read_group_)) return std::nullopt;
  if (admin_group_ && user_in_group(peer, *admin_group_)) return std::nullopt;
  std::string msg = "permission denied: uid " + std::to_string(peer.uid) + " is not root";
  if (read_group_) msg += " nor a member of the control socket's group (gid " + std::to_string(*read_group_) + ")";
  if (admin_group_) msg += " nor of daemon.admin_group (gid " + std::to_string(*admin_group_) + ")";
  return msg + "; closing the connection";
}

std::optional<std::string> GroupPeerPolicy::check_change(const PeerCred& peer) const {
  if (peer.uid == 0 || peer.uid == self_uid_) return std::nullopt;
  if (admin_group_ && user_in_group(peer, *admin_group_)) return std::nullopt;
  std::string who = admin_group_ ? "root or a member of daemon.admin_group (gid " + std::to_string(*admin_group_) + ")"
                                 : "root (no daemon.admin_group is configured)";
  return "changes uplinkd's state, which needs " + who + "; uid " + std::to_string(peer.uid) + " may only read";
}

Result<PeerCred> peer_credentials(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return make_error(std::string("cannot read peer credentials (SO_PEERCRED): ") + std::strerror(errno));
  }
  PeerCred peer{cred.pid, cred.uid, cred.gid, {}};
  // SO_PEERGROUPS (Linux 4.13): the supplementary groups the peer held when
  // it connected. ERANGE tells the size needed; failing it, the database decides.
  std::vector<gid_t> groups(32);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
      groups.resize(glen / sizeof(gid_t));
      peer.groups = std::move(groups);
      break;
    }
    if (errno != ERANGE) break;
    groups.resize(glen / sizeof(gid_t) + 1);
  }
  return peer;
}

Result<gid_t> lookup_group(const std::string& name, const std::string& key) {
  unsigned long num = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), num);
  if (ec == std::errc() && p == name.data() + name.size()) return static_cast<gid_t>(num);
  std::vector<char> buf(16384);
  group gr{};
  group* res = nullptr;
  int rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) return make_error("unknown group '" + name + "' (" + key + ")");
  return res->gr_gid;
}

}  // namespace uplink::control
