// One partition count per store (docs/cluster.md "One partition count per store"): the embedded
// node restarted with another `partitions` than its data was filed by.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "catalog/pg_catalog.h"
#include "common/hash.h"
#include "storage/engine_test_fixture.h"
#include "storage/lines_test_util.h"
#include "storage/storage_engine.h"

namespace sawmill::storage {
namespace {

// "count" lines of 12 hosts of 3 services, numbered from "first": spread over the partitions
// of any count, so that most lines change partition when the count does.
std::vector<Record> Lines(int first, int count) {
  return NumberedLines(first, count, {.hosts = 12});
}

class PartitionCountTest : public EngineTest {
 protected:
  Status Append(int first, int count) {
    auto batch = Lines(first, count);
    return engine_->Append("acme", &batch);
  }
  // Runs "sql" on the catalog file while no engine holds it; returns the rows it changed.
  int Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(options_.catalog_path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << (error != nullptr ? error : "");
    sqlite3_free(error);
    const int changed = sqlite3_changes(db);
    sqlite3_close(db);
    return changed;
  }
  // 120 lines in segments of 4 partitions, one of them in partition 3, then the engine closed
  // and the recorded count removed: a store as a build before the count was recorded left it.
  void MakeUnrecordedStoreOfFourPartitions() {
    options_.partitions = 4;
    OpenEngine();
    ASSERT_TRUE(Append(0, 120).ok());
    ASSERT_TRUE(engine_->Flush().ok());
    uint32_t highest = 0;
    auto rows = catalog()->List();
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    for (const auto& row : *rows) highest = std::max(highest, row.partition);
    ASSERT_EQ(highest, 3u) << "the test needs a segment in the last partition";
    engine_.reset();
    ASSERT_EQ(Sql("DELETE FROM meta WHERE key = 'setting.partitions'"), 1);
  }
  // Every line of [0, count) exactly once, and nothing else.
  void ExpectEachOnce(Engine* engine, int count, const char* when) {
    Contents c = Read(*engine->GetSnapshot("acme"));
    EXPECT_EQ(c.errors, 0) << when;
    EXPECT_EQ(c.total(), static_cast<size_t>(count)) << when;
    for (const Record& r : Lines(0, count)) {
      EXPECT_EQ(c.lines[r.message], 1) << when << ": " << r.message;
    }
  }
};

// Lines flushed to segments and still in the open WAL file, more acknowledged and not flushed,
// then a kill; the restart with another count is refused (naming both counts and the fix), and
// the restart with the recorded count finds every acknowledged line once. Without the check the
// restart with 3 partitions replays the 120 flushed lines again (WAL replay skips a record
// only when a segment of its own (tenant, partition) covers its seq, and their partitions moved
// with the count): 120 of them twice.
TEST_F(PartitionCountTest, ARestartWithAnotherCountIsRefusedAndLosesNoLine) {
  options_.partitions = 4;
  OpenEngine();
  ASSERT_TRUE(Append(0, 120).ok());
  ASSERT_TRUE(engine_->Flush().ok());  // in segments, and still in the open WAL file
  ASSERT_TRUE(Append(120, 60).ok());   // only in the WAL and the memtables
  int moved = 0;
  for (const Record& r : Lines(0, 120)) {
    moved += PartitionOf(r.service, r.host, 4) != PartitionOf(r.service, r.host, 3) ? 1 : 0;
  }
  ASSERT_GT(moved, 60) << "the test needs lines whose partition changes with the count";

  env_->CrashAfterOps(0);
  engine_.reset();
  env_->SimulateCrash();
  options_.partitions = 3;
  {
    auto refused = Engine::Open(options_);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
        << refused.status().ToString();
    const std::string why = refused.status().ToString();
    EXPECT_NE(why.find("partitions = 3"), std::string::npos) << why;
    EXPECT_NE(why.find("partitions = 4"), std::string::npos) << why;
    EXPECT_NE(why.find(options_.catalog_path), std::string::npos) << why;
    if (refused.ok()) ExpectEachOnce(refused->get(), 180, "opened with 3 partitions");
  }

  options_.partitions = 4;
  OpenEngine();
  ExpectEachOnce(engine_.get(), 180, "reopened with 4 partitions");
  ASSERT_TRUE(engine_->Flush().ok());
  ExpectEachOnce(engine_.get(), 180, "flushed");
}

// A store takes the count of its first open (also one made by a build before the count was
// recorded: no meta row), and only that count opens it again.
TEST_F(PartitionCountTest, AStoreKeepsTheCountOfItsFirstOpen) {
  options_.partitions = 5;
  OpenEngine();
  ASSERT_TRUE(Append(0, 30).ok());
  EXPECT_EQ(*catalog()->SettleSetting("partitions", 16), 5u);
  engine_.reset();
  options_.partitions = 16;
  EXPECT_EQ(Engine::Open(options_).status().code(), StatusCode::kFailedPrecondition);
  options_.partitions = 5;
  OpenEngine();
  ExpectEachOnce(engine_.get(), 30, "reopened");
}

// A store of a build from before the count was recorded, opened with fewer partitions than its
// segments were filed by: refused by the segment it names (its partition, the catalog and the
// fix), nothing recorded; the right count opens it, finds every line once and is recorded.
// Without the guard the open with 3 records 3, and the store is then filed by two counts.
TEST_F(PartitionCountTest, AnUnrecordedStoreIsRefusedACountNotAboveItsSegmentsPartitions) {
  MakeUnrecordedStoreOfFourPartitions();
  options_.partitions = 3;
  {
    auto refused = Engine::Open(options_);
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition)
        << refused.status().ToString();
    const std::string why = refused.status().ToString();
    EXPECT_NE(why.find("partitions = 3"), std::string::npos) << why;
    EXPECT_NE(why.find("of partition 3"), std::string::npos) << why;
    EXPECT_NE(why.find("partitions = 4 or more"), std::string::npos) << why;
    EXPECT_NE(why.find(options_.catalog_path), std::string::npos) << why;
  }
  {
    auto kept = catalog::OpenCatalog(options_.catalog_path);
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
    auto count = (*kept)->ReadSetting("partitions");
    ASSERT_TRUE(count.ok()) << count.status().ToString();
    EXPECT_FALSE(count->has_value()) << "the refused open recorded " << **count;
  }
  options_.partitions = 4;
  OpenEngine();
  ExpectEachOnce(engine_.get(), 120, "reopened with 4 partitions");
  EXPECT_EQ(*catalog()->SettleSetting("partitions", 3), 4u);
}

// The guard looks at the catalog as reconciliation leaves it: a partition column damaged in the
// catalog (a flipped bit: 3 -> 259) is rewritten from the segment's file first, so the store
// opens with its count. (Run before reconciliation, the guard refused this open: session 13's
// ReconcileOnDisk.FlippedByteInAnyCatalogColumnLosesNothing, on a recorded store, and this.)
TEST_F(PartitionCountTest, AnUnrecordedStoreWithADamagedPartitionColumnOpens) {
  MakeUnrecordedStoreOfFourPartitions();
  ASSERT_EQ(Sql("UPDATE segments SET partition = partition + 256 WHERE id = (SELECT id FROM "
                "segments WHERE partition = 3 ORDER BY id LIMIT 1)"),
            1);
  OpenEngine();
  ExpectEachOnce(engine_.get(), 120, "opened with 4 partitions");
  auto rows = catalog()->List();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  for (const auto& row : *rows) EXPECT_LT(row.partition, 4u) << row.id;
  EXPECT_EQ(*catalog()->SettleSetting("partitions", 3), 4u);
}

}  // namespace
}  // namespace sawmill::storage
