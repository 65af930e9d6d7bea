#pragma once
// Kernel objects owned by modules other than routing (a tunnel's routes for
// its allowed IPs, a test module's route, ...), each set under its owner's
// name. The programmer (programmer.h) programs the union of routing's
// desired state and every owner's set, and removes only what no live owner
// desires: a tunnel's routes are not "foreign" to it, and an owner that
// releases its set takes exactly its own objects with it.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "net/kernel_state.h"

namespace uplink {

struct OwnedObjects {
  std::vector<Route> routes;  // in the owner's own tables (never a link table or routing's local table)
  std::vector<Rule> rules;    // priorities outside routing's [rule_priority_base, +999]
  bool operator==(const OwnedObjects&) const = default;
  bool empty() const { return routes.empty() && rules.empty(); }
};

class KernelObjects {
 public:
  // Replaces `owner`'s set; the listener (the programmer) writes the difference at once.
  void set(const std::string& owner, OwnedObjects objects);
  void release(const std::string& owner) { set(owner, {}); }
  const std::map<std::string, OwnedObjects>& by_owner() const { return owned_; }
  // Appends every owner's objects to `ks` (duplicates of routing's objects are skipped).
  void merge_into(KernelState& ks) const;
  // Who owns an object ("" = routing or nobody).
  std::string owner_of(const Route& r) const;
  std::string owner_of(const Rule& r) const;
  void set_listener(std::function<void()> fn) { listener_ = std::move(fn); }

 private:
  std::map<std::string, OwnedObjects> owned_;
  std::function<void()> listener_;
};

}  // namespace uplink
