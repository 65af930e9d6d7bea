#pragma once
// Running commands from tests: bounded in time, output captured.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace uplink::lab {

struct ExecResult {
  int exit_code = -1;  // -1: could not run or killed at the timeout
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
};

// Runs argv (PATH lookup), waits at most `timeout`, then kills it (SIGKILL, by PID).
ExecResult run_command(const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A long-running child (uplinkd, a sink) with stdout and stderr in a file.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;

  bool running() const;
  pid_t pid() const { return pid_; }
  // SIGTERM, then SIGKILL after `grace`; returns the exit status (-1 if killed or not started).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(3));
  // Sends a signal to the child (e.g. SIGUSR1 to a udp-sink).
  void signal(int sig) const;
  const std::string& log_path() const { return log_path_; }
  std::string log() const;

 private:
  pid_t pid_ = -1;
  mutable int status_ = -1;
  mutable bool reaped_ = true;
  std::string log_path_;
};

}  // namespace uplink::lab
