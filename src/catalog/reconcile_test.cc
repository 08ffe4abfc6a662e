#include "catalog/reconcile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/fault_env.h"

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
    auto c = Catalog::Open((dir_ / "catalog.db").string());
    ASSERT_TRUE(c.ok());
    catalog_ = std::move(c).value();
    ASSERT_TRUE(env_.CreateDirs("/d/segments/hot/t1/0").ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A segment file whose "contents" the fake reader maps back to a row.
  SegmentRow AddFile(uint64_t id, uint64_t min_seq, uint64_t max_seq, bool register_row) {
    SegmentRow r;
    r.id = id;
    r.tenant = "t1";
    r.partition = 0;
    r.min_seq = min_seq;
    r.max_seq = max_seq;
    r.rows = max_seq - min_seq + 1;
    r.path = "/d/segments/hot/t1/0/" + std::to_string(id) + ".seg";
    EXPECT_TRUE(env_.SetContents(r.path, "segment").ok());
    files_[r.path] = r;
    if (register_row) {
      EXPECT_TRUE(catalog_->Insert(r).ok());
    }
    return r;
  }
  Result<ReconcileReport> Run() {
    return Reconcile(
        &env_, "/d/segments", catalog_.get(),
        [this](const std::string& path) -> Result<SegmentRow> {
          auto it = files_.find(path);
          if (it == files_.end()) return Status::DataLoss(path + ": bad magic");
          return it->second;
        },
        1);
  }

  std::filesystem::path dir_;
  FaultInjectionEnv env_;
  std::unique_ptr<Catalog> catalog_;
  std::map<std::string, SegmentRow> files_;
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
  ASSERT_TRUE(env_.RemoveFile(gone.path).ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rows_missing_file, 1u);
  ASSERT_EQ(report->messages.size(), 1u);
  EXPECT_NE(report->messages[0].find(gone.path), std::string::npos);
  EXPECT_EQ((*catalog_->Get(2))->state, kStateMissing);
  EXPECT_EQ((*catalog_->Get(1))->state, kStateActive);
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
}

TEST_F(ReconcileTest, OverlappingOrUnreadableOrphansAreDeleted) {
  AddFile(1, 1, 10, true);
  AddFile(2, 11, 20, true);
  SegmentRow merged = AddFile(3, 1, 20, false);  // compaction output whose swap never committed
  ASSERT_TRUE(env_.SetContents("/d/segments/hot/t1/0/4.seg", "garbage").ok());
  ASSERT_TRUE(env_.SetContents("/d/segments/hot/t1/0/5.seg.tmp", "partial").ok());
  auto report = Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->orphans_deleted, 3u);
  EXPECT_FALSE(env_.FileExists(merged.path));
  EXPECT_FALSE(env_.FileExists("/d/segments/hot/t1/0/4.seg"));
  EXPECT_FALSE(env_.FileExists("/d/segments/hot/t1/0/5.seg.tmp"));
  EXPECT_EQ(catalog_->List()->size(), 2u);
  EXPECT_EQ(report->max_file_id, 4u);
}

}  // namespace
}  // namespace sawmill::catalog
