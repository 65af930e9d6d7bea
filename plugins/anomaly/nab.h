#pragma once
// NAB scoring rules (Numenta Anomaly Benchmark v1.1), reimplemented from the
// rules in NAB's documentation: windows, probationary period, scaled-sigmoid
// position weight, first detection per window, false positives weighted by
// their distance from the preceding window, normalisation with the null and
// perfect detectors.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace uplink::anomaly::nab {

struct Profile {
  std::string name;
  double tp, fp, fn;
};
// standard, reward_low_FP_rate, reward_low_FN_rate (NAB's config/profiles.json).
const std::vector<Profile>& profiles();

// sigma(p) = 2 / (1 + exp(5 p)) - 1, and -1 for p > 3.
double scaled_sigmoid(double p);
// min(floor(0.15 * rows), 750).
size_t probation_rows(size_t rows);

struct Window {
  size_t first, last;  // row indices, inclusive
};

struct FileScore {
  double score = 0;      // TP credit + FP cost - FN cost
  int tp = 0, fp = 0, fn = 0;
  int windows = 0;
};

// `detections[i]` != 0 marks row i as a detection. Windows must be sorted,
// disjoint and inside [0, rows).
FileScore score_file(const std::vector<uint8_t>& detections, const std::vector<Window>& windows,
                     const Profile& profile);

// Totals over a corpus -> NAB's normalised score (0 null, 100 perfect).
double normalised(double raw, int total_windows, const Profile& profile);

// combined_windows.json: file key -> list of [start, end] timestamps.
using WindowLabels = std::map<std::string, std::vector<std::pair<std::string, std::string>>>;
bool parse_windows(std::string_view json, WindowLabels& out, std::string& err);

// Maps timestamp windows onto row indices of a series (exact timestamp match).
bool windows_to_rows(const std::vector<std::pair<std::string, std::string>>& ts_windows,
                     const std::vector<int64_t>& row_ts, std::vector<Window>& out, std::string& err);

}  // namespace uplink::anomaly::nab
