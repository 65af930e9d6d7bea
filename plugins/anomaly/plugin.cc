// libuplink_anomaly.so: the streaming anomaly detector as an uplinkd plugin
// (include/uplink/plugin.h). Samples {"stream","ts","value"} in; one message
// of class "alarm" per incident out (topic anomaly/<stream>, JSON payload:
// stream, ts, score, value, threshold, context = the last samples).
//
// [plugins.anomaly.config] (JSON), all optional:
//   threshold    overrides the model's threshold
//   cooldown_s   seconds between two alarms of one stream (default 600)
//   max_streams  streams tracked at most (default 1000; ~55 KiB each)
// The model comes from load_model() (the model store) or, before that, the
// compiled-in defaults (= models/default.model).
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <uplink/plugin.h>

#include "model.h"
#include "streams.h"

namespace {

using uplink::anomaly::Params;
using uplink::anomaly::StreamSet;

constexpr size_t kMaxPending = 1024;  // alarms waiting for room in the host's buffer

struct Instance {
  const uplink_host* host = nullptr;
  std::unique_ptr<StreamSet> set;
  double threshold_override = -1;
  bool online = true;
  struct Pending {
    std::string topic, payload;
  };
  std::deque<Pending> pending;
  unsigned long long lost = 0;

  void log(int level, const std::string& m) const {
    if (host && host->log) host->log(host, level, m.c_str());
  }
  void flush() {
    while (!pending.empty()) {
      const auto& p = pending.front();
      const int rc = host->publish(host, "alarm", p.topic.c_str(), p.payload.data(), p.payload.size());
      if (rc == UPLINK_EFULL) return;  // retry in poll()
      if (rc != UPLINK_OK) {
        ++lost;
        log(UPLINK_LOG_WARN, "alarm not accepted by the host (" + std::to_string(rc) + "): " + p.topic);
      }
      pending.pop_front();
    }
  }
  void publish_state() {
    const std::string body = set->state_json(online);
    if (host->publish(host, "telemetry", "anomaly/state", body.data(), body.size()) != UPLINK_OK)
      log(UPLINK_LOG_INFO, "state: " + body);
  }
};

void copy_msg(char* buf, size_t n, const std::string& m) {
  if (!buf || n == 0) return;
  std::snprintf(buf, n, "%s", m.c_str());
}

void* create(const uplink_host* host, const char* config_json, char* err, size_t err_size) {
  auto inst = std::make_unique<Instance>();
  inst->host = host;
  StreamSet::Options opt;
  try {
    const auto cfg = nlohmann::json::parse(config_json ? config_json : "{}");
    if (!cfg.is_object()) throw std::runtime_error("config is not a JSON object");
    for (auto it = cfg.begin(); it != cfg.end(); ++it) {
      const std::string& k = it.key();
      if (k == "threshold") {
        const double t = it.value().get<double>();
        if (!(t > 0 && t <= 1)) throw std::runtime_error("threshold must be in (0, 1]");
        inst->threshold_override = t;
      } else if (k == "cooldown_s") {
        opt.cooldown_s = it.value().get<double>();
        if (!(opt.cooldown_s >= 0)) throw std::runtime_error("cooldown_s must be >= 0");
      } else if (k == "max_streams") {
        const long long m = it.value().get<long long>();
        if (m < 1) throw std::runtime_error("max_streams must be >= 1");
        opt.max_streams = static_cast<size_t>(m);
      } else {
        throw std::runtime_error("unknown config key '" + k + "'");
      }
    }
  } catch (const std::exception& e) {
    copy_msg(err, err_size, std::string("anomaly: bad config: ") + e.what());
    return nullptr;
  }
  if (inst->threshold_override > 0) opt.params.threshold = inst->threshold_override;
  inst->set = std::make_unique<StreamSet>(opt);
  return inst.release();
}

void destroy(void* p) { delete static_cast<Instance*>(p); }

int on_samples(void* p, const uplink_sample* s, size_t n) {
  auto* inst = static_cast<Instance*>(p);
  if (!s) return UPLINK_EINVAL;
  const auto sink = [inst](std::string_view stream, const std::string& payload) {
    if (inst->pending.size() >= kMaxPending) {
      ++inst->lost;
      inst->pending.pop_front();  // keep the newest incidents
    }
    inst->pending.push_back({"anomaly/" + std::string(stream), payload});
  };
  for (size_t i = 0; i < n; ++i)
    if (s[i].stream) inst->set->on_sample(s[i].stream, s[i].ts, s[i].value, sink);
  inst->flush();
  return UPLINK_OK;
}

void on_connectivity(void* p, int state) {
  auto* inst = static_cast<Instance*>(p);
  inst->online = state == UPLINK_ONLINE;
  inst->log(UPLINK_LOG_INFO, std::string("uplink ") + (inst->online ? "online" : "offline") + ": " +
                                 inst->set->state_json(inst->online));
  inst->publish_state();
}

int load_model(void* p, const char* path, char* msg, size_t msg_size) {
  auto* inst = static_cast<Instance*>(p);
  Params params;
  std::string err;
  if (!path || !uplink::anomaly::load_model(path, params, err)) {
    copy_msg(msg, msg_size, "anomaly: " + (path ? err : std::string("no model path")));
    return UPLINK_ERROR;  // keeps the previous model
  }
  if (inst->threshold_override > 0) params.threshold = inst->threshold_override;
  inst->set->set_params(params);
  copy_msg(msg, msg_size, std::string("anomaly: model ") + path + " loaded; streams restart learning");
  return UPLINK_OK;
}

void poll(void* p) { static_cast<Instance*>(p)->flush(); }

const uplink_plugin kTable = {
    UPLINK_PLUGIN_ABI_VERSION, sizeof(uplink_plugin), "anomaly", "1.0", create, destroy, on_samples,
    on_connectivity, load_model, poll,
};

}  // namespace

extern "C" UPLINK_PLUGIN_EXPORT const uplink_plugin* uplink_plugin_entry(void) { return &kTable; }
