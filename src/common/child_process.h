#pragma once
// A child process watched from the io_context (ARCHITECTURE.md §4: child
// processes live behind a bridge in src/common/).
//
//   spawn() --posix_spawn--> child (own process group, stdin /dev/null,
//                                   stdout+stderr -> a pipe, chosen fds mapped)
//     pidfd  --readable on exit--> waitpid() --> on_exit(ExitStatus)   (io_context thread)
//     pipe   --lines------------------------> on_output(line)         (io_context thread)
//
// on_exit runs exactly once, unless the ChildProcess is destroyed first: the
// destructor SIGKILLs a process still running (its whole group) and reaps it,
// and no callback runs after it.
#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace boost::asio {
class io_context;
}

namespace uplink {

struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool core_dumped = false;
  // "exit code 3", "signal 9 (Killed)", "signal 11 (Segmentation fault), core dumped"
  std::string describe() const;
  static ExitStatus from_wait_status(int status);
};

struct SpawnSpec {
  std::string path;                     // executable (no PATH search)
  std::vector<std::string> args;        // argv[1..]; argv[0] is path
  std::optional<std::vector<std::string>> env;  // nullopt: inherit
  // {parent_fd, child_fd}: parent_fd is dup2'ed onto child_fd in the child;
  // every other descriptor of ours stays behind (closed in the child, close-on-exec or not).
  std::vector<std::pair<int, int>> fds;
  bool own_process_group = true;        // signal_group() reaches its children too
};

class ChildProcess {
 public:
  using ExitFn = std::function<void(const ExitStatus&)>;
  using OutputFn = std::function<void(std::string_view line)>;

  // Starts the process. on_output may be empty (output then discarded).
  static Result<std::unique_ptr<ChildProcess>> spawn(boost::asio::io_context& io, const SpawnSpec& spec,
                                                     ExitFn on_exit, OutputFn on_output = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const;
  bool running() const;
  // Signals the process (or its process group); false once it has been reaped.
  bool signal(int sig);
  bool signal_group(int sig);

  struct State;

 private:
  explicit ChildProcess(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

}  // namespace uplink
