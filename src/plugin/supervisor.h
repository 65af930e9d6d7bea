#pragma once
// Supervision with a memory (STYLE.md): one Supervisor per plugin process.
// A pure state machine on injected time; the process itself is behind
// SupervisorActions (the real PluginRunner, or a fake in tests).
//
//   stopped --start()--> starting --on_ready()--> running
//      ^                    |  start_timeout          |  no pong for heartbeat_timeout
//      |                    v                         v
//      |                 (kill) ----------------> killing --on_exit()--+
//      |                                                               |
//      +--stop()/on_exit-- stopping     backoff <--on_exit() (any cause)+
//                                          |  timer: 0 for the first failure after a
//                                          |  stable run, then 1 s doubling to backoff_max
//                                          +--> starting  (never gives up)
//
// Running stable_after without a failure resets the failure count (and
// clears the alarm, raised after alarm_after failures in a row).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"

namespace uplink::plugin {

using namespace std::chrono_literals;

struct RestartPolicy {
  Duration backoff_initial = 1s;
  Duration backoff_max = 5min;
  Duration stable_after = 60s;
  int alarm_after = 5;
  Duration heartbeat_timeout = 10s;
  Duration ping_interval = 1s;  // effective: min(ping_interval, heartbeat_timeout / 4)
  Duration stop_grace = 2s;     // after Shutdown, before SIGKILL
};

enum class State { stopped, starting, running, killing, backoff, stopping };
std::string_view state_name(State s);

// Why a process ended, as the runner classified it.
enum class ExitCause {
  exited,         // exited by itself (any code not below)
  crashed,        // killed by a signal it did not get from us
  hung,           // no heartbeat answer within heartbeat_timeout: we SIGKILLed it
  start_timeout,  // no Ready within heartbeat_timeout of starting
  memory,         // hit memory_max (cgroup OOM kill, or an allocation failure near the rlimit)
  cpu,            // hit its CPU-time limit (SIGXCPU)
  abi,            // the .so is not a valid plugin for this host (version, size, symbol)
  load,           // dlopen failed
  create,         // the plugin's create() refused
  protocol,       // garbage on the socket
  spawn,          // the host process could not be started
  setup,          // user or limits could not be applied
  restart,        // `plugin NAME restart` (not a failure)
  stopped,        // stop() (not a failure)
};
std::string_view cause_name(ExitCause c);
inline bool is_failure(ExitCause c) { return c != ExitCause::restart && c != ExitCause::stopped; }

class SupervisorActions {
 public:
  virtual ~SupervisorActions() = default;
  // Starts a process. On success the machine waits for on_ready()/on_exit().
  virtual Result<void> launch() = 0;
  virtual void send_ping(uint64_t seq) = 0;
  virtual void send_shutdown() = 0;
  virtual void kill_process() = 0;  // SIGKILL; on_exit() follows
};

struct SupervisorEvent {
  enum class Kind { started, ready, exited, restarting, hung, alarm, recovered, stopped };
  Kind kind;
  ExitCause cause = ExitCause::exited;  // exited, hung
  std::string detail;                   // exit status, fatal message, ...
  Duration backoff{};                   // restarting: delay before the start
  int failures = 0;                     // consecutive failures so far
};
std::string_view event_kind_name(SupervisorEvent::Kind k);

class Supervisor {
 public:
  using EventFn = std::function<void(const SupervisorEvent&)>;
  Supervisor(TimeSource& time, RestartPolicy policy, SupervisorActions& actions, EventFn on_event);
  ~Supervisor();

  void set_policy(const RestartPolicy& p) { policy_ = p; }

  void start();
  // Graceful: Shutdown, SIGKILL after stop_grace; `stopped` event on exit.
  void stop();
  // `plugin NAME restart`: stop now, start at once, no failure counted.
  void restart();

  void on_ready();
  void on_pong(uint64_t seq);
  // The process is gone (any reason). `cause` is the runner's classification;
  // a kill we ordered (hang, restart, stop) overrides it.
  void on_exit(ExitCause cause, const std::string& detail);

  State state() const { return state_; }
  uint64_t restarts() const { return restarts_; }
  int failures() const { return failures_; }
  bool alarm() const { return alarm_; }
  // Why we are killing or stopping the process, when we are (hang, restart, stop).
  std::optional<ExitCause> ordered() const { return ordered_; }
  std::optional<TimePoint> running_since() const { return running_since_; }
  // Delay the next failure would get.
  Duration next_backoff() const { return backoff_for(failures_ + 1); }
  Duration effective_ping_interval() const;

 private:
  Duration backoff_for(int failures) const;
  void launch();
  void arm_deadline(Duration d, ExitCause cause);
  void ping();
  void emit(SupervisorEvent e);

  TimeSource& time_;
  RestartPolicy policy_;
  SupervisorActions& actions_;
  EventFn on_event_;
  State state_ = State::stopped;
  std::unique_ptr<Timer> ping_timer_, deadline_timer_, stable_timer_, backoff_timer_, grace_timer_;
  uint64_t seq_ = 0;
  uint64_t restarts_ = 0;
  int failures_ = 0;
  bool alarm_ = false;
  std::optional<ExitCause> ordered_;  // why we killed/stopped it, if we did
  std::optional<TimePoint> running_since_;
  bool restart_after_stop_ = false;
};

}  // namespace uplink::plugin
