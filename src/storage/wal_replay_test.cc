#include "storage/wal_replay.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fault_env.h"
#include "wal/record_batch.h"

namespace sawmill::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

class WalReplayTest : public ::testing::Test {
 protected:
  // Writes batches of "sizes" records (one batch each; tenant "acme", seqs from 1 on) to the
  // WAL, the last one with Idempotency-Key "k1" when "with_key", and closes it.
  void WriteWal(const std::vector<int>& sizes, bool with_key = false) {
    auto wal = wal::WalManager::Open(&env_, &clock_, "/data/wal", {}, [](wal::WalBatch&) {});
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    ASSERT_TRUE((*wal)->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
    for (size_t b = 0; b < sizes.size(); ++b) {
      std::vector<Record> records;
      for (int i = 0; i < sizes[b]; ++i) {
        Record r;
        r.ts = r.ingest_ts = kNow;
        r.service = "api";
        r.message = "batch " + std::to_string(b) + " line " + std::to_string(i);
        records.push_back(std::move(r));
      }
      wal::BatchIdempotency key{"k1", 77, kNow, "answer"};
      const bool keyed = with_key && b + 1 == sizes.size();
      wal::WalBatch batch;
      wal::EncodeBatch("acme", records, &batch.payload, keyed ? &key : nullptr);
      batch.count = records.size();
      ASSERT_TRUE((*wal)->Commit(&batch).ok());
    }
    ASSERT_TRUE((*wal)->Close().ok());
  }

  std::unique_ptr<wal::WalManager> OpenWal() {
    auto wal = wal::WalManager::Open(&env_, &clock_, "/data/wal", {}, [](wal::WalBatch&) {});
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    return std::move(wal).value();
  }

  WalReplay::Target MakeTarget() {
    WalReplay::Target target;
    target.mu = &mu_;
    target.memtables = &memtables_;
    target.keys = &keys_;
    target.partitions = 1;
    target.memtable_cap_bytes = 1ull << 30;
    target.relieve_memory = [this] { ++relieved_; };
    return target;
  }

  // The seqs back in the memtable of ("acme", 0), in order.
  std::vector<uint64_t> Replayed() {
    Snapshot snapshot;
    snapshot.tenant = "acme";
    MutexLock l(&mu_);
    memtables_.AddToSnapshot(&snapshot);
    std::vector<uint64_t> out;
    for (const MemtableView& view : snapshot.memtables) {
      for (const auto& chunk : view.chunks) {
        for (const Record& r : *chunk) out.push_back(r.seq);
      }
    }
    return out;
  }

  FaultInjectionEnv env_;
  ManualClock clock_{kNow};
  Mutex mu_;
  MemtableSet memtables_{&clock_};
  IdempotencyKeys keys_{24 * 3600 * 1'000'000'000ll, 1000};
  int relieved_ = 0;
};

TEST_F(WalReplayTest, RecordsInRegisteredSegmentsAreNotReplayedEvenWhenRangesOverlap) {
  WriteWal({10, 10, 10});  // seqs 1..30
  auto wal = OpenWal();
  WalReplay replay;
  // A wide range hides a narrow one inside it: seq 12 is covered by [2, 14], not by [4, 6].
  replay.Cover({"acme", 0}, 2, 14);
  replay.Cover({"acme", 0}, 4, 6);
  replay.Cover({"acme", 0}, 20, 25);
  replay.Cover({"other", 0}, 1, 30);  // another tenant's segment covers nothing of acme
  ASSERT_TRUE(replay.Run(wal.get(), kNow, MakeTarget()).ok());

  std::vector<uint64_t> want = {1};
  for (uint64_t s = 15; s <= 19; ++s) want.push_back(s);
  for (uint64_t s = 26; s <= 30; ++s) want.push_back(s);
  EXPECT_EQ(Replayed(), want);
  EXPECT_EQ(wal->next_seq(), 31u);
  EXPECT_EQ(relieved_, 0);
}

TEST_F(WalReplayTest, TheIdempotencyKeyOfAReplayedBatchIsRemembered) {
  WriteWal({2, 3}, /*with_key=*/true);
  auto wal = OpenWal();
  WalReplay replay;
  ASSERT_TRUE(replay.Run(wal.get(), kNow, MakeTarget()).ok());
  auto key = keys_.Find("acme", "k1", kNow);
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->first_seq, 3u);
  EXPECT_EQ(key->count, 3u);
  EXPECT_EQ(key->answer, "answer");
  EXPECT_EQ(key->body_hash, 77u);
}

TEST_F(WalReplayTest, MemoryIsRelievedWhenReplayOutgrowsTheCap) {
  WriteWal({5, 5, 5});
  auto wal = OpenWal();
  WalReplay replay;
  WalReplay::Target target = MakeTarget();
  target.memtable_cap_bytes = 1;  // every batch leaves the memtables over the cap
  ASSERT_TRUE(replay.Run(wal.get(), kNow, target).ok());
  EXPECT_EQ(relieved_, 3);
  EXPECT_EQ(Replayed().size(), 15u);
}

}  // namespace
}  // namespace sawmill::storage
