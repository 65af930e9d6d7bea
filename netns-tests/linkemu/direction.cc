#include "linkemu/direction.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace uplink::linkemu {

namespace {
constexpr size_t kMaxFrame = 65536 + 64;  // a GSO frame plus the virtio-net header
constexpr int kBatch = 64;                // frames read per wake-up before releasing due ones
}  // namespace

Direction::Direction(std::string name, FramePort& in, FramePort& out, uint64_t seed)
    : name_(std::move(name)), in_(in), out_(out), model_(seed), rxbuf_(kMaxFrame) {}

Direction::~Direction() {
  stop();
  if (timer_fd_ >= 0) ::close(timer_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Result<void> Direction::start() {
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (timer_fd_ < 0 || wake_fd_ < 0) {
    return make_error("direction " + name_ + ": timerfd/eventfd: " + std::strerror(errno));
  }
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return {};
}

void Direction::stop() {
  if (!running_.exchange(false)) return;
  wake();
  if (thread_.joinable()) thread_.join();
}

void Direction::wake() {
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

void Direction::set_params(const LinkParams& p) {
  std::lock_guard lk(mu_);
  model_.set_params(p);
}

LinkParams Direction::params() const {
  std::lock_guard lk(mu_);
  return model_.params();
}

void Direction::request_flush() {
  flush_ = true;
  wake();
}

DirectionStats Direction::stats() const {
  DirectionStats s;
  {
    std::lock_guard lk(mu_);
    s.params = model_.params();
    s.model = model_.counters();
  }
  s.sent = sent_;
  s.send_errors = send_errors_;
  s.flushed = flushed_;
  s.queued = queued_;
  return s;
}

void Direction::run() {
  // Timer slack defaults to 50 us; the line's delay accuracy is the timer's.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  auto log = get_logger("linkemu");
  pollfd fds[3] = {{in_.fd(), POLLIN, 0}, {timer_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  while (running_) {
    arm_timer();
    int n = ::poll(fds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log->error("direction {}: poll failed: {}; direction stops", name_, std::strerror(errno));
      break;
    }
    uint64_t drain;
    if (fds[1].revents) {
      (void)!::read(timer_fd_, &drain, sizeof(drain));
      armed_for_ = TimePoint::max();
    }
    if (fds[2].revents) (void)!::read(wake_fd_, &drain, sizeof(drain));
    if (flush_.exchange(false)) {
      flushed_ += queue_.size();
      queue_.clear();
    }
    if (fds[0].revents) drain_input();
    release_due();
    queued_ = queue_.size();
  }
}

void Direction::drain_input() {
  std::vector<uint8_t>& buf = rxbuf_;
  const size_t hdr = in_.header_bytes();
  for (int i = 0; i < kBatch; ++i) {
    auto r = in_.receive(buf.data(), buf.size());
    if (!r.ok()) {
      get_logger("linkemu")->warn("direction {}: {}; frame skipped", name_, r.error().message);
      return;
    }
    size_t len = *r;
    if (len == 0) return;
    TimePoint now = SteadyClock::now();
    Verdict v;
    {
      std::lock_guard lk(mu_);
      v = model_.on_frame(now, len > hdr ? len - hdr : 0);
    }
    if (v.kind != Verdict::Kind::forward) continue;
    queue_.push(v.depart, std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(len)));
    // Zero-delay frames leave at once, keeping the line's added latency minimal.
    if (v.depart <= now) release_due();
  }
}

void Direction::release_due() {
  TimePoint now = SteadyClock::now();
  while (auto frame = queue_.pop_due(now)) {
    auto r = out_.send(frame->data(), frame->size());
    if (r.ok()) {
      ++sent_;
    } else {
      // Expected while the far side is down (carrier-down): the frame is lost, as on a cut wire.
      ++send_errors_;
    }
  }
}

void Direction::arm_timer() {
  TimePoint due = queue_.next_due();
  if (due == armed_for_) return;
  itimerspec its{};
  if (due != TimePoint::max()) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count();
    if (ns <= 0) ns = 1;
    its.it_value.tv_sec = ns / 1000000000;
    its.it_value.tv_nsec = ns % 1000000000;
  }
  // Disarms when the queue is empty (it_value zero).
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  armed_for_ = due;
}

}  // namespace uplink::linkemu
