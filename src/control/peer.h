#pragma once
// Who may talk to the control socket, and who may change state through it.
// The socket file's mode (0660) is the first gate; SO_PEERCRED is checked
// again per connection so a socket placed in a too-open directory, or a mode
// changed by hand, does not open the daemon. Readers (status, metrics, events)
// and administrators (link/policy/rule edits, reload, module verbs that
// change state) are told apart per request.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace uplink::control {

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups = {};  // the peer's supplementary groups (SO_PEERGROUPS)
};

class PeerPolicy {
 public:
  virtual ~PeerPolicy() = default;
  // May this peer connect (and read)? Empty optional = yes; else the reason
  // it is refused (sent to the peer).
  virtual std::optional<std::string> check(const PeerCred& peer) const = 0;
  // May a connected peer change state? Empty = yes; else why not ("needs root
  // or ..."), which the server sends with the command's name.
  virtual std::optional<std::string> check_change(const PeerCred& peer) const = 0;
};

// Readers: root, the daemon's own uid, members of `read_group` or of
// `admin_group` (primary or supplementary). Administrators: root, the
// daemon's own uid, members of `admin_group`.
class GroupPeerPolicy final : public PeerPolicy {
 public:
  GroupPeerPolicy(uid_t self_uid, std::optional<gid_t> read_group, std::optional<gid_t> admin_group = std::nullopt)
      : self_uid_(self_uid), read_group_(read_group), admin_group_(admin_group) {}
  std::optional<std::string> check(const PeerCred& peer) const override;
  std::optional<std::string> check_change(const PeerCred& peer) const override;

 private:
  uid_t self_uid_;
  std::optional<gid_t> read_group_;
  std::optional<gid_t> admin_group_;
};

// Reads SO_PEERCRED of a connected unix socket.
Result<PeerCred> peer_credentials(int fd);
// Resolves a group name (or a number) to its gid; `key` names the setting in errors.
Result<gid_t> lookup_group(const std::string& name, const std::string& key = "daemon.socket_group");

}  // namespace uplink::control
