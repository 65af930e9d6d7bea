#include "config/diagnostics.h"

#include <algorithm>

namespace uplink {

void Diagnostics::add(int line, int column, std::string message) {
  if (issues_.size() >= kKeep) {
    ++dropped_;
    return;
  }
  issues_.push_back({file_, line, column, std::move(message)});
}

void Diagnostics::throw_if_any() const {
  if (empty()) return;
  std::vector<ConfigIssue> sorted = issues_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  // The same problem reached twice (e.g. by two checks of one value) is listed once.
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  size_t more = dropped_;
  if (sorted.size() > ConfigError::kMaxConfigErrors) {
    more += sorted.size() - ConfigError::kMaxConfigErrors;
    sorted.resize(ConfigError::kMaxConfigErrors);
  }
  throw ConfigError(std::move(sorted), more);
}

}  // namespace uplink
