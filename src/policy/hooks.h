#pragma once
// Hooks: every executable in daemon.hooks_dir runs on each link and policy
// change, in the background, with the event in its environment:
//   UPLINK_EVENT   link | policy
//   UPLINK_LINK, UPLINK_FROM, UPLINK_TO, UPLINK_REASON    (link events)
//   UPLINK_POLICY, UPLINK_ACTIVE (comma list; empty = last resort),
//   UPLINK_FROM / UPLINK_TO = old / new active lists       (policy events)
// A hook never delays routing: it is started as a ChildProcess
// (common/child_process.h: posix_spawn in its own process group, its exit
// watched through a pidfd on the io_context), its
// output goes to the log line by line, and the whole group is killed after
// daemon.hook_timeout. At most `max_concurrent` run at once; the rest queue.
#include <boost/asio/io_context.hpp>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"

namespace uplink {

struct ExitStatus;

struct HookEvent {
  std::string event;  // "link" | "policy"
  std::string link, from, to, reason;
  std::string policy;
  std::vector<std::string> active;
};

// "KEY=value" strings, in a fixed order (PATH first, then the UPLINK_* set).
std::vector<std::string> hook_environment(const HookEvent& event);

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  virtual void run(const HookEvent& event) = 0;
};

class ProcessHookRunner final : public HookRunner {
 public:
  ProcessHookRunner(boost::asio::io_context& io, TimeSource& time, std::string dir, Duration timeout,
                    size_t max_concurrent = 4);
  ~ProcessHookRunner() override;  // kills what still runs
  void run(const HookEvent& event) override;
  size_t running() const { return jobs_.size(); }
  size_t queued() const { return queue_.size(); }

 private:
  struct Job;
  struct Pending {
    std::string path;
    std::vector<std::string> env;
  };
  void start_next();
  void start(Pending p);
  void finish(Job* job, const ExitStatus& status);

  boost::asio::io_context& io_;
  TimeSource& time_;
  std::string dir_;
  Duration timeout_;
  size_t max_concurrent_;
  std::deque<Pending> queue_;
  std::map<int, std::unique_ptr<Job>> jobs_;  // by pid
};

}  // namespace uplink
