#include "control/verbs.h"

#include <stdexcept>

namespace uplink::control {

void VerbRegistry::add(Verb verb) {
  if (verb.name.empty() || !verb.handler) throw std::logic_error("verb without a name or handler");
  if (find_command(verb.name) || verbs_.count(verb.name)) {
    throw std::logic_error("verb '" + verb.name + "' is registered twice (owner " + verb.owner + ")");
  }
  CommandSpec spec{verb.name, {{"argv", FieldType::array, false}, {"json", FieldType::boolean, false}}, verb.help,
                   verb.changes_state};
  spec.fields.insert(spec.fields.end(), verb.fields.begin(), verb.fields.end());
  std::string name = verb.name;
  verbs_.emplace(name, std::move(verb));
  // The spec's name views the key stored in verbs_ (stable: std::map nodes do not move).
  spec.name = verbs_.find(name)->first;
  specs_.emplace(name, std::move(spec));
}

void VerbRegistry::remove_owner(const std::string& owner) {
  for (auto it = verbs_.begin(); it != verbs_.end();) {
    if (it->second.owner == owner) {
      specs_.erase(it->first);
      it = verbs_.erase(it);
    } else {
      ++it;
    }
  }
}

const Verb* VerbRegistry::find(std::string_view name) const {
  auto it = verbs_.find(name);
  return it == verbs_.end() ? nullptr : &it->second;
}

const CommandSpec* VerbRegistry::spec(std::string_view name) const {
  auto it = specs_.find(name);
  return it == specs_.end() ? nullptr : &it->second;
}

}  // namespace uplink::control
