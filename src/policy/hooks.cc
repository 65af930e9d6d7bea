#include "policy/hooks.h"
#include "common/strings.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "common/child_process.h"
#include "common/log.h"

namespace uplink {

namespace {

auto log() { return get_logger("hooks"); }

}  // namespace

std::vector<std::string> hook_environment(const HookEvent& e) {
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                  "UPLINK_EVENT=" + e.event};
  if (e.event == "link") {
    env.push_back("UPLINK_LINK=" + e.link);
    env.push_back("UPLINK_FROM=" + e.from);
    env.push_back("UPLINK_TO=" + e.to);
    env.push_back("UPLINK_REASON=" + e.reason);
  } else {
    env.push_back("UPLINK_POLICY=" + e.policy);
    env.push_back("UPLINK_FROM=" + e.from);
    env.push_back("UPLINK_TO=" + e.to);
    env.push_back("UPLINK_ACTIVE=" + join(e.active));
    if (!e.reason.empty()) env.push_back("UPLINK_REASON=" + e.reason);
  }
  return env;
}

// The process itself (spawn, its own group, output lines, exit through a pidfd)
// is a ChildProcess; a job adds the timeout.
struct ProcessHookRunner::Job {
  std::unique_ptr<ChildProcess> child;
  std::unique_ptr<Timer> timer;
  std::string name;
  bool killed = false;
};

ProcessHookRunner::ProcessHookRunner(boost::asio::io_context& io, TimeSource& time, std::string dir, Duration timeout,
                                     size_t max_concurrent)
    : io_(io), time_(time), dir_(std::move(dir)), timeout_(timeout), max_concurrent_(std::max<size_t>(max_concurrent, 1)) {}

// Destroying a job's ChildProcess kills its group and reaps it.
ProcessHookRunner::~ProcessHookRunner() = default;

void ProcessHookRunner::run(const HookEvent& event) {
  std::error_code ec;
  std::vector<std::string> hooks;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    if (access(entry.path().c_str(), X_OK) != 0) continue;
    hooks.push_back(entry.path().string());
  }
  if (ec && ec != std::errc::no_such_file_or_directory)
    log()->warn("cannot read hooks_dir {}: {}; no hooks run for this event", dir_, ec.message());
  std::sort(hooks.begin(), hooks.end());
  auto env = hook_environment(event);
  for (auto& h : hooks) queue_.push_back({h, env});
  start_next();
}

void ProcessHookRunner::start_next() {
  while (jobs_.size() < max_concurrent_ && !queue_.empty()) {
    auto p = std::move(queue_.front());
    queue_.pop_front();
    start(std::move(p));
  }
}

void ProcessHookRunner::start(Pending p) {
  auto job = std::make_unique<Job>();
  job->name = std::filesystem::path(p.path).filename().string();
  job->timer = time_.make_timer();
  Job* j = job.get();
  auto child = ChildProcess::spawn(
      io_, SpawnSpec{.path = p.path, .args = {}, .env = std::move(p.env), .fds = {}, .own_process_group = true},
      [this, j](const ExitStatus& status) { finish(j, status); },
      [j](std::string_view line) { log()->info("hook {}: {}", j->name, line); });
  if (!child) {
    log()->warn("hook {}: {}; skipped", j->name, child.error().message);
    return;
  }
  j->child = std::move(*child);
  pid_t pid = j->child->pid();
  jobs_[pid] = std::move(job);
  j->timer->arm(timeout_, [this, j] {
    log()->warn("hook {} (pid {}) still running after {} ms: killing its process group", j->name, j->child->pid(),
                std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count());
    j->killed = true;
    j->child->signal_group(SIGKILL);
  });
  log()->debug("hook {} started (pid {})", j->name, pid);
}

void ProcessHookRunner::finish(Job* j, const ExitStatus& status) {
  auto it = jobs_.find(j->child->pid());
  if (it == jobs_.end()) return;
  if (j->killed) log()->warn("hook {} killed after the timeout", j->name);
  else if (!status.signaled && status.code != 0) log()->warn("hook {} exited with status {}", j->name, status.code);
  else if (status.signaled) log()->warn("hook {} died of signal {}", j->name, status.signal);
  else log()->debug("hook {} done", j->name);
  j->timer->cancel();
  // Destroy after this callback has returned (it runs inside the ChildProcess).
  auto job = std::move(it->second);
  jobs_.erase(it);
  boost::asio::post(io_, [job = std::shared_ptr<Job>(std::move(job))] {});
  start_next();
}

}  // namespace uplink
