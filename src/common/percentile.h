#pragma once
// The benchmarks' percentile: nearest rank on the sorted sample, index
// round(q * (n - 1)); q = 0.5 is the median, q = 1 the maximum.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace uplink {

// `sample` is taken by value and sorted; 0 for an empty sample.
inline double percentile(std::vector<double> sample, double q) {
  if (sample.empty()) return 0;
  std::sort(sample.begin(), sample.end());
  auto last = sample.size() - 1;
  return sample[std::min(last, static_cast<size_t>(q * static_cast<double>(last) + 0.5))];
}

}  // namespace uplink
