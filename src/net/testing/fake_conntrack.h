#pragma once
// Conntrack for unit tests: entries are just marks; flush_mark() deletes the
// matching ones and records the call.
#include <algorithm>
#include <utility>
#include <vector>

#include "net/conntrack.h"

namespace uplink {

class FakeConntrack final : public Conntrack {
 public:
  std::vector<uint32_t> entries;                        // ct marks of the tracked flows
  std::vector<std::pair<uint32_t, uint32_t>> flushes;   // (mark, mask) per call

  Result<size_t> flush_mark(uint32_t mark, uint32_t mask) override {
    flushes.emplace_back(mark, mask);
    return size_t(std::erase_if(entries, [&](uint32_t m) { return (m & mask) == (mark & mask); }));
  }
};

}  // namespace uplink
