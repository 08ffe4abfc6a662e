#include "catalog/reconcile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "catalog/sqlite_catalog.h"
#include "common/fault_env.h"
#include "objstore/local_directory_store.h"

namespace sawmill::catalog {
namespace {

class ReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_reconcile_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto c = OpenSqliteCatalog((dir_ / "catalog.db").string());
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(c).value();
    ASSERT_TRUE(env_.CreateDirs("/d/segments/hot/t1/0").ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A segment file whose "contents" the fake reader maps back to a row; its seqs are
  // [min_seq, max_seq] unless "seqs" says otherwise.
  SegmentRow AddFile(uint64_t id, uint64_t min_seq, uint64_t max_seq, bool register_row,
                     std::vector<uint64_t> seqs = {}) {
    SegmentRow r;
    r.id = id;
    r.tenant = "t1";
    r.partition = 0;
    r.min_seq = min_seq;
    r.max_seq = max_seq;
    r.rows = max_seq - min_seq + 1;
    r.path = "segments/hot/t1/0/" + std::to_string(id) + ".seg";
    r.tier = "hot";
    EXPECT_TRUE(env_.SetContents(Full(r.path), "segment " + std::to_string(id)).ok());
    files_[Full(r.path)] = r;
    if (seqs.empty()) {
      for (uint64_t s = min_seq; s <= max_seq; ++s) seqs.push_back(s);
    }
    seqs_[Full(r.path)] = seqs;
    if (register_row) {
      EXPECT_TRUE(catalog_->Insert(r).ok());
    }
    return r;
  }
  static std::string Full(const std::string& rel) { return "/d/" + rel; }
  Result<ReconcileReport> Run() {
    SegmentFileOps ops;
    ops.read_row = [this](const std::string&, const std::string& name) -> Result<SegmentRow> {
      const std::string path = Full(name);
      auto it = files_.find(path);
      if (it == files_.end() || !env_.FileExists(path))
        return Status::DataLoss(path + ": bad magic");
      return it->second;
    };
    ops.read_identity = [](const std::string&, const std::string& name) -> Result<SegmentRow> {
      return Status::DataLoss(Full(name) + ": no identity");
    };
    ops.read_seqs = [this](const std::string&,
                           const std::string& name) -> Result<std::vector<uint64_t>> {
      auto it = seqs_.find(Full(name));
      if (it == seqs_.end()) return Status::DataLoss(Full(name) + ": bad magic");
      return it->second;
    };
    // The data directory "/d" as the local object store, as the engine gives it.
    objstore::LocalDirectoryStore store(&env_, "/d");
    ReconcileStore local;
    local.name = std::string(kLocalStore);
    local.store = &store;
    local.prefix = "segments/";
    return Reconcile({local}, catalog_.get(), ops, 1);
  }

  std::filesystem::path dir_;
  FaultInjectionEnv env_;
  std::unique_ptr<Catalog> catalog_;
  std::map<std::string, SegmentRow> files_;
  std::map<std::string, std::vector<uint64_t>> seqs_;
};

TEST_F(ReconcileTest, ConsistentDirectoryChangesNothing) {
  AddFile(1, 1, 10, true);
  AddFile(2, 11, 20, true);
  auto report = Run();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->messages.empty());
  EXPECT_EQ(report->max_file_id, 2u);
}

TEST_F(ReconcileTest, RowWithoutFileIsMarkedMissingAndReported) {
  AddFile(1, 1, 10, true);
  SegmentRow gone = AddFile(2, 11, 20, true);
  ASSERT_TRUE(env_.RemoveFile(Full(gone.path)).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rows_missing_file, 1u);
  ASSERT_EQ(report->messages.size(), 1u);
  EXPECT_NE(report->messages[0].find(Full(gone.path)), std::string::npos);
  EXPECT_EQ((*catalog_->Get(2))->state, kStateMissing);
  EXPECT_EQ((*catalog_->Get(1))->state, kStateActive);
}

TEST_F(ReconcileTest, RowInAnotherStoreIsLeftAsItIs) {
  AddFile(1, 1, 10, true);
  // A segment whose bytes are in another object store: there is no file for it under the data
  // directory, and that is not a loss.
  SegmentRow remote;
  remote.id = 2;
  remote.tenant = "t1";
  remote.min_seq = 11;
  remote.max_seq = 20;
  remote.rows = 10;
  remote.tier = std::string(kTierCold);
  remote.store = "archive";
  remote.path = "t1/0/2.seg";
  ASSERT_TRUE(catalog_->Insert(remote).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->messages.empty());
  EXPECT_EQ(report->rows_missing_file, 0u);
  EXPECT_EQ(**catalog_->Get(2), remote);
}

TEST_F(ReconcileTest, UnregisteredFlushOutputIsRegistered) {
  AddFile(1, 1, 10, true);
  AddFile(2, 11, 20, false);
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->orphans_registered, 1u);
  auto row = catalog_->Get(2);
  ASSERT_TRUE(row->has_value());
  EXPECT_EQ((*row)->tier, "hot");
  EXPECT_EQ((*row)->store, "local");
  EXPECT_EQ((*row)->path, "segments/hot/t1/0/2.seg");
}

