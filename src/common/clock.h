#pragma once
// Time is injected: every state machine takes a TimeSource, so unit tests run
// on FakeTimeSource (advance by hand, no sleeps) and the daemon on AsioTimeSource.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace uplink {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Duration = std::chrono::nanoseconds;
using WallTime = std::chrono::system_clock::time_point;

// A one-shot timer. arm() replaces any pending callback; cancel() and the
// destructor guarantee the callback will not run afterwards.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void arm(Duration after, std::function<void()> cb) = 0;
  virtual void cancel() = 0;
  virtual bool armed() const = 0;
};

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual TimePoint now() const = 0;
  virtual WallTime wall_now() const = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
};

// Real time, timers on an io_context (all callbacks run on its thread).
class AsioTimeSource final : public TimeSource {
 public:
  explicit AsioTimeSource(boost::asio::io_context& io) : io_(io) {}
  TimePoint now() const override { return SteadyClock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  std::unique_ptr<Timer> make_timer() override;

 private:
  boost::asio::io_context& io_;
};

// Fake time for tests. Timers fire only inside advance()/run_until(), in
// deadline order (ties in arming order), with now() set to their deadline.
class FakeTimeSource final : public TimeSource {
 public:
  FakeTimeSource();
  ~FakeTimeSource() override;
  TimePoint now() const override { return now_; }
  WallTime wall_now() const override;
  std::unique_ptr<Timer> make_timer() override;

  void advance(Duration d);
  void run_until(TimePoint t);
  // Fires every timer due now (e.g. a zero-delay arm) without moving time.
  void run_due() { run_until(now_); }
  size_t pending() const { return queue_.size(); }
  // Deadline of the earliest pending timer, or TimePoint::max() when none.
  TimePoint next_deadline() const;

 private:
  friend class FakeTimer;
  struct Key {
    TimePoint when;
    uint64_t seq;
    bool operator<(const Key& o) const { return when != o.when ? when < o.when : seq < o.seq; }
  };
  Key schedule(TimePoint when, class FakeTimer* t);
  void unschedule(const Key& k) { queue_.erase(k); }

  TimePoint now_;
  WallTime wall_base_;
  TimePoint steady_base_;
  uint64_t seq_ = 0;
  std::map<Key, class FakeTimer*> queue_;
};

// ISO 8601 UTC with milliseconds: 2026-11-26T10:00:00.000Z
std::string format_wall_time(WallTime t);

}  // namespace uplink
