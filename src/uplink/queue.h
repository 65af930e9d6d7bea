#pragma once
// DurableQueue: the uplink's store-and-forward queue, on the io_context
// thread, with every disk access on a worker thread.
//
//   producer --push(msg, done)--> pending batch --(commit timer)--> worker: Store::commit (BEGIN..COMMIT, fsync)
//                                                                        |
//   producer <--done(id) , on_committed(msgs) --> Dispatcher  <--post----+  (results executor = io_context)
//   Dispatcher --ack(id)/drop(id)--> pending batch (deletes ride the next commit)
//
// sync = batch:  one commit every commit_interval (group commit); `done` after it.
// sync = always: a commit as soon as one is not already running; messages
//                that arrive meanwhile ride the next one; `done` after it.
// sync = never:  `done` at once; commits every commit_interval without fsync.
//
// Message ids come from the store's persistent counter: strictly increasing,
// across restarts, never reused (a failed commit leaves a gap).
//
// Failures never take stored messages with them: a full disk rolls the
// transaction back and refuses that batch's messages with an error (deletes
// are kept for the next commit); a store found corrupt is moved aside and a
// fresh one opened, with an alarm (on_alarm, alarm()).
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/worker.h"
#include "uplink/store.h"

namespace uplink {

enum class SyncMode { batch, always, never };
enum class DropCause { full, ttl, too_large, rejected };
inline constexpr DropCause kDropCauses[] = {DropCause::full, DropCause::ttl, DropCause::too_large, DropCause::rejected};
std::string_view to_string(SyncMode m);
std::optional<SyncMode> parse_sync_mode(std::string_view text);  // "batch" | "always" | "never"
std::string_view to_string(DropCause c);
// The refusal of a message whose payload + topic (`size`) is over max_message.
Error too_large_error(uint64_t size, uint64_t max_message);

struct QueueClass {
  std::string name;
  Duration ttl = std::chrono::hours(24 * 7);
  friend bool operator==(const QueueClass&, const QueueClass&) = default;
};

struct QueueOptions {
  std::string dir = "/var/lib/uplinkd/queue";
  uint64_t max_size = 256ull << 20;
  uint64_t max_message = 256 << 10;     // payload + topic
  SyncMode sync = SyncMode::batch;
  Duration commit_interval = std::chrono::milliseconds(10);
  Duration sweep_interval = std::chrono::seconds(1);  // TTL expiry and rate sampling
  std::vector<QueueClass> classes;      // most important first; at least one
  uint64_t max_pending_bytes = 32ull << 20;  // not yet handed to the store: beyond it producers are told "busy"
  uint32_t max_pages = 0;               // tests: simulate a full disk (SQLite max_page_count)
};

struct Message {
  std::string cls;                      // "" = the least important class
  std::string topic;                    // "" = the platform's default
  std::string payload;
  std::optional<Duration> ttl;          // shorter than the class TTL to matter
};

class DurableQueue {
 public:
  using Done = std::function<void(Result<uint64_t>)>;
  enum class State { opening, ready, failed };

  // `worker` runs the store (one job at a time, in order); `results` is the
  // io_context. Both must outlive the queue's jobs (stop the worker first).
  DurableQueue(TimeSource& time, Executor& worker, Executor& results, QueueOptions options);
  ~DurableQueue();
  DurableQueue(const DurableQueue&) = delete;
  DurableQueue& operator=(const DurableQueue&) = delete;

  // Opens the store on the worker; pushes made meanwhile wait for it.
  void start();
  // Hands what is pending to the worker as a last commit and closes the
  // store there. Producers still waiting get no answer (they were not acknowledged).
  void stop();

  // Returns the id the message got (0: refused, or waiting for the store to open);
  // `done` says when it is durable, or why it was refused.
  uint64_t push(Message m, Done done);
  // Delivered (PUBACK): removed at the next commit.
  void ack(uint64_t id);
  // Removed at the next commit and counted as a drop.
  void drop(uint64_t id, DropCause cause);
  // Up to `limit` stored messages of `cls` with id > after, oldest first (on the worker).
  void read(const std::string& cls, uint64_t after, size_t limit,
            std::function<void(Result<std::vector<StoredMessage>>)> done);

  // Listeners (io thread).
  std::function<void(std::vector<StoredMessage>&)> on_committed;      // just made durable, ascending ids
  std::function<void(const std::vector<uint64_t>&)> on_removed;       // gone from the store (delivered, dropped)
  std::function<void(const std::string&)> on_alarm;                   // store moved aside, disk full, open failed
  std::function<void()> on_ready;

  State state() const { return state_; }
  const std::string& state_error() const { return state_error_; }
  const QueueOptions& options() const { return opts_; }
  // The name a message with class "" gets, and whether a class exists.
  const std::string& default_class() const { return opts_.classes.back().name; }
  bool has_class(const std::string& name) const;
  // Class TTL and the per-message expiry folded together (wall ms); 0 = never.
  int64_t expiry_ms(const StoredMessage& m) const;
  const std::string& class_name(int code) const;

  struct ClassView {
    std::string name;
    uint64_t count = 0, bytes = 0;
    std::optional<Duration> oldest_age;
  };
  std::vector<ClassView> classes() const;
  uint64_t depth() const;
  uint64_t bytes() const;
  uint64_t dropped(DropCause c) const { return drops_.at(c); }
  uint64_t accepted() const { return accepted_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t commits() const { return commits_; }
  // Messages/s over the last ~10 s (in: accepted; out: delivered).
  double rate_in() const;
  double rate_out() const;
  // The last alarm ("" when none since start).
  const std::string& alarm() const { return alarm_; }
  bool disk_full() const { return disk_full_; }
  size_t pending() const { return batch_.inserts.size() + waiting_.size(); }

 private:
  struct Shared;  // what jobs on the worker touch
  struct Job;
  struct Sample {  // for the rates: the counters once per sweep
    TimePoint at;
    uint64_t in, out;
  };
  void on_open(Result<std::unique_ptr<Store>> store, const OpenReport& report, std::map<std::string, int> codes,
               std::map<int, ClassStats> stats, uint64_t next_id);
  uint64_t enqueue_ready(Message m, Done done);
  void schedule_commit();
  void commit_now();
  void on_commit(std::shared_ptr<Job> job);
  void sweep();
  void raise_alarm(const std::string& text);
  std::vector<int> priority() const;
  double rate(uint64_t Sample::*counter) const;

  TimeSource& time_;
  Executor& worker_;
  Executor& results_;
  QueueOptions opts_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  State state_ = State::opening;
  std::string state_error_;
  bool started_ = false, stopped_ = false;

  std::map<std::string, int> codes_;
  std::map<int, std::string> names_;
  std::map<int, ClassStats> stats_;
  uint64_t next_id_ = 1;

  std::vector<std::pair<Message, Done>> waiting_;  // pushed while opening
  Store::Batch batch_;
  std::vector<Done> dones_;                         // parallel to batch_.inserts
  uint64_t pending_bytes_ = 0;
  bool committing_ = false;
  std::unique_ptr<Timer> commit_timer_;
  std::unique_ptr<Timer> sweep_timer_;
  bool sweeping_ = false;

  std::map<DropCause, uint64_t> drops_;
  uint64_t accepted_ = 0, delivered_ = 0, commits_ = 0;
  std::deque<Sample> samples_;
  std::string alarm_;
  bool disk_full_ = false;
};

}  // namespace uplink
