#include "uplink/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "uplink/test_support.h"

namespace uplink {
namespace {

StoredMessage msg(uint64_t id, int cls, int64_t ts, std::string payload = std::string(100, 'x')) {
  StoredMessage m;
  m.id = id;
  m.cls = cls;
  m.ts_ms = ts;
  m.payload = std::move(payload);
  return m;
}

TEST(Store, InsertReadDeleteAndCountersSurviveReopen) {
  testing::ScratchDir dir;
  OpenReport rep;
  StoreOptions o{dir.sub("q")};
  {
    auto s = Store::open(o, rep);
    ASSERT_TRUE(s.ok()) << s.error().message;
    int a = *(*s)->class_code("alarm");
    int t = *(*s)->class_code("telemetry");
    EXPECT_NE(a, t);
    Store::Batch b;
    for (uint64_t i = 1; i <= 5; ++i) b.inserts.push_back(msg(i, i % 2 ? t : a, 1000 + int64_t(i)));
    auto r = (*s)->commit(b, {a, t});
    ASSERT_EQ(r.error, StoreError::none) << r.message;
    Store::Batch d;
    d.deletes = {1, 2};
    r = (*s)->commit(d, {a, t});
    EXPECT_EQ(r.deleted, (std::vector<uint64_t>{1, 2}));
    EXPECT_EQ((*s)->total_count(), 3u);
  }
  auto s = Store::open(o, rep);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(rep.moved_aside.empty());
  EXPECT_EQ((*s)->total_count(), 3u);
  EXPECT_EQ((*s)->next_id(), 6u);
  int t = *(*s)->class_code("telemetry");
  auto rows = (*s)->read(t, 0, 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].id, 3u);
  EXPECT_EQ((*rows)[1].id, 5u);
  EXPECT_EQ((*s)->stats().at(t).oldest_ts_ms, 1003);
}

TEST(Store, NextIdNeverGoesBackWhenTheQueueEmpties) {
  testing::ScratchDir dir;
  OpenReport rep;
  StoreOptions o{dir.sub("q")};
  {
    auto s = Store::open(o, rep);
    int c = *(*s)->class_code("c");
    Store::Batch b;
    b.inserts = {msg(41, c, 1)};
    ASSERT_EQ((*s)->commit(b, {c}).error, StoreError::none);
    Store::Batch d;
    d.deletes = {41};
    ASSERT_EQ((*s)->commit(d, {c}).error, StoreError::none);
  }
  auto s = Store::open(o, rep);
  EXPECT_EQ((*s)->next_id(), 42u);
  EXPECT_EQ((*s)->total_count(), 0u);
}

TEST(Store, GarbageFileIsMovedAsideAndAFreshStoreOpens) {
  testing::ScratchDir dir;
  std::filesystem::create_directories(dir.sub("q"));
  {
    std::ofstream f(dir.sub("q/queue.db"));
    f << std::string(8192, 'Z');
  }
  OpenReport rep;
  auto s = Store::open(StoreOptions{dir.sub("q")}, rep);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(rep.moved_aside.empty());
  EXPECT_TRUE(std::filesystem::exists(rep.moved_aside));
  EXPECT_EQ((*s)->total_count(), 0u);
}

TEST(Store, UnopenableDirectoryIsAnErrorNotACrash) {
  testing::ScratchDir dir;
  { std::ofstream f(dir.sub("file")); }
  OpenReport rep;
  auto s = Store::open(StoreOptions{dir.sub("file/q")}, rep);
  EXPECT_FALSE(s.ok());
}

TEST(Store, EvictsOldestOfLeastImportantClassFirst) {
  testing::ScratchDir dir;
  OpenReport rep;
  StoreOptions o{dir.sub("q")};
  const uint64_t each = 100 + kRowOverhead;
  o.max_size = each * 4;
  auto s = Store::open(o, rep);
  int a = *(*s)->class_code("alarm"), t = *(*s)->class_code("telemetry");
  Store::Batch b;
  b.inserts = {msg(1, t, 1), msg(2, a, 2), msg(3, t, 3), msg(4, a, 4)};
  ASSERT_EQ((*s)->commit(b, {a, t}).error, StoreError::none);
  Store::Batch more;
  more.inserts = {msg(5, a, 5)};
  auto r = (*s)->commit(more, {a, t});
  EXPECT_EQ(r.evicted, (std::vector<uint64_t>{1}));
  more.inserts = {msg(6, a, 6), msg(7, a, 7)};
  r = (*s)->commit(more, {a, t});
  EXPECT_EQ(r.evicted, (std::vector<uint64_t>{3, 2}));  // telemetry empties first, then alarm's oldest
  EXPECT_EQ((*s)->total_count(), 4u);
  EXPECT_LE((*s)->total_bytes(), o.max_size);
}

TEST(Store, ExpiresByClassTtlAndOwnExpiry) {
  testing::ScratchDir dir;
  OpenReport rep;
  auto s = Store::open(StoreOptions{dir.sub("q")}, rep);
  int c = *(*s)->class_code("c");
  Store::Batch b;
  b.inserts = {msg(1, c, 1000), msg(2, c, 2000), msg(3, c, 3000)};
  b.inserts[2].expires_ms = 3500;
  ASSERT_EQ((*s)->commit(b, {c}).error, StoreError::none);
  auto r = (*s)->expire({{c, 1500}}, 3600);  // ts <= 2100 expire by class; id 3 by its own expiry
  EXPECT_EQ(r.expired, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ((*s)->total_count(), 0u);
}

TEST(Store, FullDiskRollsBackTheBatchAndKeepsStoredMessages) {
  testing::ScratchDir dir;
  OpenReport rep;
  StoreOptions o{dir.sub("q")};
  o.max_pages = 40;
  auto s = Store::open(o, rep);
  int c = *(*s)->class_code("c");
  uint64_t id = 1, stored = 0;
  StoreError last = StoreError::none;
  for (int round = 0; round < 100 && last == StoreError::none; ++round) {
    Store::Batch b;
    for (int i = 0; i < 20; ++i) b.inserts.push_back(msg(id++, c, 1, std::string(200, 'p')));
    auto r = (*s)->commit(b, {c});
    last = r.error;
    if (r.error == StoreError::none) stored += 20;
  }
  EXPECT_EQ(last, StoreError::full);
  EXPECT_GT(stored, 0u);
  EXPECT_EQ((*s)->total_count(), stored);
  auto rows = (*s)->read(c, 0, 100000);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), stored);
}

}  // namespace
}  // namespace uplink
