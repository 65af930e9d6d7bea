#include "plugin/supervisor.h"

#include <algorithm>

namespace uplink::plugin {

std::string_view state_name(State s) {
  switch (s) {
    case State::stopped: return "stopped";
    case State::starting: return "starting";
    case State::running: return "running";
    case State::killing: return "killing";
    case State::backoff: return "backoff";
    case State::stopping: return "stopping";
  }
  return "unknown";
}

std::string_view cause_name(ExitCause c) {
  switch (c) {
    case ExitCause::exited: return "exited";
    case ExitCause::crashed: return "crashed";
    case ExitCause::hung: return "hung";
    case ExitCause::start_timeout: return "start_timeout";
    case ExitCause::memory: return "memory";
    case ExitCause::cpu: return "cpu";
    case ExitCause::abi: return "abi";
    case ExitCause::load: return "load";
    case ExitCause::create: return "create";
    case ExitCause::protocol: return "protocol";
    case ExitCause::spawn: return "spawn";
    case ExitCause::setup: return "setup";
    case ExitCause::restart: return "restart";
    case ExitCause::stopped: return "stopped";
  }
  return "unknown";
}

std::string_view event_kind_name(SupervisorEvent::Kind k) {
  using K = SupervisorEvent::Kind;
  switch (k) {
    case K::started: return "started";
    case K::ready: return "ready";
    case K::exited: return "exited";
    case K::restarting: return "restarting";
    case K::hung: return "hung";
    case K::alarm: return "alarm";
    case K::recovered: return "recovered";
    case K::stopped: return "stopped";
  }
  return "unknown";
}

Supervisor::Supervisor(TimeSource& time, RestartPolicy policy, SupervisorActions& actions, EventFn on_event)
    : time_(time),
      policy_(policy),
      actions_(actions),
      on_event_(std::move(on_event)),
      ping_timer_(time.make_timer()),
      deadline_timer_(time.make_timer()),
      stable_timer_(time.make_timer()),
      backoff_timer_(time.make_timer()),
      grace_timer_(time.make_timer()) {}

Supervisor::~Supervisor() = default;

Duration Supervisor::effective_ping_interval() const {
  return std::max<Duration>(1ms, std::min<Duration>(policy_.ping_interval, policy_.heartbeat_timeout / 4));
}

// The first failure after a stable run restarts at once (a one-off crash
// costs well under a second); a failure that repeats waits 1 s, 2 s, 4 s ...
// up to backoff_max, for ever.
Duration Supervisor::backoff_for(int failures) const {
  if (failures <= 1) return Duration::zero();
  Duration d = policy_.backoff_initial;
  for (int i = 2; i < failures && d < policy_.backoff_max; ++i) d *= 2;
  return std::min(d, policy_.backoff_max);
}

void Supervisor::emit(SupervisorEvent e) {
  if (on_event_) on_event_(e);
}

void Supervisor::start() {
  if (state_ != State::stopped && state_ != State::backoff) return;
  backoff_timer_->cancel();
  launch();
}

void Supervisor::launch() {
  ordered_.reset();
  running_since_.reset();
  state_ = State::starting;
  auto r = actions_.launch();
  if (!r) {
    // No process: count it like a failed start and try again later.
    state_ = State::killing;
    on_exit(ExitCause::spawn, r.error().message);
    return;
  }
  emit({SupervisorEvent::Kind::started, ExitCause::exited, "", {}, failures_});
  arm_deadline(policy_.heartbeat_timeout, ExitCause::start_timeout);
}

void Supervisor::arm_deadline(Duration d, ExitCause cause) {
  deadline_timer_->arm(d, [this, cause] {
    if (state_ != State::starting && state_ != State::running) return;
    ordered_ = cause;
    state_ = State::killing;
    ping_timer_->cancel();
    stable_timer_->cancel();
    emit({SupervisorEvent::Kind::hung, cause,
          cause == ExitCause::hung ? "no heartbeat answer within the heartbeat timeout"
                                   : "not ready within the heartbeat timeout",
          {}, failures_});
    actions_.kill_process();
  });
}

void Supervisor::on_ready() {
  if (state_ != State::starting) return;
  state_ = State::running;
  running_since_ = time_.now();
  emit({SupervisorEvent::Kind::ready, ExitCause::exited, "", {}, failures_});
  arm_deadline(policy_.heartbeat_timeout, ExitCause::hung);
  ping_timer_->arm(effective_ping_interval(), [this] { ping(); });
  stable_timer_->arm(policy_.stable_after, [this] {
    if (state_ != State::running) return;
    failures_ = 0;
    if (alarm_) {
      alarm_ = false;
      emit({SupervisorEvent::Kind::recovered, ExitCause::exited, "stable again", {}, 0});
    }
  });
}

void Supervisor::ping() {
  if (state_ != State::running) return;
  actions_.send_ping(++seq_);
  ping_timer_->arm(effective_ping_interval(), [this] { ping(); });
}

void Supervisor::on_pong(uint64_t seq) {
  if (state_ != State::running || seq == 0 || seq > seq_) return;
  arm_deadline(policy_.heartbeat_timeout, ExitCause::hung);
}

void Supervisor::stop() {
  restart_after_stop_ = false;
  backoff_timer_->cancel();
  switch (state_) {
    case State::stopped: return;
    case State::backoff:
      state_ = State::stopped;
      emit({SupervisorEvent::Kind::stopped, ExitCause::stopped, "", {}, failures_});
      return;
    case State::stopping: return;
    case State::killing:
      ordered_ = ExitCause::stopped;
      state_ = State::stopping;
      return;
    case State::starting:
    case State::running: break;
  }
  ordered_ = ExitCause::stopped;
  state_ = State::stopping;
  ping_timer_->cancel();
  deadline_timer_->cancel();
  stable_timer_->cancel();
  actions_.send_shutdown();
  grace_timer_->arm(policy_.stop_grace, [this] {
    if (state_ == State::stopping) actions_.kill_process();
  });
}

void Supervisor::restart() {
  switch (state_) {
    case State::stopped:
    case State::backoff:
      start();
      return;
    case State::killing:
    case State::stopping:
      // Already on its way down: start again as soon as it is gone.
      restart_after_stop_ = true;
      return;
    case State::starting:
    case State::running: break;
  }
  ordered_ = ExitCause::restart;
  state_ = State::killing;
  ping_timer_->cancel();
  deadline_timer_->cancel();
  stable_timer_->cancel();
  actions_.kill_process();
}

void Supervisor::on_exit(ExitCause cause, const std::string& detail) {
  if (state_ == State::stopped || state_ == State::backoff) return;  // stale
  ping_timer_->cancel();
  deadline_timer_->cancel();
  stable_timer_->cancel();
  grace_timer_->cancel();
  if (ordered_) cause = *ordered_;
  ordered_.reset();
  bool ran_stable = running_since_ && time_.now() - *running_since_ >= policy_.stable_after;
  running_since_.reset();

  if (cause == ExitCause::stopped && !restart_after_stop_) {
    state_ = State::stopped;
    emit({SupervisorEvent::Kind::exited, cause, detail, {}, failures_});
    emit({SupervisorEvent::Kind::stopped, cause, "", {}, failures_});
    return;
  }
  restart_after_stop_ = false;
  Duration delay = Duration::zero();
  if (is_failure(cause)) {
    if (ran_stable) failures_ = 0;
    ++failures_;
    delay = backoff_for(failures_);
  }
  emit({SupervisorEvent::Kind::exited, cause, detail, delay, failures_});
  if (is_failure(cause) && failures_ >= policy_.alarm_after && !alarm_) {
    alarm_ = true;
    emit({SupervisorEvent::Kind::alarm, cause,
          std::to_string(failures_) + " failures in a row (last: " + std::string(cause_name(cause)) +
              (detail.empty() ? "" : ", " + detail) + ")",
          delay, failures_});
  }
  state_ = State::backoff;
  emit({SupervisorEvent::Kind::restarting, cause, detail, delay, failures_});
  backoff_timer_->arm(delay, [this] {
    if (state_ != State::backoff) return;
    ++restarts_;
    launch();
  });
}

}  // namespace uplink::plugin
