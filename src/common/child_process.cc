#include "common/child_process.h"

#include <algorithm>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace uplink {

std::string ExitStatus::describe() const {
  if (!signaled) return "exit code " + std::to_string(code);
  const char* name = strsignal(signal);
  std::string s = "signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
  if (core_dumped) s += ", core dumped";
  return s;
}

ExitStatus ExitStatus::from_wait_status(int status) {
  ExitStatus e;
  if (WIFSIGNALED(status)) {
    e.signaled = true;
    e.signal = WTERMSIG(status);
    e.core_dumped = WCOREDUMP(status);
  } else {
    e.code = WEXITSTATUS(status);
  }
  return e;
}

struct ChildProcess::State {
  State(boost::asio::io_context& io, int pidfd, int out) : exit_watch(io, pidfd), output(io) {
    if (out >= 0) output.assign(out);
  }
  pid_t pid = -1;
  bool reaped = false;
  bool closed = false;  // the owner is gone: no more callbacks
  bool group = false;
  boost::asio::posix::stream_descriptor exit_watch;
  boost::asio::posix::stream_descriptor output;
  std::array<char, 4096> buf{};
  std::string partial;
  ExitFn on_exit;
  OutputFn on_output;

  void emit_lines(bool flush) {
    size_t nl;
    while ((nl = partial.find('\n')) != std::string::npos) {
      if (on_output && !closed) on_output(std::string_view(partial).substr(0, nl));
      partial.erase(0, nl + 1);
    }
    if ((flush || partial.size() > 16 * 1024) && !partial.empty()) {
      if (on_output && !closed) on_output(partial);
      partial.clear();
    }
  }
  static void read(const std::shared_ptr<State>& s) {
    if (!s->output.is_open()) return;
    s->output.async_read_some(boost::asio::buffer(s->buf), [s](const boost::system::error_code& ec, size_t n) {
      if (ec || s->closed) return;
      s->partial.append(s->buf.data(), n);
      s->emit_lines(false);
      read(s);
    });
  }
  void drain_output() {
    if (!output.is_open()) return;
    int fd = output.native_handle();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    ssize_t n;
    // The writer may have left children holding the pipe: bounded.
    for (int i = 0; i < 64 && (n = ::read(fd, buf.data(), buf.size())) > 0; ++i) partial.append(buf.data(), size_t(n));
    emit_lines(true);
  }
  void reap() {
    if (reaped) return;
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    reaped = true;
    drain_output();
    boost::system::error_code ignored;
    output.close(ignored);
    exit_watch.close(ignored);
    if (!closed && on_exit) {
      auto fn = std::move(on_exit);
      fn(ExitStatus::from_wait_status(status));
    }
  }
};

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(boost::asio::io_context& io, const SpawnSpec& spec,
                                                          ExitFn on_exit, OutputFn on_output) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return make_error(std::string("cannot create a pipe: ") + strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  // dup2 onto the same number clears close-on-exec (glibc >= 2.29).
  int first_free = 3;
  for (auto [parent, child] : spec.fds) {
    posix_spawn_file_actions_adddup2(&fa, parent, child);
    first_free = std::max(first_free, child + 1);
  }
  // Nothing else of ours reaches the child: not every descriptor is
  // close-on-exec (asio opens its sockets without SOCK_CLOEXEC), and a child
  // that outlives uplinkd (a wireguard-go after kill -9) holding the control
  // socket's listening descriptor would make the next start refuse to run.
  posix_spawn_file_actions_addclosefrom_np(&fa, first_free);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (spec.own_process_group) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  posix_spawnattr_setflags(&attr, flags);

  std::vector<std::string> argv_s{spec.path};
  argv_s.insert(argv_s.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  std::vector<char*> envp;
  if (spec.env) {
    env_s = *spec.env;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  pid_t pid = 0;
  int rc = posix_spawn(&pid, spec.path.c_str(), &fa, &attr, argv.data(), spec.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return make_error("cannot start " + spec.path + ": " + strerror(rc));
  }
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(pipefd[0]);
    return make_error(std::string("pidfd_open failed (") + strerror(err) + "): cannot watch " + spec.path);
  }
  auto s = std::make_shared<State>(io, pidfd, pipefd[0]);
  s->pid = pid;
  s->group = spec.own_process_group;
  s->on_exit = std::move(on_exit);
  s->on_output = std::move(on_output);
  State::read(s);
  s->exit_watch.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [s](const boost::system::error_code& ec) {
                             if (!ec && !s->closed) s->reap();
                           });
  return std::unique_ptr<ChildProcess>(new ChildProcess(std::move(s)));
}

ChildProcess::~ChildProcess() {
  s_->closed = true;
  if (!s_->reaped) {
    if (s_->group) ::kill(-s_->pid, SIGKILL);
    ::kill(s_->pid, SIGKILL);
    s_->reap();  // on_exit does not run: closed
  }
  boost::system::error_code ignored;
  s_->exit_watch.close(ignored);
  s_->output.close(ignored);
}

pid_t ChildProcess::pid() const { return s_->pid; }
bool ChildProcess::running() const { return !s_->reaped; }
bool ChildProcess::signal(int sig) { return !s_->reaped && ::kill(s_->pid, sig) == 0; }
bool ChildProcess::signal_group(int sig) {
  if (s_->reaped) return false;
  return ::kill(s_->group ? -s_->pid : s_->pid, sig) == 0;
}

}  // namespace uplink
