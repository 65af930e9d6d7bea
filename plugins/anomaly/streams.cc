#include "streams.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace uplink::anomaly {

void StreamSet::set_params(const Params& p) {
  opt_.params = p;
  streams_.clear();
}

void StreamSet::on_sample(std::string_view name, double ts_s, double value, const Sink& sink) {
  ++counters_.samples;
  auto it = streams_.find(name);
  if (it == streams_.end()) {
    if (streams_.size() >= opt_.max_streams) {
      ++counters_.dropped_streams;
      return;
    }
    it = streams_.emplace(std::string(name), std::make_unique<Stream>(opt_.params)).first;
  }
  Stream& s = *it->second;
  const double us = ts_s * 1e6;
  const int64_t ts_us = std::isfinite(us) && std::fabs(us) < 9e18 ? static_cast<int64_t>(std::floor(us))
                                                                   : Detector::kNoTime;
  const auto out = s.det.update(ts_us, value);
  s.ctx_ts[s.ctx_head] = ts_s;
  s.ctx_v[s.ctx_head] = value;
  s.ctx_head = (s.ctx_head + 1) % Options::kContext;
  if (s.ctx_n < Options::kContext) ++s.ctx_n;
  if (!out.alarm) return;
  if (ts_s - s.last_alarm_ts < opt_.cooldown_s) {
    ++counters_.suppressed;  // the same incident
    return;
  }
  s.last_alarm_ts = ts_s;
  ++counters_.alarms;
  nlohmann::json ctx = nlohmann::json::array();
  for (int k = s.ctx_n; k > 0; --k) {
    const int i = (s.ctx_head - k + Options::kContext) % Options::kContext;
    ctx.push_back({s.ctx_ts[i], s.ctx_v[i]});
  }
  nlohmann::json j = {{"stream", std::string(name)}, {"ts", ts_s},          {"score", out.score},
                      {"value", value},             {"threshold", opt_.params.threshold},
                      {"context", ctx}};
  sink(name, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string StreamSet::state_json(bool online) const {
  nlohmann::json j = {{"online", online},
                      {"streams", streams_.size()},
                      {"samples", counters_.samples},
                      {"alarms", counters_.alarms},
                      {"suppressed", counters_.suppressed},
                      {"dropped_streams", counters_.dropped_streams}};
  return j.dump();
}

}  // namespace uplink::anomaly
