#include "policy/hooks.h"
#include "common/strings.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstring>
#include <filesystem>

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

struct ProcessHookRunner::Job {
  Job(boost::asio::io_context& io, int pid, int pidfd, int out, std::unique_ptr<Timer> t, std::string n)
      : pid(pid), exit_watch(io, pidfd), output(io, out), timer(std::move(t)), name(std::move(n)) {}
  int pid;
  boost::asio::posix::stream_descriptor exit_watch;  // the pidfd: readable when the process exits
  boost::asio::posix::stream_descriptor output;      // stdout+stderr
  std::unique_ptr<Timer> timer;
  std::string name;
  std::array<char, 1024> buf{};
  std::string partial;
  bool killed = false;

  void log_output(bool flush) {
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      log()->info("hook {}: {}", name, partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    if (flush && !partial.empty()) {
      log()->info("hook {}: {}", name, partial);
      partial.clear();
    }
  }
  void read() {
    output.async_read_some(boost::asio::buffer(buf), [this](const boost::system::error_code& ec, size_t n) {
      if (ec) return;
      partial.append(buf.data(), n);
      if (partial.size() > 64 * 1024) log_output(true);
      else log_output(false);
      read();
    });
  }
};

ProcessHookRunner::ProcessHookRunner(boost::asio::io_context& io, TimeSource& time, std::string dir, Duration timeout,
                                     size_t max_concurrent)
    : io_(io), time_(time), dir_(std::move(dir)), timeout_(timeout), max_concurrent_(std::max<size_t>(max_concurrent, 1)) {}

ProcessHookRunner::~ProcessHookRunner() {
  for (auto& [pid, job] : jobs_) {
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

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
  auto name = std::filesystem::path(p.path).filename().string();
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    log()->warn("hook {}: cannot create a pipe: {}; skipped", name, strerror(errno));
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // own group: the timeout kills its children too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv{p.path.data(), nullptr};
  std::vector<char*> envp;
  for (auto& e : p.env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, p.path.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    log()->warn("hook {}: cannot start: {}; skipped", name, strerror(rc));
    return;
  }
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    // No pidfd (very old kernel): wait synchronously rather than leak a zombie.
    log()->warn("hook {}: pidfd_open failed ({}); waiting for it synchronously", name, strerror(errno));
    close(pipefd[0]);
    waitpid(pid, nullptr, 0);
    return;
  }
  auto job = std::make_unique<Job>(io_, pid, pidfd, pipefd[0], time_.make_timer(), name);
  Job* j = job.get();
  jobs_[pid] = std::move(job);
  j->read();
  j->timer->arm(timeout_, [this, j] {
    log()->warn("hook {} (pid {}) still running after {} ms: killing its process group", j->name, j->pid,
                std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count());
    j->killed = true;
    kill(-j->pid, SIGKILL);
  });
  j->exit_watch.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this, pid](const boost::system::error_code& ec) {
                             if (!ec) finish(pid);
                           });
  log()->debug("hook {} started (pid {})", name, pid);
}

void ProcessHookRunner::finish(int pid) {
  auto it = jobs_.find(pid);
  if (it == jobs_.end()) return;
  auto& j = *it->second;
  int status = 0;
  waitpid(pid, &status, 0);
  // Whatever is still in the pipe (the hook exited, so this does not block long).
  int fd = j.output.native_handle();
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  ssize_t n;
  while ((n = ::read(fd, j.buf.data(), j.buf.size())) > 0) j.partial.append(j.buf.data(), size_t(n));
  j.log_output(true);
  if (j.killed) log()->warn("hook {} killed after the timeout", j.name);
  else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) log()->warn("hook {} exited with status {}", j.name, WEXITSTATUS(status));
  else if (WIFSIGNALED(status)) log()->warn("hook {} died of signal {}", j.name, WTERMSIG(status));
  else log()->debug("hook {} done", j.name);
  j.timer->cancel();
  j.output.cancel();
  j.exit_watch.cancel();
  // Destroy after the cancelled handlers have run (they reference the Job).
  auto job = std::move(it->second);
  jobs_.erase(it);
  boost::asio::post(io_, [job = std::shared_ptr<Job>(std::move(job))] {});
  start_next();
}

}  // namespace uplink
