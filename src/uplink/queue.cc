#include "uplink/queue.h"

#include <algorithm>

#include "common/log.h"
#include "common/strings.h"
#include "common/units.h"

namespace uplink {

std::string_view to_string(SyncMode m) {
  switch (m) {
    case SyncMode::batch: return "batch";
    case SyncMode::always: return "always";
    case SyncMode::never: return "never";
  }
  return "?";
}

std::optional<SyncMode> parse_sync_mode(std::string_view text) {
  for (auto m : {SyncMode::batch, SyncMode::always, SyncMode::never})
    if (to_string(m) == text) return m;
  return std::nullopt;
}

std::string_view to_string(DropCause c) {
  switch (c) {
    case DropCause::full: return "full";
    case DropCause::ttl: return "ttl";
    case DropCause::too_large: return "too_large";
    case DropCause::rejected: return "rejected";
  }
  return "?";
}

Error too_large_error(uint64_t size, uint64_t max_message) {
  return make_error("message of " + std::to_string(size) + " bytes refused: over max_message (" +
                    std::to_string(max_message) + " bytes)");
}

namespace {

auto log() {
  static auto l = get_logger("uplink");
  return l;
}

int64_t wall_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Touched only by jobs on the worker (one at a time).
struct DurableQueue::Shared {
  StoreOptions options;
  std::unique_ptr<Store> store;
};

struct DurableQueue::Job {
  Store::Batch batch;
  std::vector<Done> dones;
  std::vector<int> priority;
  Store::CommitResult result;
  std::map<int, ClassStats> stats;
  std::string replaced;       // the store was corrupt and replaced: where the old one went
  std::string replace_error;  // ... or why no fresh one could be opened
};

DurableQueue::DurableQueue(TimeSource& time, Executor& worker, Executor& results, QueueOptions options)
    : time_(time), worker_(worker), results_(results), opts_(std::move(options)), shared_(std::make_shared<Shared>()),
      commit_timer_(time.make_timer()), sweep_timer_(time.make_timer()) {
  if (opts_.classes.empty()) opts_.classes.push_back(QueueClass{"default", std::chrono::hours(24 * 7)});
  for (auto c : kDropCauses) drops_[c] = 0;
  shared_->options.dir = opts_.dir;
  shared_->options.max_size = opts_.max_size;
  shared_->options.sync = opts_.sync == SyncMode::never ? StoreSync::off : StoreSync::full;
  shared_->options.max_pages = opts_.max_pages;
}

DurableQueue::~DurableQueue() {
  stop();
  *alive_ = false;
}

void DurableQueue::start() {
  if (started_) return;
  started_ = true;
  std::vector<std::string> names;
  for (const auto& c : opts_.classes) names.push_back(c.name);
  worker_.post([shared = shared_, names, alive = alive_, results = &results_, self = this] {
    OpenReport report;
    auto opened = Store::open(shared->options, report);
    std::map<std::string, int> codes;
    std::map<int, ClassStats> stats;
    uint64_t next_id = 1;
    if (opened.ok()) {
      for (const auto& n : names) {
        auto code = (*opened)->class_code(n);
        if (!code.ok()) {
          opened = code.error();
          break;
        }
      }
    }
    if (opened.ok()) {
      codes = (*opened)->classes();
      stats = (*opened)->stats();
      next_id = (*opened)->next_id();
      shared->store = std::move(*opened);
      opened = std::unique_ptr<Store>();
    }
    auto holder = std::make_shared<Result<std::unique_ptr<Store>>>(std::move(opened));
    results->post([alive, self, holder, report, codes, stats, next_id] {
      if (*alive) self->on_open(std::move(*holder), report, codes, stats, next_id);
    });
  });
}

void DurableQueue::on_open(Result<std::unique_ptr<Store>> store, const OpenReport& report,
                           std::map<std::string, int> codes, std::map<int, ClassStats> stats, uint64_t next_id) {
  if (stopped_) return;
  if (!store.ok()) {
    state_ = State::failed;
    state_error_ = store.error().message;
    log()->error("uplink queue: {}; messages are refused until the next reload", state_error_);
    raise_alarm("store unavailable: " + state_error_);
    for (auto& [m, done] : waiting_)
      if (done) done(make_error("uplink queue unavailable: " + state_error_));
    waiting_.clear();
    pending_bytes_ = 0;
    return;
  }
  codes_ = std::move(codes);
  for (const auto& [n, c] : codes_) names_[c] = n;
  stats_ = std::move(stats);
  next_id_ = next_id;
  state_ = State::ready;
  if (!report.moved_aside.empty()) {
    log()->error("uplink queue: store was corrupt ({}); moved aside to {}, started a fresh one", report.reason,
                 report.moved_aside);
    raise_alarm("store corrupt, moved aside to " + report.moved_aside);
  }
  log()->info("uplink queue: {} messages ({}) in {}, next id {}, sync {}", depth(), format_size(bytes()), opts_.dir,
              next_id_, to_string(opts_.sync));
  auto waiting = std::move(waiting_);
  waiting_.clear();
  // push() counted the waiting messages in pending_bytes_; enqueue_ready counts them again.
  pending_bytes_ = 0;
  for (auto& [m, done] : waiting) enqueue_ready(std::move(m), std::move(done));
  sweep_timer_->arm(opts_.sweep_interval, [this] { sweep(); });
  if (on_ready) on_ready();
}

void DurableQueue::stop() {
  if (stopped_) return;
  stopped_ = true;
  commit_timer_->cancel();
  sweep_timer_->cancel();
  if (!started_) return;
  // A last commit of what was acknowledged (deliveries, drops; and, under
  // sync=never, the messages already confirmed), then the store closes on the
  // worker, where its WAL checkpoint may fsync. Producers still waiting are
  // told their message was not stored: they send it again (no silent loss,
  // no message stored twice under two ids).
  auto batch = std::make_shared<Store::Batch>();
  batch->deletes = std::move(batch_.deletes);
  batch->drops = std::move(batch_.drops);
  if (opts_.sync == SyncMode::never) batch->inserts = std::move(batch_.inserts);
  auto prio = priority();
  worker_.post([shared = shared_, batch, prio] {
    if (shared->store && (!batch->inserts.empty() || !batch->deletes.empty() || !batch->drops.empty()))
      shared->store->commit(*batch, prio);
    shared->store.reset();
  });
  auto dones = std::move(dones_);
  auto waiting = std::move(waiting_);
  batch_ = {};
  dones_.clear();
  waiting_.clear();
  const Error stopping = make_error("uplink queue stopping: message not stored, send it again");
  for (auto& d : dones)
    if (d) d(stopping);
  for (auto& [m, d] : waiting)
    if (d) d(stopping);
}

bool DurableQueue::has_class(const std::string& name) const {
  for (const auto& c : opts_.classes)
    if (c.name == name) return true;
  return false;
}

const std::string& DurableQueue::class_name(int code) const {
  static const std::string unknown = "?";
  auto it = names_.find(code);
  return it == names_.end() ? unknown : it->second;
}

int64_t DurableQueue::expiry_ms(const StoredMessage& m) const {
  int64_t e = m.expires_ms;
  const std::string& name = class_name(m.cls);
  for (const auto& c : opts_.classes) {
    if (c.name != name) continue;
    int64_t by_class = m.ts_ms + std::chrono::duration_cast<std::chrono::milliseconds>(c.ttl).count();
    e = e == 0 ? by_class : std::min(e, by_class);
  }
  return e;
}

std::vector<int> DurableQueue::priority() const {
  std::vector<int> p;
  for (const auto& c : opts_.classes) {
    auto it = codes_.find(c.name);
    if (it != codes_.end()) p.push_back(it->second);
  }
  return p;
}

uint64_t DurableQueue::push(Message m, Done done) {
  if (m.cls.empty()) m.cls = default_class();
  uint64_t size = m.payload.size() + m.topic.size();
  if (size > opts_.max_message || size + kRowOverhead > opts_.max_size) {
    ++drops_[DropCause::too_large];
    if (done) done(too_large_error(size, opts_.max_message));
    return 0;
  }
  if (!has_class(m.cls)) {
    std::vector<std::string> names;
    for (const auto& c : opts_.classes) names.push_back(c.name);
    if (done) done(make_error("unknown class '" + m.cls + "' (classes: " + join(names, "", ", ") + ")"));
    return 0;
  }
  if (stopped_) {
    if (done) done(make_error("uplink queue is stopping: message refused"));
    return 0;
  }
  if (state_ == State::failed) {
    if (done) done(make_error("uplink queue unavailable: " + state_error_));
    return 0;
  }
  if (pending_bytes_ + size > opts_.max_pending_bytes) {
    if (done) done(make_error("uplink queue busy: the store is behind by " + format_size(pending_bytes_) +
                              "; retry shortly"));
    return 0;
  }
  if (state_ == State::opening) {
    pending_bytes_ += size;
    waiting_.emplace_back(std::move(m), std::move(done));
    return 0;
  }
  return enqueue_ready(std::move(m), std::move(done));
}

uint64_t DurableQueue::enqueue_ready(Message m, Done done) {
  StoredMessage s;
  s.id = next_id_++;
  s.cls = codes_.at(m.cls);
  s.ts_ms = wall_ms(time_.wall_now());
  if (m.ttl) s.expires_ms = s.ts_ms + std::chrono::duration_cast<std::chrono::milliseconds>(*m.ttl).count();
  s.topic = std::move(m.topic);
  s.payload = std::move(m.payload);
  pending_bytes_ += s.payload.size() + s.topic.size();
  if (opts_.sync == SyncMode::never) {
    ++accepted_;
    if (done) done(s.id);
    done = nullptr;
  }
  uint64_t id = s.id;
  batch_.inserts.push_back(std::move(s));
  dones_.push_back(std::move(done));
  schedule_commit();
  return id;
}

void DurableQueue::ack(uint64_t id) {
  batch_.deletes.push_back(id);
  ++delivered_;
  schedule_commit();
}

void DurableQueue::drop(uint64_t id, DropCause cause) {
  batch_.drops.push_back(id);
  ++drops_[cause];
  schedule_commit();
}

void DurableQueue::schedule_commit() {
  if (state_ != State::ready || stopped_) return;
  if (committing_) return;  // on_commit starts the next one
  if (opts_.sync == SyncMode::always) {
    commit_now();
    return;
  }
  if (!commit_timer_->armed()) commit_timer_->arm(opts_.commit_interval, [this] { commit_now(); });
}

void DurableQueue::commit_now() {
  if (committing_ || state_ != State::ready || stopped_) return;
  if (batch_.inserts.empty() && batch_.deletes.empty() && batch_.drops.empty()) return;
  committing_ = true;
  auto job = std::make_shared<Job>();
  job->batch = std::move(batch_);
  job->dones = std::move(dones_);
  job->priority = priority();
  batch_ = {};
  dones_.clear();
  worker_.post([shared = shared_, job, alive = alive_, results = &results_, self = this] {
    if (shared->store) {
      job->result = shared->store->commit(job->batch, job->priority);
      if (job->result.error == StoreError::corrupt) {
        OpenReport report;
        auto fresh = Store::replace(std::move(shared->store), shared->options, job->result.message, report);
        if (fresh.ok()) {
          shared->store = std::move(*fresh);
          job->replaced = report.moved_aside;
        } else {
          job->replace_error = fresh.error().message;
        }
      }
      if (shared->store) job->stats = shared->store->stats();
    } else {
      job->result.error = StoreError::io;
      job->result.message = "store closed";
    }
    results->post([job, alive, self] {
      if (*alive) {
        self->on_commit(job);
        return;
      }
      // The queue went away meanwhile (reconfigured, stopping): the commit
      // happened all the same, so its producers still hear the outcome.
      const bool ok = job->result.error == StoreError::none;
      for (size_t i = 0; i < job->dones.size(); ++i) {
        if (!job->dones[i]) continue;
        const auto& ev = job->result.evicted;
        bool gone = std::find(ev.begin(), ev.end(), job->batch.inserts[i].id) != ev.end();
        if (ok && !gone) job->dones[i](job->batch.inserts[i].id);
        else job->dones[i](make_error("uplink queue: message not stored, send it again"));
      }
    });
  });
}

void DurableQueue::on_commit(std::shared_ptr<Job> job) {
  committing_ = false;
  ++commits_;
  auto& r = job->result;
  uint64_t released = 0;
  for (const auto& m : job->batch.inserts) released += m.payload.size() + m.topic.size();
  pending_bytes_ = pending_bytes_ >= released ? pending_bytes_ - released : 0;
  const bool never = opts_.sync == SyncMode::never;
  if (r.error != StoreError::none) {
    std::string why;
    switch (r.error) {
      case StoreError::full:
        why = "disk full: message refused (stored messages are kept)";
        if (!disk_full_) {
          disk_full_ = true;
          log()->error("uplink queue: disk full in {} ({}); new messages are refused until space returns", opts_.dir,
                       r.message);
          raise_alarm("disk full");
        }
        break;
      case StoreError::corrupt: why = "store corrupt: message refused"; break;
      default: why = "store error: " + r.message; break;
    }
    // Deliveries and drops stay pending: the rows are still there.
    batch_.deletes.insert(batch_.deletes.end(), job->batch.deletes.begin(), job->batch.deletes.end());
    batch_.drops.insert(batch_.drops.end(), job->batch.drops.begin(), job->batch.drops.end());
    for (auto& d : job->dones)
      if (d) d(make_error(why));
    if (never) log()->warn("uplink queue: {} messages acknowledged under sync=never were lost: {}",
                           job->batch.inserts.size(), why);
    if (!job->replaced.empty()) {
      log()->error("uplink queue: store corrupt ({}); moved aside to {}, started a fresh one", r.message,
                   job->replaced);
      raise_alarm("store corrupt, moved aside to " + job->replaced);
      stats_ = job->stats;
      batch_.deletes.clear();
      batch_.drops.clear();
    } else if (!job->replace_error.empty()) {
      state_ = State::failed;
      state_error_ = job->replace_error;
      raise_alarm("store unavailable: " + state_error_);
    }
    if (!batch_.inserts.empty() || !batch_.deletes.empty() || !batch_.drops.empty()) {
      // Retry later rather than spin on a full disk.
      if (!commit_timer_->armed())
        commit_timer_->arm(std::max<Duration>(opts_.commit_interval, std::chrono::milliseconds(100)),
                           [this] { commit_now(); });
    }
    return;
  }
  if (disk_full_) {
    disk_full_ = false;
    log()->info("uplink queue: the store accepts messages again");
  }
  stats_ = std::move(job->stats);
  std::vector<uint64_t> evicted = r.evicted;
  std::sort(evicted.begin(), evicted.end());
  drops_[DropCause::full] += evicted.size();
  std::vector<StoredMessage> durable;
  durable.reserve(job->batch.inserts.size());
  for (size_t i = 0; i < job->batch.inserts.size(); ++i) {
    auto& m = job->batch.inserts[i];
    bool gone = std::binary_search(evicted.begin(), evicted.end(), m.id);
    if (!never) {
      if (gone) {
        if (job->dones[i])
          job->dones[i](make_error("queue full: message dropped (its class '" + class_name(m.cls) +
                                   "' is the least important with messages)"));
      } else {
        ++accepted_;
        if (job->dones[i]) job->dones[i](m.id);
      }
    }
    if (!gone) durable.push_back(std::move(m));
  }
  if (!evicted.empty())
    log()->warn("uplink queue: full ({}), dropped the {} oldest messages of the least important class",
                format_size(opts_.max_size), evicted.size());
  if (!durable.empty() && on_committed) on_committed(durable);
  std::vector<uint64_t> removed = r.deleted;
  removed.insert(removed.end(), r.evicted.begin(), r.evicted.end());
  if (!removed.empty() && on_removed) on_removed(removed);
  if (!batch_.inserts.empty() || !batch_.deletes.empty() || !batch_.drops.empty()) {
    if (opts_.sync == SyncMode::always) commit_now();
    else if (!commit_timer_->armed()) commit_timer_->arm(opts_.commit_interval, [this] { commit_now(); });
  }
}

void DurableQueue::read(const std::string& cls, uint64_t after, size_t limit,
                        std::function<void(Result<std::vector<StoredMessage>>)> done) {
  auto it = codes_.find(cls);
  if (state_ != State::ready) {
    done(make_error("the store is not open"));
    return;
  }
  if (it == codes_.end()) {
    done(std::vector<StoredMessage>{});
    return;
  }
  int code = it->second;
  auto holder = std::make_shared<std::function<void(Result<std::vector<StoredMessage>>)>>(std::move(done));
  worker_.post([shared = shared_, code, after, limit, holder, alive = alive_, results = &results_] {
    auto rows = std::make_shared<Result<std::vector<StoredMessage>>>(
        shared->store ? shared->store->read(code, after, limit)
                      : Result<std::vector<StoredMessage>>(make_error("store closed")));
    results->post([rows, holder, alive] {
      if (*alive) (*holder)(std::move(*rows));
    });
  });
}

void DurableQueue::sweep() {
  sweep_timer_->arm(opts_.sweep_interval, [this] { sweep(); });
  samples_.push_back(Sample{time_.now(), accepted_, delivered_});
  while (samples_.size() > 11) samples_.pop_front();
  if (sweeping_ || state_ != State::ready) return;
  std::map<int, int64_t> ttl;
  for (const auto& c : opts_.classes)
    if (auto it = codes_.find(c.name); it != codes_.end())
      ttl[it->second] = std::chrono::duration_cast<std::chrono::milliseconds>(c.ttl).count();
  int64_t now = wall_ms(time_.wall_now());
  sweeping_ = true;
  struct Out {
    Store::ExpireResult r;
    std::map<int, ClassStats> stats;
  };
  worker_.post([shared = shared_, ttl, now, alive = alive_, results = &results_, self = this] {
    auto out = std::make_shared<Out>();
    if (shared->store) {
      out->r = shared->store->expire(ttl, now);
      out->stats = shared->store->stats();
    }
    results->post([out, alive, self] {
      if (!*alive) return;
      self->sweeping_ = false;
      if (out->r.expired.empty()) return;
      self->drops_[DropCause::ttl] += out->r.expired.size();
      self->stats_ = out->stats;
      log()->info("uplink queue: {} messages expired (ttl)", out->r.expired.size());
      if (self->on_removed) self->on_removed(out->r.expired);
    });
  });
}

void DurableQueue::raise_alarm(const std::string& text) {
  alarm_ = text;
  if (on_alarm) on_alarm(text);
}

std::vector<DurableQueue::ClassView> DurableQueue::classes() const {
  std::vector<ClassView> out;
  int64_t now = wall_ms(time_.wall_now());
  for (const auto& c : opts_.classes) {
    ClassView v{c.name, 0, 0, std::nullopt};
    if (auto it = codes_.find(c.name); it != codes_.end()) {
      if (auto s = stats_.find(it->second); s != stats_.end()) {
        v.count = s->second.count;
        v.bytes = s->second.bytes;
        if (s->second.count && s->second.oldest_ts_ms)
          v.oldest_age = std::chrono::milliseconds(std::max<int64_t>(0, now - s->second.oldest_ts_ms));
      }
    }
    out.push_back(v);
  }
  return out;
}

uint64_t DurableQueue::depth() const {
  uint64_t n = 0;
  for (const auto& [c, s] : stats_) n += s.count;
  return n;
}

uint64_t DurableQueue::bytes() const {
  uint64_t n = 0;
  for (const auto& [c, s] : stats_) n += s.bytes;
  return n;
}

double DurableQueue::rate(uint64_t Sample::*counter) const {
  if (samples_.size() < 2) return 0;
  double secs = std::chrono::duration<double>(samples_.back().at - samples_.front().at).count();
  return secs > 0 ? double(samples_.back().*counter - samples_.front().*counter) / secs : 0;
}

double DurableQueue::rate_in() const { return rate(&Sample::in); }
double DurableQueue::rate_out() const { return rate(&Sample::out); }

}  // namespace uplink
