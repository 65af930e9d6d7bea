#include "common/clock.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <ctime>
#include <cstdio>

namespace uplink {

namespace {

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(boost::asio::io_context& io) : timer_(io) {}
  ~AsioTimer() override {
    *alive_ = false;  // a completion already queued must not touch *this
    cancel();
  }

  void arm(Duration after, std::function<void()> cb) override {
    cancel();
    // The generation guards against a completion that was already queued
    // when cancel() ran: only the latest arm may fire.
    uint64_t gen = ++generation_;
    armed_ = true;
    cb_ = std::move(cb);
    timer_.expires_after(after);
    timer_.async_wait([this, gen, alive = alive_](const boost::system::error_code& ec) {
      if (ec || !*alive || gen != generation_) return;
      armed_ = false;
      auto cb = std::move(cb_);
      cb_ = nullptr;
      if (cb) cb();
    });
  }
  void cancel() override {
    ++generation_;
    armed_ = false;
    cb_ = nullptr;
    timer_.cancel();
  }
  bool armed() const override { return armed_; }

 private:
  boost::asio::steady_timer timer_;
  std::function<void()> cb_;
  uint64_t generation_ = 0;
  bool armed_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<Timer> AsioTimeSource::make_timer() { return std::make_unique<AsioTimer>(io_); }

class FakeTimer final : public Timer {
 public:
  explicit FakeTimer(FakeTimeSource& src) : src_(src) {}
  ~FakeTimer() override { cancel(); }
  void arm(Duration after, std::function<void()> cb) override {
    cancel();
    cb_ = std::move(cb);
    key_ = src_.schedule(src_.now() + (after < Duration::zero() ? Duration::zero() : after), this);
    armed_ = true;
  }
  void cancel() override {
    if (armed_) src_.unschedule(key_);
    armed_ = false;
    cb_ = nullptr;
  }
  bool armed() const override { return armed_; }
  void fire() {
    armed_ = false;
    auto cb = std::move(cb_);
    cb_ = nullptr;
    if (cb) cb();
  }

 private:
  FakeTimeSource& src_;
  std::function<void()> cb_;
  FakeTimeSource::Key key_{};
  bool armed_ = false;
};

FakeTimeSource::FakeTimeSource()
    : now_(TimePoint{} + std::chrono::hours(1000)),
      wall_base_(std::chrono::sys_days{std::chrono::year{2026} / 11 / 26} + std::chrono::hours(10)),
      steady_base_(now_) {}

FakeTimeSource::~FakeTimeSource() = default;

WallTime FakeTimeSource::wall_now() const {
  return wall_base_ + std::chrono::duration_cast<WallTime::duration>(now_ - steady_base_);
}

std::unique_ptr<Timer> FakeTimeSource::make_timer() { return std::make_unique<FakeTimer>(*this); }

FakeTimeSource::Key FakeTimeSource::schedule(TimePoint when, FakeTimer* t) {
  Key k{when, seq_++};
  queue_.emplace(k, t);
  return k;
}

TimePoint FakeTimeSource::next_deadline() const {
  return queue_.empty() ? TimePoint::max() : queue_.begin()->first.when;
}

void FakeTimeSource::advance(Duration d) { run_until(now_ + d); }

void FakeTimeSource::run_until(TimePoint t) {
  while (!queue_.empty() && queue_.begin()->first.when <= t) {
    auto it = queue_.begin();
    FakeTimer* timer = it->second;
    now_ = it->first.when;
    queue_.erase(it);
    timer->fire();
  }
  if (t > now_) now_ = t;
}

std::string format_wall_time(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace uplink
