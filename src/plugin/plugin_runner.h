#pragma once
// One supervised plugin, daemon side: the host process, its socket, the
// Supervisor's actions, samples in, messages out, and model installs with
// probation.
//
//   samples (inputs, tests) --submit_sample--> batch --Samples frames--> socketpair --> uplink-plugin-host
//   MessageSink <--Message frames-- socketpair <-- host->publish()
//   Supervisor <--Ready/Pong/exit-- ;  Supervisor --launch/ping/kill--> this
//
//   install_model: ModelStore.stage + activate --> LoadModel --> ModelResult
//                  load refused, or a crash within model_probation --> rollback (+ LoadModel of the old one)
//
// Everything runs on the io_context thread.
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/child_process.h"
#include "common/clock.h"
#include "plugin/ipc.h"
#include "plugin/limits.h"
#include "plugin/message_sink.h"
#include "plugin/model_store.h"
#include "plugin/plugin_config.h"
#include "plugin/supervisor.h"

namespace uplink::plugin {

// What the runner reports (the module turns it into a PluginEvent on the bus).
struct RunnerEvent {
  std::string plugin;
  std::string event;  // started ready exited restarting hung alarm recovered stopped
                      // model_installed model_loaded model_load_failed model_rolled_back model_confirmed
  std::string cause;  // exit cause, or why a model was rolled back
  std::string detail;
  int pid = 0;
  uint64_t restarts = 0;
  std::string model_version;
  Duration backoff{};
};

struct RunnerOptions {
  std::string host_path;          // uplink-plugin-host
  Duration stable_after = std::chrono::seconds(60);
  int alarm_after = 5;
  size_t pending_max = 10000;     // samples held while the plugin (re)starts
  size_t out_max = 8u << 20;      // bytes of frames queued towards the host
  size_t batch_max = 1024;        // samples per frame
};

class PluginRunner final : public SupervisorActions {
 public:
  using EventFn = std::function<void(const RunnerEvent&)>;
  PluginRunner(boost::asio::io_context& io, TimeSource& time, RunnerOptions options, PluginConfig config,
               const LimitsMode& limits, MessageSink* sink, EventFn on_event);
  ~PluginRunner() override;

  void start() { sup_.start(); }
  void stop() { sup_.stop(); }
  void restart() { sup_.restart(); }
  // Applies a changed configuration: limits, heartbeat and backoff take
  // effect now; path, user, config or limits changes restart the process.
  void reconfigure(const PluginConfig& config);

  void submit_sample(std::string_view stream, double ts, double value);
  void set_connectivity(bool online);

  Result<ModelInfo> install_model(const std::string& file, const std::optional<std::string>& signature);
  Result<std::optional<ModelInfo>> rollback_model();

  const PluginConfig& config() const { return config_; }
  State state() const { return sup_.state(); }
  pid_t pid() const { return child_ ? child_->pid() : 0; }
  nlohmann::json status() const;
  // Resource use as sampled with the heartbeats (status() has them too, but
  // also reads the model store from disk).
  double cpu_pct() const { return std::round(cpu_pct_ * 10) / 10; }
  uint64_t memory_bytes() const { return rss_; }

  struct Counters {
    uint64_t samples_in = 0;          // handed to the host
    uint64_t samples_dropped = 0;     // no room (restarting too long, host too slow)
    uint64_t messages_out = 0;        // taken by the sink
    uint64_t messages_dropped = 0;    // refused by the sink, or no sink
  };
  const Counters& counters() const { return counters_; }
  const ipc::Stats& host_stats() const { return host_stats_; }
  const Supervisor& supervisor() const { return sup_; }
  // Bytes of frames waiting to be written to the host (backpressure).
  size_t queued_bytes() const;

  // SupervisorActions
  Result<void> launch() override;
  void send_ping(uint64_t seq) override;
  void send_shutdown() override;
  void kill_process() override;

 private:
  struct Conn;
  void on_frame(const ipc::FrameDecoder::View& f);
  void on_child_exit(const ExitStatus& status);
  void on_supervisor_event(const SupervisorEvent& e);
  void close_conn();
  void drain_conn();
  void write(std::string& frames);
  void pump();
  void flush_batch();
  void schedule_flush();
  void hold(ipc::Sample s);
  void send_load_current(const char* why);
  void rollback_auto(const std::string& why);
  void sample_usage();
  ExitCause classify(const ExitStatus& status, std::string& detail) const;
  void emit(std::string event, std::string cause = "", std::string detail = "", Duration backoff = {});
  RestartPolicy policy_from(const PluginConfig& c) const;

  boost::asio::io_context& io_;
  TimeSource& time_;
  RunnerOptions opts_;
  PluginConfig config_;
  LimitsMode limits_;
  MessageSink* sink_;
  EventFn on_event_;
  Supervisor sup_;
  std::optional<ModelStore> store_;

  std::unique_ptr<ChildProcess> child_;
  std::shared_ptr<Conn> conn_;
  std::optional<ipc::Fatal> fatal_;
  bool ready_ = false;
  bool online_ = true;
  std::string plugin_version_;

  std::vector<ipc::Sample> batch_;
  std::deque<ipc::Sample> pending_;  // while not ready
  bool flush_posted_ = false;

  // Models: the load we are waiting for, and the probation window.
  uint64_t load_seq_ = 0;
  uint64_t load_waiting_ = 0;
  std::string loading_version_;
  std::optional<std::string> probation_version_;
  std::unique_ptr<Timer> probation_timer_;

  Counters counters_;
  ipc::Stats host_stats_;
  struct LastExit {
    std::string cause, detail, at;
  };
  std::optional<LastExit> last_exit_;
  std::optional<WallTime> started_at_;
  // Resource use, sampled with each heartbeat.
  double cpu_pct_ = 0;
  uint64_t rss_ = 0, vm_data_ = 0;
  // CPU ticks (utime + stime) at the previous reading of this process; none
  // before the first. They never decrease for one process, so a delta needs no clamp.
  std::optional<uint64_t> last_cpu_ticks_;
  TimePoint last_cpu_at_{};
  uint64_t oom_kills_at_start_ = 0;
  // cpu_max without cgroups: a duty-cycle governor (SIGSTOP/SIGCONT), see governor_tick().
  std::unique_ptr<Timer> cpu_timer_;
  double cpu_budget_s_ = 0;
  std::optional<uint64_t> gov_ticks_;
  TimePoint gov_at_{};
  bool throttled_ = false;
  uint64_t throttles_ = 0;
  void governor_tick();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace uplink::plugin
