// The engine and its catalog: segment ids come from the catalog, and each segment's tier and
// location reach the snapshots the query planner plans from.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "storage/engine_test_fixture.h"
#include "storage/lines_test_util.h"

namespace sawmill::storage {
namespace {

class CatalogIdsTest : public EngineTest {
 protected:
  // Appends "count" lines of one service and host (one partition) and flushes them.
  void AppendAndFlush(int first, int count) {
    std::vector<Record> batch = NumberedLines(first, count, {.services = 1, .hosts = 1});
    ASSERT_TRUE(engine_->Append("acme", &batch).ok());
    ASSERT_TRUE(engine_->Flush().ok());
  }
  std::vector<uint64_t> SegmentIds() {
    std::vector<uint64_t> ids;
    auto snapshot = engine_->GetSnapshot("acme");
    for (const SegmentHandle& h : snapshot->segments) ids.push_back(h.info.id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(options_.catalog_path.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << msg;
  }
};

TEST_F(CatalogIdsTest, SegmentIdsComeFromTheCatalog) {
  OpenEngine();
  AppendAndFlush(0, 10);
  ASSERT_EQ(SegmentIds(), std::vector<uint64_t>{1});
  // Another user of the catalog takes ids meanwhile (as a second process sharing it would):
  // the engine's next segments get none of them.
  auto taken = catalog()->AllocateSegmentId();
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(*taken, 2u);
  ASSERT_TRUE(catalog()->ReserveIds(50).ok());
  AppendAndFlush(10, 10);
  EXPECT_EQ(SegmentIds(), (std::vector<uint64_t>{1, 51}));
  // A compaction's output too.
  AppendAndFlush(20, 10);
  AppendAndFlush(30, 10);
  ASSERT_TRUE(engine_->CompactNow().ok());
  ASSERT_EQ(engine_->stats().compactions, 1u);
  EXPECT_EQ(SegmentIds(), std::vector<uint64_t>{54});
  EXPECT_EQ(*catalog()->MaxId(), 54u);
}

TEST_F(CatalogIdsTest, IdsContinueAboveTheMaximumAfterARestart) {
  OpenEngine();
  AppendAndFlush(0, 10);
  AppendAndFlush(10, 10);
  ASSERT_EQ(SegmentIds(), (std::vector<uint64_t>{1, 2}));
  // An id allocated by a flush that then failed (here: by hand) is not handed out again.
  ASSERT_TRUE(catalog()->AllocateSegmentId().ok());
  CrashAndReopen();
  AppendAndFlush(20, 10);
  EXPECT_EQ(SegmentIds(), (std::vector<uint64_t>{1, 2, 4}));
  engine_.reset();
  OpenEngine();
  AppendAndFlush(30, 10);
  EXPECT_EQ(SegmentIds(), (std::vector<uint64_t>{1, 2, 4, 5}));
}

TEST_F(CatalogIdsTest, SnapshotCarriesEachSegmentsTierAndLocation) {
  OpenEngine();
  AppendAndFlush(0, 10);
  auto snapshot = engine_->GetSnapshot("acme");
  ASSERT_EQ(snapshot->segments.size(), 1u);
  const SegmentHandle& h = snapshot->segments[0];
  auto row = catalog()->Get(h.info.id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ(h.tier, "hot");
  EXPECT_EQ(h.store, "local");
  EXPECT_EQ(h.object, (*row)->path);
  EXPECT_EQ((*row)->store, "local");
  EXPECT_EQ(h.object.rfind("segments/hot/acme/", 0), 0u) << h.object;
  EXPECT_EQ(h.path, "/data/" + h.object);
}

// A data directory whose catalog an older build wrote (schema version 1: no store column, no
// max_id row) opens with every line, and new segments get ids above the old ones.
TEST_F(CatalogIdsTest, DataDirectoryOfAnOlderBuildKeepsWorking) {
  OpenEngine();
  AppendAndFlush(0, 10);
  AppendAndFlush(10, 10);
  engine_.reset();
  Sql("ALTER TABLE segments DROP COLUMN store; "
      "UPDATE meta SET value = 1 WHERE key = 'schema_version'; "
      "DELETE FROM meta WHERE key = 'max_id';");
  OpenEngine();
  auto snapshot = engine_->GetSnapshot("acme");
  Contents c = Read(*snapshot);
  EXPECT_EQ(c.errors, 0);
  EXPECT_EQ(c.total(), 20u);
  ASSERT_EQ(snapshot->segments.size(), 2u);
  for (const SegmentHandle& h : snapshot->segments) EXPECT_EQ(h.store, "local");
  snapshot.reset();
  AppendAndFlush(20, 10);
  EXPECT_EQ(SegmentIds(), (std::vector<uint64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace sawmill::storage
