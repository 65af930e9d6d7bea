#pragma once
// Dispatcher: what goes to the broker next. Live data first, the backlog
// behind it at replay_rate, at least once.
//
//   DurableQueue --on_committed--> live (in memory, bounded) ---+
//   DurableQueue <--read(cls, after)-- backlog cursor per class -+--> window (QoS 1 in flight) --> Transport
//   DurableQueue <--ack(id)/drop(id)------------------------------- PUBACK <--------------------------+
//
// - A message committed while the broker is connected is live: it is sent as
//   soon as the in-flight window has room, ahead of any backlog.
// - Everything else in the store (what was queued during an outage, what
//   overflowed the live buffer, what was in flight when the connection
//   dropped) is backlog: read from the store oldest first within each class,
//   the most important class first, paced by a token bucket at replay_rate,
//   and never holding more than backlog_window of the window, so a live
//   message waits at most for one PUBACK.
// - A message leaves the store only on its PUBACK (DurableQueue::ack). A
//   connection lost with messages in flight sends them again on the next one:
//   the receiver drops repeats by id.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "uplink/queue.h"

namespace uplink {

// The connection to the broker, as the dispatcher sees it (MqttSession in
// the daemon, a fake in tests).
class Transport {
 public:
  virtual ~Transport() = default;
  virtual bool connected() const = 0;
  // Publishes at QoS 1. The token comes back with the PUBACK (Dispatcher::puback).
  virtual Result<int> publish(const StoredMessage& m) = 0;
};

enum class PubackResult { ok, retry, rejected };

struct ReplayOptions {
  size_t window = 64;            // unacknowledged publishes
  size_t backlog_window = 32;    // of those, at most this many from the backlog
  double replay_rate = 5000;     // backlog msg/s
  size_t live_max = 4096;        // live messages held in memory; beyond, they wait in the store
  size_t fetch = 256;            // backlog rows read per store read
};

class Dispatcher {
 public:
  Dispatcher(TimeSource& time, DurableQueue& queue, Transport& transport, ReplayOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // From the transport.
  void connected();
  void disconnected();
  void puback(int token, PubackResult result);
  // From the queue (the module wires on_committed/on_removed here).
  void committed(std::vector<StoredMessage>& messages);
  void removed(const std::vector<uint64_t>& ids);
  // The store opened (after a connection may already be up): read the backlog afresh.
  void store_ready();
  void set_options(const ReplayOptions& o) { opts_ = o; }

  size_t inflight() const { return inflight_.size(); }
  size_t live_waiting() const { return live_.size(); }
  uint64_t sent_live() const { return sent_live_; }
  uint64_t sent_backlog() const { return sent_backlog_; }
  uint64_t resent() const { return resent_; }

 private:
  struct Backlog {
    std::deque<StoredMessage> buf;
    uint64_t cursor = 0;       // highest id read
    bool exhausted = false;    // the last read reached the end of the class
    bool fetching = false;
    uint64_t generation = 0;   // bumped when a message of the class lands in the store but not in live_
    uint64_t rewinds = 0;      // bumped when the cursor moves back (requeue)
  };
  struct Flight {
    uint64_t id;
    int cls;  // class code (DurableQueue::class_name)
    bool live;
  };
  void reset();
  void pump();
  bool send(StoredMessage& m, bool live);
  bool next_backlog(StoredMessage& out);
  void fetch(const std::string& cls);
  bool claimed(uint64_t id) const {
    return live_ids_.count(id) || inflight_ids_.count(id) || acked_.count(id);
  }
  bool expired(const StoredMessage& m) const;
  // Expired: dropped (counted `ttl`) instead of sent.
  bool drop_if_expired(const StoredMessage& m);
  void refill();
  void requeue(uint64_t id, const std::string& cls);
  void requeue(const StoredMessage& m) { requeue(m.id, queue_.class_name(m.cls)); }

  TimeSource& time_;
  DurableQueue& queue_;
  Transport& transport_;
  ReplayOptions opts_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  uint64_t epoch_ = 0;  // bumped on every (dis)connection: late store reads are ignored

  std::deque<StoredMessage> live_;
  std::unordered_set<uint64_t> live_ids_;
  std::unordered_map<int, Flight> inflight_;
  std::unordered_set<uint64_t> inflight_ids_;
  std::unordered_set<uint64_t> acked_;  // acknowledged, delete not yet committed
  size_t backlog_inflight_ = 0;
  std::map<std::string, Backlog> backlog_;

  double tokens_ = 0;
  TimePoint refilled_;
  std::unique_ptr<Timer> pace_;

  uint64_t sent_live_ = 0, sent_backlog_ = 0, resent_ = 0;
  bool pumping_ = false;
};

}  // namespace uplink
