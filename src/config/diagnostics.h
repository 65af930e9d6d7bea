#pragma once
// The errors of one configuration load, collected instead of thrown so that a
// file's problems are all reported at once (sorted by position, at most
// ConfigError::kMaxConfigErrors). Internal to src/config.
#include <string>
#include <vector>

#include "config/config.h"

namespace uplink {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // line/column 1-based (0 = no position); message already carries its key path.
  void add(int line, int column, std::string message);
  size_t count() const { return issues_.size() + dropped_; }
  bool empty() const { return count() == 0; }
  // Throws ConfigError with every issue, sorted by position, when there is any.
  void throw_if_any() const;

 private:
  static constexpr size_t kKeep = 10000;  // memory bound for pathological inputs
  std::string file_;
  std::vector<ConfigIssue> issues_;
  size_t dropped_ = 0;
};

}  // namespace uplink
