#include "net/kernel_objects.h"

#include <algorithm>

namespace uplink {

void KernelObjects::set(const std::string& owner, OwnedObjects objects) {
  auto it = owned_.find(owner);
  if (objects.empty()) {
    if (it == owned_.end()) return;
    owned_.erase(it);
  } else {
    if (it != owned_.end() && it->second == objects) return;
    owned_[owner] = std::move(objects);
  }
  if (listener_) listener_();
}

void KernelObjects::merge_into(KernelState& ks) const {
  for (const auto& [owner, objs] : owned_) {
    for (const auto& r : objs.routes)
      if (std::find(ks.routes.begin(), ks.routes.end(), r) == ks.routes.end()) ks.routes.push_back(r);
    for (const auto& r : objs.rules)
      if (std::find(ks.rules.begin(), ks.rules.end(), r) == ks.rules.end()) ks.rules.push_back(r);
  }
}

std::string KernelObjects::owner_of(const Route& r) const {
  for (const auto& [owner, objs] : owned_)
    if (std::find(objs.routes.begin(), objs.routes.end(), r) != objs.routes.end()) return owner;
  return "";
}

std::string KernelObjects::owner_of(const Rule& r) const {
  for (const auto& [owner, objs] : owned_)
    if (std::find(objs.rules.begin(), objs.rules.end(), r) != objs.rules.end()) return owner;
  return "";
}

}  // namespace uplink
