#pragma once
// The durable store under the uplink queue: one SQLite database in WAL mode.
// Synchronous and single-threaded: DurableQueue (queue.h) calls it only from
// its worker thread, never from the io_context.
//
// Boring on purpose (STYLE.md "A durable queue that is boring"): messages are
// appended in batches (one transaction per commit), deleted by id once the
// broker acknowledged them, never rewritten in place. Per-class counters
// (count, bytes) and the next message id live in the same database and are
// updated in the same transaction, so start-up reads a few rows instead of
// scanning the queue, and a crash can never leave them out of step.
//
//   msg(id PK, cls, ts, expires, size, topic, payload)   index (cls, id): per-class FIFO
//                                                        partial index (expires) WHERE expires > 0
//   stats(cls PK, count, bytes)  classes(name PK, code)  meta(key PK, value): next_id
//
// Durability: sync=batch|always -> PRAGMA synchronous=FULL (the WAL is
// fsynced at every commit); sync=never -> synchronous=OFF (survives a crash
// of uplinkd, not a power loss).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace uplink {

// Bytes a message is accounted for against max_size: payload + topic + this.
inline constexpr uint64_t kRowOverhead = 64;

struct StoredMessage {
  uint64_t id = 0;
  int cls = 0;               // class code (Store::class_code)
  int64_t ts_ms = 0;         // wall clock at enqueue, ms since the epoch
  int64_t expires_ms = 0;    // per-message expiry (0 = the class TTL only)
  std::string topic;         // "" = the platform's default topic
  std::string payload;
  uint64_t accounted() const { return payload.size() + topic.size() + kRowOverhead; }
};

struct ClassStats {
  uint64_t count = 0;
  uint64_t bytes = 0;
  int64_t oldest_ts_ms = 0;  // 0 when empty
};

enum class StoreSync { full, off };

struct StoreOptions {
  std::string dir;                 // created if missing; the database is DIR/queue.db
  uint64_t max_size = 256ull << 20;
  StoreSync sync = StoreSync::full;
  int64_t cache_kib = 2048;        // SQLite page cache: RSS stays flat however deep the queue
  uint32_t max_pages = 0;          // tests: PRAGMA max_page_count (0 = unlimited) to simulate a full disk
};

struct OpenReport {
  std::string moved_aside;         // non-empty: the store was corrupt and moved there
  std::string reason;              // why it was judged corrupt
};

enum class StoreError { none, full, corrupt, io };

class Store {
 public:
  // Opens (or creates) the store. A store SQLite judges corrupt (not a
  // database, malformed, unreadable schema) is renamed aside with its WAL
  // and a fresh one is created; `report` says so. Fails only when no store
  // can be opened at all (directory not writable, ...).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options, OpenReport& report);
  // For a store found corrupt while running: moves its files aside and opens a fresh one.
  static Result<std::unique_ptr<Store>> replace(std::unique_ptr<Store> old, const StoreOptions& options,
                                                const std::string& reason, OpenReport& report);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  // Stable code for a class name (created on first use, kept across restarts).
  Result<int> class_code(const std::string& name);
  // Every class code the store knows, by name.
  const std::map<std::string, int>& classes() const { return codes_; }
  // The first id not yet used by any message ever stored here.
  uint64_t next_id() const { return next_id_; }
  const std::map<int, ClassStats>& stats() const { return stats_; }
  uint64_t total_bytes() const;
  uint64_t total_count() const;

  struct Batch {
    std::vector<StoredMessage> inserts;  // ids ascending, all >= next_id()
    std::vector<uint64_t> deletes;       // delivered: removed, not counted as drops
    std::vector<uint64_t> drops;         // removed and counted as `drop_cause` (ttl seen at send, rejected)
  };
  struct CommitResult {
    StoreError error = StoreError::none;
    std::string message;                 // when error != none
    std::vector<uint64_t> evicted;       // dropped because full (may include ids of `inserts`)
    std::vector<uint64_t> deleted;       // ids of deletes + drops that were present
  };
  // One transaction: inserts, deletes, then evictions down to max_size, the
  // least important class first (`priority`: class codes, most important
  // first; codes not listed count as less important than all listed), oldest
  // first within it. On error nothing of the batch is applied.
  CommitResult commit(const Batch& batch, const std::vector<int>& priority);

  // Up to `limit` messages of class `cls` with id > after, oldest first.
  Result<std::vector<StoredMessage>> read(int cls, uint64_t after, size_t limit);

  struct ExpireResult {
    StoreError error = StoreError::none;
    std::string message;
    std::vector<uint64_t> expired;
  };
  // Removes messages older than their class TTL (`ttl_ms` by class code;
  // classes not listed never expire by age) or past their own expiry.
  ExpireResult expire(const std::map<int, int64_t>& ttl_ms, int64_t now_ms);

 private:
  // Refreshes oldest_ts_ms of every class (cheap: one index probe each).
  void refresh_oldest();
  // oldest_ts_ms of class `cls` from its first row (one index probe).
  void probe_oldest(int cls, ClassStats& s);
  Store() = default;
  Result<void> init(const StoreOptions& options);
  void close();
  Result<void> exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  Result<void> write_stats(const std::map<int, ClassStats>& before);
  StoreError classify(int rc) const;
  std::string errmsg() const;

  std::string path_;
  uint64_t max_size_ = 0;
  sqlite3* db_ = nullptr;
  std::map<std::string, int> codes_;
  std::map<int, ClassStats> stats_;
  uint64_t next_id_ = 1;
  struct Stmts;
  std::unique_ptr<Stmts> st_;
};

}  // namespace uplink