TEST_F(ReconcileTest, OnlyProvenSupersededOrphansAreDeleted) {
  AddFile(1, 1, 10, true);
  AddFile(2, 11, 20, true);
  // A compaction output whose swap never committed: every seq is in 1 and 2.
  SegmentRow merged = AddFile(3, 1, 20, false);
  // A segment whose range overlaps registered ones but whose rows are elsewhere: a flush of
  // another stream of seqs. Registered, never deleted.
  SegmentRow interleaved = AddFile(4, 5, 15, false, {100, 101});
  interleaved.min_seq = 5;
  // Half of its rows are registered elsewhere: neither registered nor deleted.
  AddFile(5, 19, 22, false);
  ASSERT_TRUE(env_.SetContents("/d/segments/hot/t1/0/6.seg", "garbage").ok());
  ASSERT_TRUE(env_.SetContents("/d/segments/hot/t1/0/7.seg.tmp", "partial").ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->orphans_deleted, 1u);
  EXPECT_FALSE(env_.FileExists(Full(merged.path)));
  EXPECT_EQ(report->orphans_registered, 1u);
  EXPECT_TRUE(catalog_->Get(4)->has_value());
  EXPECT_EQ(report->quarantined, 2u);
  EXPECT_TRUE(env_.FileExists("/d/quarantine/hot/t1/0/5.seg"));
  EXPECT_TRUE(env_.FileExists("/d/quarantine/hot/t1/0/6.seg"));
  EXPECT_FALSE(env_.FileExists("/d/segments/hot/t1/0/6.seg"));
  EXPECT_EQ(report->temporaries_deleted, 1u);
  EXPECT_FALSE(env_.FileExists("/d/segments/hot/t1/0/7.seg.tmp"));
  EXPECT_EQ(catalog_->List()->size(), 3u);
  EXPECT_EQ(report->max_file_id, 6u);
  EXPECT_GE(*catalog_->MaxId(), 6u);
}

TEST_F(ReconcileTest, AbsolutePathsOfOlderCatalogsAreRewrittenRelative) {
  SegmentRow r = AddFile(1, 1, 10, false);
  r.path = "/somewhere/else/data/segments/hot/t1/0/1.seg";
  ASSERT_TRUE(catalog_->Insert(r).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rows_repaired, 1u);
  EXPECT_EQ((*catalog_->Get(1))->path, "segments/hot/t1/0/1.seg");
  EXPECT_EQ((*catalog_->Get(1))->state, kStateActive);
  EXPECT_TRUE(env_.FileExists("/d/segments/hot/t1/0/1.seg"));
}

TEST_F(ReconcileTest, DamagedRowIsRewrittenFromItsFile) {
  SegmentRow r = AddFile(1, 1, 10, false);
  SegmentRow damaged = r;
  damaged.path = "segments/hot/t1/0/1.sef";
  damaged.tenant = "t3";
  damaged.max_seq = 4;
  damaged.state = "activf";
  ASSERT_TRUE(catalog_->Insert(damaged).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rows_repaired, 1u);
  SegmentRow now = **catalog_->Get(1);
  EXPECT_EQ(now.path, r.path);
  EXPECT_EQ(now.tenant, "t1");
  EXPECT_EQ(now.max_seq, 10u);
  EXPECT_EQ(now.state, kStateActive);
}

TEST_F(ReconcileTest, RowWithADamagedIdTakesTheIdOfItsFile) {
  AddFile(1, 1, 10, true);
  SegmentRow r = AddFile(2, 11, 20, false);
  SegmentRow damaged = r;
  damaged.id = 258;
  ASSERT_TRUE(catalog_->Insert(damaged).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rows_missing_file, 0u);
  EXPECT_EQ(report->orphans_registered, 0u);
  EXPECT_EQ(report->rows_repaired, 1u);
  EXPECT_FALSE(catalog_->Get(258)->has_value());
  ASSERT_TRUE(catalog_->Get(2)->has_value());
  EXPECT_EQ((*catalog_->Get(2))->state, kStateActive);
  EXPECT_EQ(catalog_->List()->size(), 2u);
}

TEST_F(ReconcileTest, RowWhoseFileDoesNotVerifyIsMarkedCorruptAndKept) {
  SegmentRow r = AddFile(1, 1, 10, true);
  files_.erase(Full(r.path));  // the reader now says "bad magic"
  auto report = Run();
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->corrupt.size(), 1u);
  EXPECT_EQ(report->corrupt[0].first, 1u);
  EXPECT_NE(report->corrupt[0].second.find("bad magic"), std::string::npos);
  EXPECT_EQ((*catalog_->Get(1))->state, kStateCorrupt);
  EXPECT_TRUE(env_.FileExists(Full(r.path)));
  // Found once: the next start does not count it again.
  report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->corrupt.empty());
}

}  // namespace
}  // namespace sawmill::catalog
