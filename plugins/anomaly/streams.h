#pragma once
// Many streams, keyed by name, each with its own Detector; turns detector
// alarms into alarm messages (JSON) with a per-stream cool-down in time, so
// one incident is one alarm. Used by the plugin (plugin.cc); free of the
// plugin ABI so it can be tested directly.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "detector.h"
#include "model.h"

namespace uplink::anomaly {

class StreamSet {
 public:
  struct Options {
    Params params;
    double cooldown_s = 600;    // after an alarm, the stream's next alarm waits this long (seconds of sample time)
    size_t max_streams = 1000;  // samples of further new streams are dropped (counted)
    static constexpr int kContext = 16;  // recent samples sent with an alarm
  };
  struct Counters {
    uint64_t samples = 0, alarms = 0, suppressed = 0, dropped_streams = 0;
  };
  // Receives (stream, JSON payload) for each alarm.
  using Sink = std::function<void(std::string_view stream, const std::string& payload)>;

  explicit StreamSet(Options o) : opt_(std::move(o)) {}
  void on_sample(std::string_view stream, double ts_s, double value, const Sink& sink);
  // A new model: every stream starts learning again with it.
  void set_params(const Params& p);
  const Options& options() const { return opt_; }
  const Counters& counters() const { return counters_; }
  size_t streams() const { return streams_.size(); }
  // {"streams":N,"samples":...,"alarms":...,...}
  std::string state_json(bool online) const;

 private:
  struct Stream {
    explicit Stream(const Params& p) : det(p) {}
    Detector det;
    double ctx_ts[Options::kContext] = {};
    double ctx_v[Options::kContext] = {};
    int ctx_n = 0, ctx_head = 0;
    double last_alarm_ts = -1e300;
  };
  // Transparent hash and equality: a sample's stream name is looked up as a
  // string_view, without building a std::string per sample.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Options opt_;
  Counters counters_;
  std::unordered_map<std::string, std::unique_ptr<Stream>, NameHash, std::equal_to<>> streams_;
};

}  // namespace uplink::anomaly
