#include "wal/wal_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "common/coding.h"
#include "common/fault_env.h"
#include "wal/slow_sync_env.h"

namespace sawmill::wal {
namespace {

// Payload: 8 bytes for the base seq, then text.
std::string MakePayload(const std::string& text) { return std::string(8, '\0') + text; }

class WalManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<WalManager> OpenWal(WalOptions options = {}, Env* env = nullptr) {
    applied_.clear();
    auto wal = WalManager::Open(env != nullptr ? env : &env_, &clock_, "/data/wal", options,
                                [this](WalBatch& b) {
                                  applied_.push_back(b.payload.substr(8));
                                  applied_seqs_.push_back(b.base_seq);
                                });
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    return std::move(wal).value();
  }
  // Replays and returns the texts seen.
  std::vector<std::string> Replay(WalManager* wal, uint64_t* max_seq = nullptr) {
    std::vector<std::string> seen;
    auto r = wal->Replay([&](std::string_view payload, uint64_t* seq) {
      if (payload.size() < 8) return Status::DataLoss("short");
      *seq = DecodeFixed64(payload.data());
      seen.emplace_back(payload.substr(8));
      return Status::OK();
    });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (max_seq != nullptr && r.ok()) *max_seq = *r;
    return seen;
  }
  Status Commit(WalManager* wal, const std::string& text) {
    WalBatch b;
    b.payload = MakePayload(text);
    b.count = 1;
    return wal->Commit(&b);
  }

  FaultInjectionEnv env_;
  ManualClock clock_;
  std::vector<std::string> applied_;
  std::vector<uint64_t> applied_seqs_;
};

TEST_F(WalManagerTest, CommittedRecordsSurviveACrash) {
  {
    auto wal = OpenWal();
    EXPECT_TRUE(Replay(wal.get()).empty());
    wal->SetNextSeq(100);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Commit(wal.get(), "r" + std::to_string(i)).ok());
    EXPECT_EQ(applied_seqs_.front(), 100u);
    EXPECT_EQ(applied_seqs_.back(), 109u);
  }
  env_.SimulateCrash();
  auto wal = OpenWal();
  uint64_t max_seq = 0;
  auto seen = Replay(wal.get(), &max_seq);
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[9], "r9");
  EXPECT_EQ(max_seq, 109u);
}

TEST_F(WalManagerTest, ConcurrentWritersShareSyncs) {
  SlowSyncEnv slow(&env_, std::chrono::milliseconds(2));
  auto wal = OpenWal({}, &slow);
  Replay(wal.get());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Commit(wal.get(), std::to_string(t) + ":" + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  WalStats s = wal->stats();
  EXPECT_EQ(s.commits, static_cast<uint64_t>(kThreads * kPerThread));
  // With 8 writers and a 2 ms sync, groups form on every sync but the first few.
  EXPECT_LT(s.syncs, s.commits / 2);
  // Applied exactly once each, in seq order.
  ASSERT_EQ(applied_seqs_.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_TRUE(std::is_sorted(applied_seqs_.begin(), applied_seqs_.end()));
  EXPECT_EQ(std::adjacent_find(applied_seqs_.begin(), applied_seqs_.end()), applied_seqs_.end());
}

TEST_F(WalManagerTest, FailedSyncIsNotAcknowledgedAndLogMovesOn) {
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_TRUE(Commit(wal.get(), "before").ok());
  env_.InjectSyncFailure(1);
  Status s = Commit(wal.get(), "failed");
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  ASSERT_TRUE(Commit(wal.get(), "after").ok());
  EXPECT_EQ(applied_, (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(wal->stats().files, 2u);  // the failed file is never appended to again
  wal.reset();
  env_.SimulateCrash();
  auto wal2 = OpenWal();
  auto seen = Replay(wal2.get());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "before"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "after"), seen.end());
}

TEST_F(WalManagerTest, RotatesAndDeletesOnlyFlushedFiles) {
  WalOptions options;
  options.file_bytes = 4096;
  auto wal = OpenWal(options);
  Replay(wal.get());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Commit(wal.get(), std::string(200, 'x')).ok());
  const uint64_t files = wal->stats().files;
  EXPECT_GT(files, 3u);
  // Records with seq < 50 are in segments: only files holding nothing newer may go.
  int deleted = wal->DeleteObsoleteFiles(50);
  EXPECT_GT(deleted, 0);
  wal.reset();
  auto wal2 = OpenWal(options);
  auto seen = Replay(wal2.get());
  uint64_t min_seq_left = UINT64_MAX;
  EXPECT_GE(seen.size(), 51u);
  EXPECT_LT(seen.size(), 100u);
  (void)min_seq_left;
  // Everything deleted now: all seqs flushed.
  EXPECT_GT(wal2->DeleteObsoleteFiles(1000), 0);
  EXPECT_EQ(wal2->stats().files, 1u);
}

TEST_F(WalManagerTest, CommitAfterCloseIsUnavailable) {
  auto wal = OpenWal();
  Replay(wal.get());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_TRUE(Commit(wal.get(), "late").IsUnavailable());
}

TEST_F(WalManagerTest, ReplayCountsDamagedRecords) {
  {
    auto wal = OpenWal();
    Replay(wal.get());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(Commit(wal.get(), std::string(100, 'a' + i)).ok());
  }
  std::string c;
  ASSERT_TRUE(env_.GetContents("/data/wal/000001.log", &c).ok());
  c[2 * (11 + 108) + 11 + 50] ^= 0x10;  // inside the third record's text
  ASSERT_TRUE(env_.SetContents("/data/wal/000001.log", c).ok());
  auto wal = OpenWal();
  auto seen = Replay(wal.get());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_EQ(wal->stats().corrupt_records, 1u);
}

TEST_F(WalManagerTest, DamageInOneFileDoesNotStopReplayOfTheNext) {
  WalOptions options;
  options.file_bytes = 1024;
  {
    auto wal = OpenWal(options);
    Replay(wal.get());
    for (int i = 0; i < 30; ++i)
      ASSERT_TRUE(Commit(wal.get(), "r" + std::to_string(i) + std::string(100, '.')).ok());
  }
  auto names = env_.GetChildren("/data/wal");
  ASSERT_GE(names->size(), 3u);
  std::sort(names->begin(), names->end());
  const std::string victim = "/data/wal/" + (*names)[1];
  std::string c;
  ASSERT_TRUE(env_.GetContents(victim, &c).ok());
  c[11 + 30] ^= 1;  // the first record of the second file
  ASSERT_TRUE(env_.SetContents(victim, c).ok());
  auto wal = OpenWal(options);
  auto seen = Replay(wal.get());
  EXPECT_EQ(seen.size(), 29u);
  EXPECT_EQ(seen.back().substr(0, 3), "r29");
  EXPECT_EQ(wal->stats().corrupt_records, 1u);
}

}  // namespace
}  // namespace sawmill::wal
