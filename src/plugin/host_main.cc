// uplink-plugin-host: runs ONE plugin in its own process (ARCHITECTURE.md §1).
//
//   uplink-plugin-host --plugin PATH --fd N [--name NAME] [--user USER]
//                      [--memory-max BYTES] [--cpu-seconds-max S] [--nice N]
//
//   uplinkd ==socketpair fd N==> this process: one thread, one poll() loop
//     read frames -> Samples: plugin->on_samples(batch)
//                    Ping: answered only here, between plugin calls, so a
//                          plugin stuck in a call misses its heartbeat
//                    LoadModel, Connectivity, Shutdown
//     plugin->poll() every 100 ms
//     host->publish() -> Message frames, buffered (bounded) towards uplinkd
//
// Order at start: limits (setrlimit fallback), privileges dropped, then wait
// for Init (uplinkd has put us into our cgroup by then), then dlopen and the
// ABI checks, then create(). Any failure before Ready is sent as one Fatal
// frame {reason, message} and the process exits with a code per reason
// (kExit*), so uplinkd can tell "wrong ABI" from "crashed".
#include <dlfcn.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "plugin/host_exit.h"
#include "plugin/ipc.h"
#include "uplink/plugin.h"

namespace ipc = uplink::plugin::ipc;
using namespace uplink::plugin;

