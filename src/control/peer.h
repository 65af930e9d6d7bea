#pragma once
// Who may talk to the control socket. The socket file's mode (0660) is the
// first gate; SO_PEERCRED is checked again per connection so a socket placed
// in a too-open directory, or a mode changed by hand, does not open the daemon.
#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace uplink::control {

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

class PeerPolicy {
 public:
  virtual ~PeerPolicy() = default;
  // Empty optional = allowed; else the reason it is refused (sent to the peer).
  virtual std::optional<std::string> check(const PeerCred& peer) const = 0;
};

// root, the daemon's own uid, or a member of `group` (primary or supplementary).
class GroupPeerPolicy final : public PeerPolicy {
 public:
  GroupPeerPolicy(uid_t self_uid, std::optional<gid_t> group) : self_uid_(self_uid), group_(group) {}
  std::optional<std::string> check(const PeerCred& peer) const override;

 private:
  uid_t self_uid_;
  std::optional<gid_t> group_;
};

// Reads SO_PEERCRED of a connected unix socket.
Result<PeerCred> peer_credentials(int fd);
// Resolves a group name (or a number) to its gid.
Result<gid_t> lookup_group(const std::string& name);

}  // namespace uplink::control
