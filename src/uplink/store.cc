#include "uplink/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

namespace uplink {

namespace fs = std::filesystem;

struct Store::Stmts {
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* del = nullptr;
  sqlite3_stmt* oldest_ids = nullptr;  // (cls, limit) -> id, size
  sqlite3_stmt* read = nullptr;
  sqlite3_stmt* oldest_ts = nullptr;
  sqlite3_stmt* expire_own = nullptr;
  sqlite3_stmt* put_stats = nullptr;
  sqlite3_stmt* put_meta = nullptr;
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  ~Stmts() {
    for (auto* s : {insert, del, oldest_ids, read, oldest_ts, expire_own, put_stats, put_meta, begin, commit, rollback})
      sqlite3_finalize(s);
  }
};

namespace {

constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS msg(
  id INTEGER PRIMARY KEY, cls INTEGER NOT NULL, ts INTEGER NOT NULL, expires INTEGER NOT NULL,
  size INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS msg_cls ON msg(cls, id);
CREATE INDEX IF NOT EXISTS msg_expires ON msg(expires) WHERE expires > 0;
CREATE TABLE IF NOT EXISTS classes(name TEXT PRIMARY KEY, code INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS stats(cls INTEGER PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// Resets a statement when it goes out of scope, so an early return never
// leaves one mid-step (which would keep a read transaction open).
struct Reset {
  sqlite3_stmt* s;
  ~Reset() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

bool is_corruption(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace

Store::~Store() { close(); }

void Store::close() {
  st_.reset();
  if (db_) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

std::string Store::errmsg() const { return db_ ? sqlite3_errmsg(db_) : "no database"; }

StoreError Store::classify(int rc) const {
  int primary = rc & 0xff;
  if (primary == SQLITE_FULL) return StoreError::full;
  if (is_corruption(rc)) return StoreError::corrupt;
  return StoreError::io;
}

Result<void> Store::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return make_error(m + " (" + std::to_string(rc) + ")");
  }
  return {};
}

sqlite3_stmt* Store::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) return nullptr;
  return s;
}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options, OpenReport& report) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return make_error("uplink queue: cannot create directory " + options.dir + ": " + ec.message());
  std::unique_ptr<Store> store(new Store());
  auto r = store->init(options);
  if (r.ok()) return store;
  if (!store->path_.empty() && fs::exists(store->path_) && r.error().message.rfind("corrupt:", 0) == 0)
    return replace(std::move(store), options, r.error().message, report);
  return r.error();
}

Result<std::unique_ptr<Store>> Store::replace(std::unique_ptr<Store> old, const StoreOptions& options,
                                              const std::string& reason, OpenReport& report) {
  // Move the damaged database (and its WAL) aside for a post-mortem and
  // start afresh: one bad file must not become a crash loop.
  std::string path = (fs::path(options.dir) / "queue.db").string();
  old.reset();
  std::error_code ec;
  auto stamp = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::string aside = path + ".corrupt-" + stamp;
  fs::rename(path, aside, ec);
  if (ec)
    return make_error("uplink queue: store " + path + " is corrupt (" + reason +
                      ") and cannot be moved aside: " + ec.message());
  for (const char* suffix : {"-wal", "-shm"}) {
    std::error_code ec2;
    if (fs::exists(path + suffix)) fs::rename(path + suffix, aside + suffix, ec2);
  }
  report.moved_aside = aside;
  report.reason = reason;
  std::unique_ptr<Store> store(new Store());
  auto again = store->init(options);
  if (!again.ok()) return again.error();
  return store;
}

Result<void> Store::init(const StoreOptions& options) {
  path_ = (fs::path(options.dir) / "queue.db").string();
  max_size_ = options.max_size;
  int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string m = errmsg();
    if (is_corruption(rc)) return make_error("corrupt: " + m);
    return make_error("uplink queue: cannot open " + path_ + ": " + m);
  }
  sqlite3_extended_result_codes(db_, 1);
  // Any failure from here on while reading what is there means the file is
  // not a usable store (a disk-full or permission error says so explicitly).
  auto fail = [&](const std::string& what) -> Result<void> {
    int code = sqlite3_extended_errcode(db_);
    if (is_corruption(code))
      return make_error("corrupt: " + what + ": " + errmsg());
    return make_error("uplink queue: " + path_ + ": " + what + ": " + errmsg());
  };
  // A corrupt header shows up at the first read: journal_mode reads page 1.
  if (!exec("PRAGMA journal_mode=WAL").ok()) return fail("journal_mode");
  std::string sync = std::string("PRAGMA synchronous=") + (options.sync == StoreSync::full ? "FULL" : "OFF");
  if (!exec(sync.c_str()).ok()) return fail("synchronous");
  std::string cache = "PRAGMA cache_size=-" + std::to_string(options.cache_kib);
  // Tuning only: a store that refuses these still works.
  (void)exec(cache.c_str());
  (void)exec("PRAGMA temp_store=MEMORY");
  (void)exec("PRAGMA journal_size_limit=67108864");
  if (options.max_pages) {
    std::string mp = "PRAGMA max_page_count=" + std::to_string(options.max_pages);
    (void)exec(mp.c_str());
  }
  {
    sqlite3_stmt* s = prepare("PRAGMA user_version");
    if (!s) return fail("user_version");
    int v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (v < 0) return fail("user_version");
    if (v > kSchemaVersion) return make_error("uplink queue: " + path_ + " has schema version " + std::to_string(v) +
                                              ", newer than this uplinkd (" + std::to_string(kSchemaVersion) + ")");
  }
  if (!exec(kSchema).ok()) return fail("schema");
  if (!exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str()).ok()) return fail("user_version");

