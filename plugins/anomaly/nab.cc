#include "nab.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "csv.h"

namespace uplink::anomaly::nab {

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> p = {
      {"standard", 1.0, 0.11, 1.0},
      {"reward_low_FP_rate", 1.0, 0.22, 1.0},
      {"reward_low_FN_rate", 1.0, 0.11, 2.0},
  };
  return p;
}

double scaled_sigmoid(double p) {
  if (p > 3.0) return -1.0;
  return 2.0 / (1.0 + std::exp(5.0 * p)) - 1.0;
}

size_t probation_rows(size_t rows) { return std::min<size_t>(static_cast<size_t>(std::floor(0.15 * rows)), 750); }

FileScore score_file(const std::vector<uint8_t>& det, const std::vector<Window>& windows, const Profile& prof) {
  FileScore fs;
  fs.windows = static_cast<int>(windows.size());
  const size_t n = det.size();
  const size_t probation = probation_rows(n);
  const double max_tp = scaled_sigmoid(-1.0);
  size_t w = 0;                 // next window not yet ended
  bool have_prev = false;       // a window has ended before row i
  size_t prev_last = 0, prev_width = 0;
  std::vector<bool> hit(windows.size(), false);
  for (size_t i = 0; i < n; ++i) {
    while (w < windows.size() && windows[w].last < i) {
      have_prev = true;
      prev_last = windows[w].last;
      prev_width = windows[w].last - windows[w].first + 1;
      ++w;
    }
    if (!det[i] || i < probation) continue;
    const bool inside = w < windows.size() && windows[w].first <= i && i <= windows[w].last;
    if (inside) {
      if (hit[w]) continue;  // only the earliest detection in a window counts
      hit[w] = true;
      const double width = static_cast<double>(windows[w].last - windows[w].first + 1);
      const double pos = -static_cast<double>(windows[w].last - i + 1) / width;
      fs.score += prof.tp * scaled_sigmoid(pos) / max_tp;
      ++fs.tp;
    } else {
      double u = -1.0;
      if (have_prev) {
        // NAB divides by (width - 1); a one-row window would divide by zero
        // there, here it counts as a full false positive.
        if (prev_width > 1)
          u = scaled_sigmoid(static_cast<double>(i - prev_last) / static_cast<double>(prev_width - 1));
      }
      fs.score += prof.fp * u;
      ++fs.fp;
    }
  }
  for (size_t k = 0; k < windows.size(); ++k)
    if (!hit[k]) {
      fs.score -= prof.fn;
      ++fs.fn;
    }
  return fs;
}

double normalised(double raw, int total_windows, const Profile& prof) {
  const double null_score = -prof.fn * total_windows;
  const double perfect = prof.tp * total_windows;
  if (perfect == null_score) return 0;
  return 100.0 * (raw - null_score) / (perfect - null_score);
}

bool parse_windows(std::string_view text, WindowLabels& out, std::string& err) {
  out.clear();
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    err = "not a JSON object of file -> windows";
    return false;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto& list = out[it.key()];
    if (!it.value().is_array()) {
      err = "windows of '" + it.key() + "' are not a list";
      return false;
    }
    for (const auto& w : it.value()) {
      if (!w.is_array() || w.size() != 2 || !w[0].is_string() || !w[1].is_string()) {
        err = "a window of '" + it.key() + "' is not [start, end]";
        return false;
      }
      list.emplace_back(w[0].get<std::string>(), w[1].get<std::string>());
    }
  }
  return true;
}

bool windows_to_rows(const std::vector<std::pair<std::string, std::string>>& ts_windows,
                     const std::vector<int64_t>& row_ts, std::vector<Window>& out, std::string& err) {
  out.clear();
  auto find = [&](const std::string& s, size_t& idx) {
    int64_t t = 0;
    if (!parse_timestamp(s, t)) {
      err = "bad window timestamp '" + s + "'";
      return false;
    }
    auto it = std::lower_bound(row_ts.begin(), row_ts.end(), t);
    if (it == row_ts.end() || *it != t) {
      err = "window timestamp '" + s + "' is not a row of the file";
      return false;
    }
    idx = static_cast<size_t>(it - row_ts.begin());
    return true;
  };
  for (const auto& [a, b] : ts_windows) {
    Window w{};
    if (!find(a, w.first) || !find(b, w.last)) return false;
    if (w.last < w.first) {
      err = "window '" + a + "' .. '" + b + "' ends before it starts";
      return false;
    }
    if (!out.empty() && w.first <= out.back().last) {
      err = "windows overlap or are out of order at '" + a + "'";
      return false;
    }
    out.push_back(w);
  }
  return true;
}

}  // namespace uplink::anomaly::nab
