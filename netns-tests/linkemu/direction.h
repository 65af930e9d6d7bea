#pragma once
// One direction of the line: a thread that reads frames from `in`, asks the
// LinkModel for a verdict, keeps forwarded frames in a time-ordered queue and
// writes them to `out` when due. It sleeps in poll() on the input socket and a
// timerfd armed (absolute CLOCK_MONOTONIC, 1 ns timer slack) for the head of the
// queue: no busy polling, sub-millisecond release accuracy.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "linkemu/frame_port.h"
#include "linkemu/link_model.h"
#include "linkemu/timed_queue.h"

namespace uplink::linkemu {

struct DirectionStats {
  LinkParams params;
  LinkCounters model;
  uint64_t sent = 0;
  uint64_t send_errors = 0;
  uint64_t flushed = 0;
  uint64_t queued = 0;
};

class Direction {
 public:
  Direction(std::string name, FramePort& in, FramePort& out, uint64_t seed);
  ~Direction();
  Direction(const Direction&) = delete;
  Direction& operator=(const Direction&) = delete;

  Result<void> start();
  void stop();

  void set_params(const LinkParams& p);
  LinkParams params() const;
  void request_flush();
  DirectionStats stats() const;
  const std::string& name() const { return name_; }

 private:
  void run();
  void drain_input();
  void release_due();
  void arm_timer();
  void wake();

  std::string name_;
  FramePort& in_;
  FramePort& out_;
  mutable std::mutex mu_;  // guards model_ (the control thread changes it)
  LinkModel model_;
  TimedQueue<std::vector<uint8_t>> queue_;  // only the direction thread touches it
  std::vector<uint8_t> rxbuf_;
  int timer_fd_ = -1;
  int wake_fd_ = -1;
  TimePoint armed_for_ = TimePoint::max();
  std::atomic<bool> running_{false};
  std::atomic<bool> flush_{false};
  std::atomic<uint64_t> sent_{0}, send_errors_{0}, flushed_{0}, queued_{0};
  std::thread thread_;
};

}  // namespace uplink::linkemu
