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

// A Prometheus label value: backslash, quote and newline escaped.
inline std::string prometheus_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace uplink
