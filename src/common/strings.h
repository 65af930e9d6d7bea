#pragma once
// Small string helpers shared by logs, events and hooks.
#include <string>
#include <string_view>
#include <vector>

namespace uplink {

// "a,b,c"; `if_empty` for an empty list (logs print "-" or "last resort").
inline std::string join(const std::vector<std::string>& items, std::string_view if_empty = "",
                        std::string_view separator = ",") {
  if (items.empty()) return std::string(if_empty);
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace uplink
