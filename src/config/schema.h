#pragma once
// The known keys of every configuration table and the kind of value each
// takes. The loader uses it to reject unknown keys (with a "did you mean"),
// the editor to turn a CLI string ("500ms", "a,b,c", "true") into TOML.
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace uplink {

enum class Section { root, daemon, link, probe, quality, policy, member, rule };

enum class ValueKind {
  boolean,
  integer,
  number,            // integer or float
  string,
  duration,          // "100ms"
  duration_or_auto,  // "auto" or a duration
  string_list,       // ["a", "b"]
  port_list,         // 80, "8000-8100", or an array of those
  members,           // array of {link, tier, weight}
  table,             // a sub-table ([links.X.probe])
  table_array,       // [[rules]]
};

struct KeySpec {
  std::string_view name;
  ValueKind kind;
};

std::span<const KeySpec> keys_of(Section s);
const KeySpec* find_key(Section s, std::string_view key);
// The known key closest to `unknown` (a likely typo), or "" if none is close.
std::string closest_key(Section s, std::string_view unknown);
// "a, b, c": every key of the section, for messages.
std::string known_keys(Section s);

// The message of an unknown key: "unknown key (did you mean 'interval'?)" or
// "unknown key (known keys: a, b, c)".
std::string unknown_key_message(std::string_view unknown, std::span<const std::string_view> names);

}  // namespace uplink
