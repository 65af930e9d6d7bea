#include "linkemu/control_server.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/units.h"
#include "linkemu/command.h"

namespace uplink::linkemu {

namespace {

nlohmann::json to_json(const DirectionStats& s) {
  const LinkParams& p = s.params;
  return {
      {"delay_ms", to_ms(p.delay)},
      {"jitter_ms", to_ms(p.jitter)},
      {"reorder", p.reorder},
      {"loss_pct", p.loss_pct},
      {"burst", p.burst},
      {"rate_kbit", p.rate_kbit},
      {"queue_bytes", p.queue_bytes},
      {"rate_burst_bytes", p.rate_burst_bytes},
      {"blackhole", p.blackhole},
      {"frames_in", s.model.frames_in},
      {"bytes_in", s.model.bytes_in},
      {"lost", s.model.lost},
      {"queue_drops", s.model.queue_drops},
      {"blackholed", s.model.blackholed},
      {"sent", s.sent},
      {"send_errors", s.send_errors},
      {"flushed", s.flushed},
      {"queued", s.queued},
  };
}

bool fill_addr(const std::string& path, sockaddr_un& a) {
  a = {};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) return false;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

std::string handle_request(const std::string& line, Direction& a2b, Direction& b2a) {
  auto cmd = parse_command(line);
  if (!cmd.ok()) return "error: " + cmd.error().message;
  Direction* dirs[2] = {cmd->a2b ? &a2b : nullptr, cmd->b2a ? &b2a : nullptr};
  switch (cmd->op) {
    case Command::Op::show:
      return nlohmann::json{{"a2b", to_json(a2b.stats())}, {"b2a", to_json(b2a.stats())}}.dump();
    case Command::Op::flush:
      for (auto* d : dirs)
        if (d) d->request_flush();
      return "ok";
    case Command::Op::clear:
      for (auto* d : dirs)
        if (d) d->set_params(LinkParams{});
      return "ok";
    case Command::Op::set:
      for (auto* d : dirs) {
        if (!d) continue;
        auto p = apply_settings(d->params(), cmd->settings);
        if (!p.ok()) return "error: " + p.error().message;  // validated by parse_command already
        d->set_params(*p);
      }
      return "ok";
  }
  return "error: unreachable";
}

Result<void> serve_control(const std::string& path, Direction& a2b, Direction& b2a) {
  auto log = get_logger("linkemu");
  sockaddr_un addr;
  if (!fill_addr(path, addr)) return make_error("control socket path too long: " + path);
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) return make_error(std::string("control socket: ") + std::strerror(errno));
  ::unlink(path.c_str());
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 || ::listen(lfd, 16) < 0) {
    int e = errno;
    ::close(lfd);
    return make_error("control socket " + path + ": " + std::strerror(e));
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);

  pollfd fds[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    int c = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    // A bounded read: a client that never sends its line cannot wedge the server.
    timeval tv{1, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string line;
    char buf[512];
    while (line.find('\n') == std::string::npos && line.size() < 4096) {
      ssize_t n = ::read(c, buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    if (auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    std::string reply = handle_request(line, a2b, b2a) + "\n";
    if (reply.rfind("error", 0) == 0) log->warn("control: '{}': {}", line, reply.substr(0, reply.size() - 1));
    else if (line.rfind("show", 0) != 0) log->info("control: {}", line);
    (void)!::write(c, reply.data(), reply.size());
    ::close(c);
  }
  ::close(sfd);
  ::close(lfd);
  ::unlink(path.c_str());
  return {};
}

int control_client(const std::string& path, const std::string& request) {
  sockaddr_un addr;
  if (!fill_addr(path, addr)) {
    std::fprintf(stderr, "linkemu ctl: path too long: %s\n", path.c_str());
    return 2;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    std::fprintf(stderr, "linkemu ctl: cannot connect to %s: %s (is linkemu running?)\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string req = request + "\n";
  (void)!::write(fd, req.data(), req.size());
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  std::fputs(reply.c_str(), stdout);
  if (reply.empty()) {
    std::fprintf(stderr, "linkemu ctl: no reply from %s\n", path.c_str());
    return 1;
  }
  return reply.rfind("error", 0) == 0 ? 1 : 0;
}

}  // namespace uplink::linkemu