namespace {

constexpr size_t kOutBufferMax = 8u << 20;  // publish() answers EFULL beyond this
constexpr int kPollIntervalMs = 100;

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t wall_ns_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Host {
  int fd = -1;
  std::string out;               // frames waiting to be written
  ipc::FrameDecoder in;
  std::string name;
  std::string default_class;
  void* dl = nullptr;
  const uplink_plugin* table = nullptr;
  void* instance = nullptr;
  bool in_plugin_call = false;
  ipc::Stats stats;
  uplink_host api{};
  // Scratch for one batch of samples (names NUL-terminated in `names`).
  std::vector<uplink_sample> batch;
  std::string names;
  std::vector<size_t> name_offsets;
};

Host g;

// Writes what it can without blocking; returns false when the peer is gone.
bool flush_some() {
  while (!g.out.empty()) {
    ssize_t n = ::send(g.fd, g.out.data(), g.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      g.out.erase(0, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
  return true;
}

// Blocking write of everything (start-up and the last words before exit).
void flush_all(int timeout_ms) {
  auto deadline = mono_ns() + int64_t(timeout_ms) * 1000000;
  while (!g.out.empty() && mono_ns() < deadline) {
    if (!flush_some()) return;
    if (g.out.empty()) return;
    pollfd p{g.fd, POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
}

[[noreturn]] void die(HostExit code, const char* reason, const std::string& message) {
  std::fprintf(stderr, "uplink-plugin-host %s: %s: %s\n", g.name.c_str(), reason, message.c_str());
  if (g.fd >= 0) {
    ipc::encode_fatal(g.out, ipc::Fatal{reason, message});
    flush_all(1000);
  }
  std::_Exit(int(code));
}

void host_log_line(int level, const std::string& text) {
  if (level < 0) level = 0;
  if (level > 4) level = 4;
  ipc::encode_log(g.out, uint8_t(level), text.size() > 8192 ? text.substr(0, 8192) : text);
}

// ---- the table given to the plugin ------------------------------------
int api_publish(const uplink_host*, const char* msg_class, const char* topic, const void* payload, size_t size) {
  if (!topic || !*topic || (size > 0 && !payload) || size > UPLINK_MAX_PAYLOAD) {
    ++g.stats.messages_refused;
    return UPLINK_EINVAL;
  }
  size_t tlen = std::strlen(topic);
  size_t clen = msg_class ? std::strlen(msg_class) : 0;
  if (tlen > UPLINK_MAX_TOPIC || clen > UPLINK_MAX_TOPIC) {
    ++g.stats.messages_refused;
    return UPLINK_EINVAL;
  }
  if (g.out.size() > kOutBufferMax) {
    // The daemon is not reading fast enough: try to drain before refusing.
    flush_some();
    if (g.out.size() > kOutBufferMax) {
      ++g.stats.messages_refused;
      return UPLINK_EFULL;
    }
  }
  ipc::encode_message(g.out, std::string_view(msg_class ? msg_class : "", clen), std::string_view(topic, tlen),
                      std::string_view(static_cast<const char*>(payload), size));
  ++g.stats.messages;
  if (g.out.size() > 256 * 1024) flush_some();
  return UPLINK_OK;
}
void api_log(const uplink_host*, int level, const char* message) { host_log_line(level, message ? message : ""); }
int64_t api_monotonic(const uplink_host*) { return mono_ns(); }
int64_t api_wall(const uplink_host*) { return wall_ns_now(); }

// ---- a crash near the memory limit --------------------------------------
// Under the rlimit fallback an allocation beyond memory_max fails and the
// plugin usually dies of SIGSEGV/SIGABRT. The handler tells uplinkd that this
// was memory (one Fatal frame, written with async-signal-safe calls only),
// then dies of the same signal. Best effort: a frame half-written at that
// moment garbles it, and uplinkd then just sees a crash.
uint64_t g_memory_max = 0;
char g_altstack[64 * 1024];

size_t put_u64(char* p, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do tmp[n++] = char('0' + v % 10);
  while ((v /= 10) != 0);
  for (size_t i = 0; i < n; ++i) p[i] = tmp[n - 1 - i];
  return n;
}

void crash_handler(int sig) {
  int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    // statm: size resident shared text lib data dt (pages); data is field 6.
    uint64_t fields[7] = {0};
    int f = 0;
    for (ssize_t i = 0; i < n && f < 7; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') fields[f] = fields[f] * 10 + uint64_t(buf[i] - '0');
      else if (buf[i] == ' ') ++f;
    }
    uint64_t data = fields[5] * uint64_t(sysconf(_SC_PAGESIZE));
    if (n > 0 && data >= g_memory_max / 100 * 85) {
      char msg[160];
      size_t m = 0;
      const char a[] = "allocation failed at the memory limit: data size ";
      memcpy(msg + m, a, sizeof a - 1), m += sizeof a - 1;
      m += put_u64(msg + m, data >> 20);
      const char b[] = " MiB of memory_max ";
      memcpy(msg + m, b, sizeof b - 1), m += sizeof b - 1;
      m += put_u64(msg + m, g_memory_max >> 20);
      memcpy(msg + m, " MiB", 4), m += 4;
      char frame[256];
      uint32_t body = uint32_t(1 + 2 + 6 + 4 + m);
      uint16_t rlen = 6;
      uint32_t mlen = uint32_t(m);
      size_t o = 0;
      memcpy(frame + o, &body, 4), o += 4;
      frame[o++] = char(ipc::Type::fatal);
      memcpy(frame + o, &rlen, 2), o += 2;
      memcpy(frame + o, "memory", 6), o += 6;
      memcpy(frame + o, &mlen, 4), o += 4;
      memcpy(frame + o, msg, m), o += m;
      ssize_t w = ::send(g.fd, frame, o, MSG_NOSIGNAL);
      (void)w;
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_handler(uint64_t memory_max) {
  if (memory_max == 0) return;
  g_memory_max = memory_max;
  stack_t ss{};
  ss.ss_sp = g_altstack;
  ss.ss_size = sizeof g_altstack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = crash_handler;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS}) sigaction(sig, &sa, nullptr);
}

// ---- start-up -----------------------------------------------------------
void apply_limits(uint64_t memory_max, uint64_t cpu_seconds, int nice_value) {
  // One malloc arena: thread arenas reserve 64 MiB of address space each,
  // which an address-space limit would count.
  mallopt(M_ARENA_MAX, 1);
  if (memory_max > 0) {
    rlimit rl{rlim_t(memory_max), rlim_t(memory_max)};
    if (setrlimit(RLIMIT_DATA, &rl) != 0) die(HostExit::limits, "limits", std::string("setrlimit(RLIMIT_DATA): ") + strerror(errno));
  }
  if (cpu_seconds > 0) {
    rlimit rl{rlim_t(cpu_seconds), rlim_t(cpu_seconds + 5)};
    if (setrlimit(RLIMIT_CPU, &rl) != 0) die(HostExit::limits, "limits", std::string("setrlimit(RLIMIT_CPU): ") + strerror(errno));
  }
  if (nice_value != 0) {
    errno = 0;
    if (nice(nice_value) == -1 && errno != 0)
      die(HostExit::limits, "limits", std::string("nice: ") + strerror(errno));
  }
}

void drop_privileges(const std::string& user) {
  if (user.empty()) return;
  errno = 0;
  passwd* pw = getpwnam(user.c_str());
  if (!pw) die(HostExit::privileges, "privileges", "unknown user '" + user + "'");
  if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
    die(HostExit::privileges, "privileges", "cannot become '" + user + "': " + strerror(errno));
  if (setuid(0) == 0 && pw->pw_uid != 0) die(HostExit::privileges, "privileges", "could regain root after dropping it");
}

ipc::Init wait_init() {
  for (;;) {
    if (auto f = g.in.next()) {
      if (f->type == ipc::Type::shutdown) std::_Exit(0);
      if (f->type != ipc::Type::init)
        die(HostExit::protocol, "protocol", "expected init, got " + std::string(ipc::type_name(f->type)));
      auto init = ipc::decode_init(f->payload);
      if (!init) die(HostExit::protocol, "protocol", init.error().message);
      return *init;
    }
    if (g.in.failed()) die(HostExit::protocol, "protocol", g.in.error());
    char buf[65536];
    ssize_t n = ::recv(g.fd, buf, sizeof buf, 0);
    if (n == 0) std::_Exit(0);  // the daemon went away before we started
    if (n < 0) {
      if (errno == EINTR) continue;
      die(HostExit::protocol, "protocol", std::string("read: ") + strerror(errno));
    }
    g.in.append(buf, size_t(n));
  }
}

void load_plugin(const std::string& path) {
  g.dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!g.dl) {
    const char* e = dlerror();
    die(HostExit::dlopen, "dlopen", std::string("cannot load ") + path + ": " + (e ? e : "unknown error"));
  }
  dlerror();
  void* sym = dlsym(g.dl, UPLINK_PLUGIN_ENTRY_SYMBOL);
  if (!sym)
    die(HostExit::abi, "abi", path + " does not export " UPLINK_PLUGIN_ENTRY_SYMBOL " (not an uplinkd plugin, or built without UPLINK_PLUGIN_EXPORT)");
  auto entry = reinterpret_cast<uplink_plugin_entry_fn>(sym);
  const uplink_plugin* t = entry();
  if (!t) die(HostExit::abi, "abi", path + ": " UPLINK_PLUGIN_ENTRY_SYMBOL "() returned NULL");
  if (t->abi_version != UPLINK_PLUGIN_ABI_VERSION)
    die(HostExit::abi, "abi",
        path + " is built for plugin ABI version " + std::to_string(t->abi_version) + ", this host speaks version " +
            std::to_string(UPLINK_PLUGIN_ABI_VERSION) + ": rebuild it against this uplink/plugin.h");
  if (t->struct_size < UPLINK_PLUGIN_MIN_SIZE)
    die(HostExit::abi, "abi",
        path + ": plugin table is " + std::to_string(t->struct_size) + " bytes, smaller than the " +
            std::to_string(UPLINK_PLUGIN_MIN_SIZE) + " bytes of ABI version 1");
  const char* missing = !t->create ? "create" : !t->destroy ? "destroy" : !t->on_samples ? "on_samples" : nullptr;
  if (missing) die(HostExit::abi, "abi", path + ": required function " + missing + " is NULL");
  g.table = t;
}

// ---- the loop -----------------------------------------------------------
void answer_buffered_pings();

// Between two calls into the plugin: read what uplinkd sent meanwhile and
// answer its heartbeats, so a long batch of a slow plugin is not a hang.
int64_t g_last_check = 0;
void check_heartbeats_between_calls() {
  int64_t now = mono_ns();
  if (now - g_last_check < 50 * 1000000) return;
  g_last_check = now;
  char buf[65536];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(g.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    g.in.append(buf, size_t(n));
  }
  answer_buffered_pings();
  flush_some();
}

constexpr size_t kSamplesPerCall = 256;

void deliver_samples(std::string_view payload) {
  g.batch.clear();
  g.names.clear();
  g.name_offsets.clear();
  auto r = ipc::for_each_sample(payload, [](std::string_view stream, double ts, double value) {
    g.name_offsets.push_back(g.names.size());
    g.names.append(stream);
    g.names.push_back('\0');
    g.batch.push_back(uplink_sample{nullptr, ts, value});
  });
  if (!r) die(HostExit::protocol, "protocol", r.error().message);
  // `payload` is not used below: the decoder may take more bytes now.
  for (size_t i = 0; i < g.batch.size(); ++i) g.batch[i].stream = g.names.data() + g.name_offsets[i];
  for (size_t off = 0; off < g.batch.size(); off += kSamplesPerCall) {
    size_t n = std::min(kSamplesPerCall, g.batch.size() - off);
    int rc = g.table->on_samples(g.instance, g.batch.data() + off, n);
    g.stats.samples += n;
    if (rc != UPLINK_OK) ++g.stats.sample_errors;
    check_heartbeats_between_calls();
  }
}

void handle(const ipc::FrameDecoder::View& f) {
  switch (f.type) {
    case ipc::Type::samples: deliver_samples(f.payload); break;
    case ipc::Type::ping: {
      auto seq = ipc::decode_ping(f.payload);
      if (!seq) die(HostExit::protocol, "protocol", seq.error().message);
      ipc::encode_pong(g.out, *seq);
      ipc::encode_stats(g.out, g.stats);
      break;
    }
    case ipc::Type::connectivity: {
      auto on = ipc::decode_connectivity(f.payload);
      if (!on) die(HostExit::protocol, "protocol", on.error().message);
      if (g.table->on_connectivity) g.table->on_connectivity(g.instance, *on ? UPLINK_ONLINE : UPLINK_OFFLINE);
      break;
    }
    case ipc::Type::load_model: {
      auto m = ipc::decode_load_model(f.payload);
      if (!m) die(HostExit::protocol, "protocol", m.error().message);
      ipc::ModelResult res{m->id, UPLINK_ENOTSUP, "the plugin takes no model (load_model is NULL)"};
      if (g.table->load_model) {
        char msg[1024] = {0};
        res.code = g.table->load_model(g.instance, m->path.c_str(), msg, sizeof msg);
        msg[sizeof msg - 1] = '\0';
        res.message = msg;
      }
      ipc::encode_model_result(g.out, res);
      break;
    }
    case ipc::Type::shutdown:
      g.table->destroy(g.instance);
      g.instance = nullptr;
      ipc::encode_stats(g.out, g.stats);
      flush_all(1000);
      std::_Exit(0);
    default:
      die(HostExit::protocol, "protocol", "unexpected frame " + std::string(ipc::type_name(f.type)) + " from uplinkd");
  }
}

// Heartbeats found anywhere in what is buffered are answered first: the
// plugin is not in a call right now, so it is alive, even if samples queued
// before the Ping will keep it busy for a while.
uint64_t g_answered = 0;
void answer_buffered_pings() {
  g.in.peek_all([](ipc::Type t, std::string_view p) {
    if (t != ipc::Type::ping) return;
    auto seq = ipc::decode_ping(p);
    if (seq && *seq > g_answered) {
      g_answered = *seq;
      ipc::encode_pong(g.out, *seq);
      ipc::encode_stats(g.out, g.stats);
    }
  });
}

void run() {
  std::vector<char> buf(256 * 1024);
  int64_t next_poll = mono_ns() + int64_t(kPollIntervalMs) * 1000000;
  for (;;) {
    answer_buffered_pings();
    // Frames already buffered, for at most 50 ms, then back to the socket
    // (new heartbeats) and poll().
    int64_t budget_end = mono_ns() + 50 * 1000000;
    bool more = false;
    while (auto f = g.in.next()) {
      if (f->type == ipc::Type::ping) {
        auto seq = ipc::decode_ping(f->payload);
        if (seq && *seq <= g_answered) continue;  // answered ahead of the queue
        if (seq) g_answered = *seq;
      }
      handle(*f);
      if (mono_ns() >= budget_end) {
        more = true;
        break;
      }
    }
    if (g.in.failed()) die(HostExit::protocol, "protocol", g.in.error());
    if (!flush_some()) break;

    int64_t now = mono_ns();
    if (now >= next_poll) {
      if (g.table->poll) g.table->poll(g.instance);
      next_poll = now + int64_t(kPollIntervalMs) * 1000000;
    }
    int wait_ms = more ? 0 : int(std::max<int64_t>(0, (next_poll - now) / 1000000));
    pollfd p{g.fd, short(POLLIN | (g.out.empty() ? 0 : POLLOUT)), 0};
    int rc = ::poll(&p, 1, wait_ms);
    if (rc < 0 && errno != EINTR) die(HostExit::protocol, "protocol", std::string("poll: ") + strerror(errno));
    if (rc <= 0) continue;
    if (p.revents & POLLIN) {
      ssize_t n = ::recv(g.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) break;  // uplinkd closed its end: stop cleanly
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (n > 0) g.in.append(buf.data(), size_t(n));
    } else if (p.revents & (POLLHUP | POLLERR)) {
      break;
    }
  }
  if (g.instance) g.table->destroy(g.instance);
  std::_Exit(0);
}

void usage() {
  std::fprintf(stderr,
               "usage: uplink-plugin-host --plugin PATH --fd N [--name NAME] [--user USER]\n"
               "                          [--memory-max BYTES] [--cpu-seconds-max S] [--nice N]\n");
  std::exit(int(HostExit::usage));
}

}  // namespace

int main(int argc, char** argv) {
  std::string path, user;
  uint64_t memory_max = 0, cpu_seconds = 0;
  int nice_value = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    try {
      if (a == "--plugin") path = val();
      else if (a == "--fd") g.fd = std::stoi(val());
      else if (a == "--name") g.name = val();
      else if (a == "--user") user = val();
      else if (a == "--memory-max") memory_max = std::stoull(val());
      else if (a == "--cpu-seconds-max") cpu_seconds = std::stoull(val());
      else if (a == "--nice") nice_value = std::stoi(val());
      else usage();
    } catch (const std::exception&) {
      usage();
    }
  }
  if (path.empty() || g.fd < 0) usage();
  if (fcntl(g.fd, F_GETFD) < 0) {
    std::fprintf(stderr, "uplink-plugin-host: --fd %d is not open\n", g.fd);
    return int(HostExit::usage);
  }
  fcntl(g.fd, F_SETFD, FD_CLOEXEC);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive uplinkd
  if (getppid() == 1) return 0;      // it is already gone
  signal(SIGPIPE, SIG_IGN);
  if (g.name.empty()) g.name = path;

  apply_limits(memory_max, cpu_seconds, nice_value);
  install_crash_handler(memory_max);
  drop_privileges(user);
  auto init = wait_init();
  g.name = init.name;
  g.default_class = init.default_class;
  load_plugin(path);

  g.api.abi_version = UPLINK_PLUGIN_ABI_VERSION;
  g.api.struct_size = sizeof(uplink_host);
  g.api.plugin_name = g.name.c_str();
  g.api.publish = api_publish;
  g.api.log = api_log;
  g.api.monotonic_ns = api_monotonic;
  g.api.wall_ns = api_wall;
  g.api.host_data = &g;

  char err[1024] = {0};
  g.instance = g.table->create(&g.api, init.config_json.c_str(), err, sizeof err);
  err[sizeof err - 1] = '\0';
  if (!g.instance) die(HostExit::create, "create", err[0] ? err : "create() returned NULL without a message");
  ipc::encode_ready(g.out, ipc::Ready{g.table->name ? g.table->name : "", g.table->version ? g.table->version : ""});
  flush_some();
  run();
}