  // Start-up reads only the small tables: its cost does not grow with the queue.
  {
    sqlite3_stmt* s = prepare("SELECT name, code FROM classes");
    if (!s) return fail("classes");
    int rc2;
    while ((rc2 = sqlite3_step(s)) == SQLITE_ROW)
      codes_[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] = sqlite3_column_int(s, 1);
    sqlite3_finalize(s);
    if (rc2 != SQLITE_DONE) return fail("classes");
  }
  {
    sqlite3_stmt* s = prepare("SELECT cls, count, bytes FROM stats");
    if (!s) return fail("stats");
    int rc2;
    while ((rc2 = sqlite3_step(s)) == SQLITE_ROW) {
      auto& c = stats_[sqlite3_column_int(s, 0)];
      c.count = uint64_t(sqlite3_column_int64(s, 1));
      c.bytes = uint64_t(sqlite3_column_int64(s, 2));
    }
    sqlite3_finalize(s);
    if (rc2 != SQLITE_DONE) return fail("stats");
  }
  {
    sqlite3_stmt* s = prepare("SELECT max(coalesce((SELECT value FROM meta WHERE key='next_id'), 1),"
                              " coalesce((SELECT max(id) FROM msg), 0) + 1)");
    if (!s) return fail("meta");
    int rc2 = sqlite3_step(s);
    if (rc2 != SQLITE_ROW) {
      sqlite3_finalize(s);
      return fail("meta");
    }
    next_id_ = uint64_t(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
  }
  st_ = std::make_unique<Stmts>();
  st_->insert = prepare("INSERT INTO msg(id, cls, ts, expires, size, topic, payload) VALUES(?,?,?,?,?,?,?)");
  st_->del = prepare("DELETE FROM msg WHERE id=? RETURNING cls, size");
  st_->oldest_ids = prepare("SELECT id, size FROM msg WHERE cls=? ORDER BY id LIMIT ?");
  st_->read = prepare("SELECT id, ts, expires, topic, payload FROM msg WHERE cls=? AND id>? ORDER BY id LIMIT ?");
  st_->oldest_ts = prepare("SELECT ts FROM msg WHERE cls=? ORDER BY id LIMIT 1");
  st_->expire_own = prepare("SELECT id FROM msg WHERE expires > 0 AND expires <= ? LIMIT 4096");
  st_->put_stats = prepare("INSERT INTO stats(cls, count, bytes) VALUES(?,?,?)"
                           " ON CONFLICT(cls) DO UPDATE SET count=excluded.count, bytes=excluded.bytes");
  st_->put_meta = prepare("INSERT INTO meta(key, value) VALUES('next_id', ?)"
                          " ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  st_->begin = prepare("BEGIN IMMEDIATE");
  st_->commit = prepare("COMMIT");
  st_->rollback = prepare("ROLLBACK");
  for (auto* s : {st_->insert, st_->del, st_->oldest_ids, st_->read, st_->oldest_ts, st_->expire_own,
                  st_->put_stats, st_->put_meta, st_->begin, st_->commit, st_->rollback})
    if (!s) return fail("prepare");
  refresh_oldest();
  return {};
}

Result<int> Store::class_code(const std::string& name) {
  auto it = codes_.find(name);
  if (it != codes_.end()) return it->second;
  int code = 1;
  for (const auto& [n, c] : codes_) code = std::max(code, c + 1);
  sqlite3_stmt* s = prepare("INSERT INTO classes(name, code) VALUES(?, ?)");
  if (!s) return make_error("uplink queue: cannot register class " + name + ": " + errmsg());
  sqlite3_bind_text(s, 1, name.data(), int(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 2, code);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return make_error("uplink queue: cannot register class " + name + ": " + errmsg());
  codes_[name] = code;
  return code;
}

uint64_t Store::total_bytes() const {
  uint64_t n = 0;
  for (const auto& [c, s] : stats_) n += s.bytes;
  return n;
}

uint64_t Store::total_count() const {
  uint64_t n = 0;
  for (const auto& [c, s] : stats_) n += s.count;
  return n;
}

Result<void> Store::write_stats(const std::map<int, ClassStats>& before) {
  for (const auto& [cls, s] : stats_) {
    auto it = before.find(cls);
    if (it != before.end() && it->second.count == s.count && it->second.bytes == s.bytes) continue;
    Reset r{st_->put_stats};
    sqlite3_bind_int(st_->put_stats, 1, cls);
    sqlite3_bind_int64(st_->put_stats, 2, int64_t(s.count));
    sqlite3_bind_int64(st_->put_stats, 3, int64_t(s.bytes));
    if (sqlite3_step(st_->put_stats) != SQLITE_DONE) return make_error(errmsg());
  }
  return {};
}

Store::CommitResult Store::commit(const Batch& batch, const std::vector<int>& priority) {
  CommitResult out;
  const auto before = stats_;
  const uint64_t next_before = next_id_;
  auto failed = [&](int rc) {
    out.error = classify(rc);
    out.message = errmsg();
    sqlite3_step(st_->rollback);
    sqlite3_reset(st_->rollback);
    stats_ = before;
    next_id_ = next_before;
    out.evicted.clear();
    out.deleted.clear();
    return out;
  };
  int rc = sqlite3_step(st_->begin);
  sqlite3_reset(st_->begin);
  if (rc != SQLITE_DONE) {
    out.error = classify(rc);
    out.message = errmsg();
    return out;
  }
  for (const auto& m : batch.inserts) {
    Reset r{st_->insert};
    sqlite3_bind_int64(st_->insert, 1, int64_t(m.id));
    sqlite3_bind_int(st_->insert, 2, m.cls);
    sqlite3_bind_int64(st_->insert, 3, m.ts_ms);
    sqlite3_bind_int64(st_->insert, 4, m.expires_ms);
    sqlite3_bind_int64(st_->insert, 5, int64_t(m.accounted()));
    sqlite3_bind_text(st_->insert, 6, m.topic.data(), int(m.topic.size()), SQLITE_STATIC);
    sqlite3_bind_blob(st_->insert, 7, m.payload.data(), int(m.payload.size()), SQLITE_STATIC);
    rc = sqlite3_step(st_->insert);
    if (rc != SQLITE_DONE) return failed(rc);
    auto& s = stats_[m.cls];
    if (s.count == 0) s.oldest_ts_ms = m.ts_ms;
    ++s.count;
    s.bytes += m.accounted();
    next_id_ = std::max(next_id_, m.id + 1);
  }
  auto remove = [&](uint64_t id) -> int {
    Reset r{st_->del};
    sqlite3_bind_int64(st_->del, 1, int64_t(id));
    int step = sqlite3_step(st_->del);
    if (step == SQLITE_ROW) {
      auto& s = stats_[sqlite3_column_int(st_->del, 0)];
      uint64_t size = uint64_t(sqlite3_column_int64(st_->del, 1));
      s.count = s.count ? s.count - 1 : 0;
      s.bytes = s.bytes >= size ? s.bytes - size : 0;
      out.deleted.push_back(id);
      step = sqlite3_step(st_->del);
      return step == SQLITE_DONE ? 1 : step;
    }
    return step == SQLITE_DONE ? 0 : step;
  };
  for (const auto* ids : {&batch.deletes, &batch.drops}) {
    for (uint64_t id : *ids) {
      int n = remove(id);
      if (n != 0 && n != 1) return failed(n);
    }
  }
  // Full: the least important class with messages loses its oldest first.
  uint64_t total = total_bytes();
  if (total > max_size_ && !batch.inserts.empty()) {
    std::vector<int> order;  // least important first
    std::set<int> listed(priority.begin(), priority.end());
    for (const auto& [cls, s] : stats_)
      if (!listed.count(cls)) order.push_back(cls);
    for (auto it = priority.rbegin(); it != priority.rend(); ++it) order.push_back(*it);
    for (int cls : order) {
      while (total > max_size_ && stats_[cls].count > 0) {
        std::vector<std::pair<uint64_t, uint64_t>> victims;
        {
          Reset r{st_->oldest_ids};
          sqlite3_bind_int(st_->oldest_ids, 1, cls);
          sqlite3_bind_int(st_->oldest_ids, 2, 256);
          while ((rc = sqlite3_step(st_->oldest_ids)) == SQLITE_ROW) {
            victims.emplace_back(uint64_t(sqlite3_column_int64(st_->oldest_ids, 0)),
                                 uint64_t(sqlite3_column_int64(st_->oldest_ids, 1)));
          }
          if (rc != SQLITE_DONE) return failed(rc);
        }
        if (victims.empty()) {
          stats_[cls] = ClassStats{};  // counters out of step with the rows: trust the rows
          break;
        }
        for (auto [id, size] : victims) {
          if (total <= max_size_) break;
          int n = remove(id);
          if (n != 0 && n != 1) return failed(n);
          out.deleted.pop_back();  // an eviction, not a delete
          out.evicted.push_back(id);
          total = total >= size ? total - size : 0;
        }
      }
      if (total <= max_size_) break;
    }
  }
  if (auto w = write_stats(before); !w.ok()) return failed(sqlite3_extended_errcode(db_));
  if (next_id_ != next_before) {
    Reset r{st_->put_meta};
    sqlite3_bind_int64(st_->put_meta, 1, int64_t(next_id_));
    rc = sqlite3_step(st_->put_meta);
    if (rc != SQLITE_DONE) return failed(rc);
  }
  rc = sqlite3_step(st_->commit);
  sqlite3_reset(st_->commit);
  if (rc != SQLITE_DONE) return failed(rc);
  // Oldest timestamps: only classes that lost their head need a probe.
  for (auto& [cls, s] : stats_) {
    if (s.count == 0) {
      s.oldest_ts_ms = 0;
      continue;
    }
    auto b = before.find(cls);
    if (b != before.end() && b->second.count > 0 && s.count >= b->second.count && out.evicted.empty() &&
        batch.deletes.empty() && batch.drops.empty())
      continue;
    probe_oldest(cls, s);
  }
  return out;
}

Result<std::vector<StoredMessage>> Store::read(int cls, uint64_t after, size_t limit) {
  std::vector<StoredMessage> out;
  Reset r{st_->read};
  sqlite3_bind_int(st_->read, 1, cls);
  sqlite3_bind_int64(st_->read, 2, int64_t(after));
  sqlite3_bind_int64(st_->read, 3, int64_t(limit));
  int rc;
  while ((rc = sqlite3_step(st_->read)) == SQLITE_ROW) {
    StoredMessage m;
    m.id = uint64_t(sqlite3_column_int64(st_->read, 0));
    m.cls = cls;
    m.ts_ms = sqlite3_column_int64(st_->read, 1);
    m.expires_ms = sqlite3_column_int64(st_->read, 2);
    if (auto* t = sqlite3_column_text(st_->read, 3)) m.topic.assign(reinterpret_cast<const char*>(t));
    if (auto* p = static_cast<const char*>(sqlite3_column_blob(st_->read, 4)))
      m.payload.assign(p, size_t(sqlite3_column_bytes(st_->read, 4)));
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE) return make_error("uplink queue: read of class " + std::to_string(cls) + ": " + errmsg());
  return out;
}

Store::ExpireResult Store::expire(const std::map<int, int64_t>& ttl_ms, int64_t now_ms) {
  ExpireResult out;
  std::vector<uint64_t> victims;
  // By class TTL: ids grow with time, so the expired messages of a class are
  // a prefix of it; walk from the oldest and stop at the first live one.
  for (const auto& [cls, ttl] : ttl_ms) {
    auto st = stats_.find(cls);
    if (st == stats_.end() || st->second.count == 0 || st->second.oldest_ts_ms > now_ms - ttl) continue;
    uint64_t after = 0;
    bool more = true;
    while (more && victims.size() < 100000) {
      more = false;
      auto rows = read(cls, after, 512);
      if (!rows.ok()) break;
      for (const auto& m : *rows) {
        if (m.ts_ms > now_ms - ttl) break;
        victims.push_back(m.id);
        after = m.id;
        more = rows->size() == 512;
      }
      if (!rows->empty() && rows->back().id != after) more = false;
    }
  }
  {
    Reset r{st_->expire_own};
    sqlite3_bind_int64(st_->expire_own, 1, now_ms);
    while (sqlite3_step(st_->expire_own) == SQLITE_ROW) victims.push_back(uint64_t(sqlite3_column_int64(st_->expire_own, 0)));
  }
  if (victims.empty()) return out;
  std::sort(victims.begin(), victims.end());
  victims.erase(std::unique(victims.begin(), victims.end()), victims.end());
  Batch b;
  b.drops = std::move(victims);
  auto c = commit(b, {});
  out.error = c.error;
  out.message = c.message;
  out.expired = std::move(c.deleted);
  return out;
}

void Store::probe_oldest(int cls, ClassStats& s) {
  Reset r{st_->oldest_ts};
  sqlite3_bind_int(st_->oldest_ts, 1, cls);
  if (sqlite3_step(st_->oldest_ts) == SQLITE_ROW) s.oldest_ts_ms = sqlite3_column_int64(st_->oldest_ts, 0);
}

void Store::refresh_oldest() {
  for (auto& [cls, s] : stats_) {
    s.oldest_ts_ms = 0;
    if (s.count > 0) probe_oldest(cls, s);
  }
}

}  // namespace uplink
