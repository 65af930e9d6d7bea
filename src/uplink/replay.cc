#include "uplink/replay.h"

#include <algorithm>

#include "common/log.h"

namespace uplink {

namespace {

auto log() {
  static auto l = get_logger("uplink");
  return l;
}

}  // namespace

Dispatcher::Dispatcher(TimeSource& time, DurableQueue& queue, Transport& transport, ReplayOptions options)
    : time_(time), queue_(queue), transport_(transport), opts_(options), refilled_(time.now()),
      pace_(time.make_timer()) {}

Dispatcher::~Dispatcher() { *alive_ = false; }

void Dispatcher::reset() {
  ++epoch_;
  resent_ += inflight_.size();  // they go again on the next connection
  live_.clear();
  live_ids_.clear();
  inflight_.clear();
  inflight_ids_.clear();
  backlog_inflight_ = 0;
  backlog_.clear();
  pace_->cancel();
  tokens_ = 0;
  refilled_ = time_.now();
}

void Dispatcher::connected() {
  reset();
  pump();
}

void Dispatcher::disconnected() { reset(); }

bool Dispatcher::expired(const StoredMessage& m) const {
  int64_t e = queue_.expiry_ms(m);
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(time_.wall_now().time_since_epoch()).count();
  return e != 0 && e <= now;
}

void Dispatcher::committed(std::vector<StoredMessage>& messages) {
  const bool up = transport_.connected();
  for (auto& m : messages) {
    if (up && live_.size() < opts_.live_max) {
      live_ids_.insert(m.id);
      live_.push_back(std::move(m));
    } else {
      auto& b = backlog_[queue_.class_name(m.cls)];
      b.exhausted = false;
      ++b.generation;
    }
  }
  pump();
}

void Dispatcher::store_ready() {
  for (auto& [cls, b] : backlog_) {
    b.exhausted = false;
    ++b.generation;
  }
  pump();
}

void Dispatcher::removed(const std::vector<uint64_t>& ids) {
  for (uint64_t id : ids) acked_.erase(id);
}

void Dispatcher::puback(int token, PubackResult result) {
  auto it = inflight_.find(token);
  if (it == inflight_.end()) return;  // from a connection already given up
  Flight f = it->second;
  inflight_.erase(it);
  inflight_ids_.erase(f.id);
  if (!f.live && backlog_inflight_) --backlog_inflight_;
  switch (result) {
    case PubackResult::ok:
      acked_.insert(f.id);
      queue_.ack(f.id);
      break;
    case PubackResult::rejected:
      acked_.insert(f.id);
      queue_.drop(f.id, DropCause::rejected);
      break;
    case PubackResult::retry:
      // The broker asked us to slow down: back to the backlog.
      ++resent_;
      requeue(f.id, queue_.class_name(f.cls));
      break;
  }
  pump();
}

void Dispatcher::requeue(uint64_t id, const std::string& cls) {
  // Read the class again from just before this message.
  auto& b = backlog_[cls];
  b.cursor = std::min(b.cursor, id - 1);
  b.buf.clear();
  b.exhausted = false;
  ++b.generation;
  ++b.rewinds;  // a read under way started past this message: its rows are dropped
}

void Dispatcher::refill() {
  TimePoint now = time_.now();
  double burst = std::max(1.0, std::min(opts_.replay_rate / 10.0, double(opts_.window)));
  tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * opts_.replay_rate);
  refilled_ = now;
}

bool Dispatcher::send(StoredMessage& m, bool live) {
  auto token = transport_.publish(m);
  if (!token.ok()) {
    log()->debug("uplink: publish of message {} failed: {}", m.id, token.error().message);
    return false;
  }
  inflight_[*token] = Flight{m.id, m.cls, live};
  inflight_ids_.insert(m.id);
  if (live) ++sent_live_;
  else {
    ++sent_backlog_;
    ++backlog_inflight_;
  }
  return true;
}

void Dispatcher::fetch(const std::string& cls) {
  auto& b = backlog_[cls];
  b.fetching = true;
  uint64_t epoch = epoch_, generation = b.generation, rewinds = b.rewinds;
  queue_.read(cls, b.cursor, opts_.fetch,
              [this, alive = alive_, cls, epoch, generation, rewinds](Result<std::vector<StoredMessage>> rows) {
                if (!*alive || epoch != epoch_) return;
                auto& b = backlog_[cls];
                b.fetching = false;
                if (rewinds != b.rewinds) {
                  pump();
                  return;
                }
                if (!rows.ok()) {
                  // Before the store opens this is expected: store_ready() reads again.
                  if (queue_.state() == DurableQueue::State::ready)
                    log()->warn("uplink: reading the backlog of class {}: {}", cls, rows.error().message);
                  return;
                }
                for (auto& m : *rows) {
                  b.cursor = std::max(b.cursor, m.id);
                  if (!claimed(m.id)) b.buf.push_back(std::move(m));
                }
                if (rows->size() < opts_.fetch && generation == b.generation) b.exhausted = true;
                pump();
              });
}

bool Dispatcher::next_backlog(StoredMessage& out) {
  for (const auto& c : queue_.options().classes) {
    auto& b = backlog_[c.name];
    while (!b.buf.empty() && claimed(b.buf.front().id)) b.buf.pop_front();
    if (!b.fetching && !b.exhausted && b.buf.size() < opts_.fetch / 2) fetch(c.name);
    if (!b.buf.empty()) {
      out = std::move(b.buf.front());
      b.buf.pop_front();
      return true;
    }
  }
  return false;
}

bool Dispatcher::drop_if_expired(const StoredMessage& m) {
  if (!expired(m)) return false;
  acked_.insert(m.id);
  queue_.drop(m.id, DropCause::ttl);
  return true;
}

void Dispatcher::pump() {
  if (pumping_) return;  // publish callbacks may re-enter
  pumping_ = true;
  while (transport_.connected() && inflight_.size() < opts_.window) {
    if (!live_.empty()) {
      StoredMessage m = std::move(live_.front());
      live_.pop_front();
      live_ids_.erase(m.id);
      if (drop_if_expired(m)) continue;
      if (!send(m, true)) {
        requeue(m);  // not sent (the connection is going): it waits in the store
        break;
      }
      continue;
    }
    if (backlog_inflight_ >= opts_.backlog_window) break;
    refill();
    if (tokens_ < 1.0) {
      if (!pace_->armed()) {
        auto wait = std::chrono::duration<double>((1.0 - tokens_) / std::max(opts_.replay_rate, 0.001));
        pace_->arm(std::max<Duration>(std::chrono::duration_cast<Duration>(wait), std::chrono::milliseconds(1)),
                   [this] { pump(); });
      }
      break;
    }
    StoredMessage m;
    if (!next_backlog(m)) break;
    if (drop_if_expired(m)) continue;
    tokens_ -= 1.0;
    if (!send(m, false)) {
      requeue(m);
      break;
    }
  }
  pumping_ = false;
}

}  // namespace uplink
