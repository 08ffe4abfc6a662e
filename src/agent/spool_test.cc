#include "agent/spool.h"

#include <gtest/gtest.h>

#include "agent/batch_builder.h"
#include "common/fault_env.h"

namespace sawmill::agent {
namespace {

SpoolBatch MakeBatch(uint64_t seq, int debug, int info, int warn) {
  BatchBuilder builder(3);
  auto add = [&](Level level, int n) {
    for (int i = 0; i < n; ++i) {
      Record r;
      r.level = level;
      r.message = "line " + std::to_string(i) + " of batch " + std::to_string(seq);
      builder.Add(r, 0);
    }
  };
  add(Level::kDebug, debug);
  add(Level::kInfo, info);
  add(Level::kWarn, warn);
  SpoolBatch batch;
  EXPECT_TRUE(builder.Seal(&batch).ok());
  batch.seq = seq;
  batch.created_ns = static_cast<int64_t>(seq) * 1000;
  FileCursor cursor;
  cursor.dev = 1;
  cursor.ino = 2;
  cursor.fingerprint = 3;
  cursor.fp_len = 10;
  cursor.offset = seq * 100;
  cursor.path = "/var/log/a.log";
  batch.cursors.push_back(cursor);
  return batch;
}

TEST(Spool, BatchesSurviveReopenWithTheirSequenceAndPositions) {
  auto env = std::make_unique<FaultInjectionEnv>();
  {
    auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
    ASSERT_TRUE(spool->Append(MakeBatch(1, 1, 2, 3)).ok());
    ASSERT_TRUE(spool->Append(MakeBatch(2, 0, 5, 0)).ok());
  }
  auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
  EXPECT_EQ(spool->MaxSeq(), 2u);
  EXPECT_EQ(spool->PendingBatches(), 2u);
  ASSERT_EQ(spool->RecoveredCursors().size(), 1u);
  EXPECT_EQ(spool->RecoveredCursors()[0].offset, 200u);
  auto seq = spool->NextToSend(Spool::Pick::kOldest);
  ASSERT_TRUE(seq);
  EXPECT_EQ(*seq, 1u);
  LevelCounts lost{};
  auto batch = spool->Load(*seq, &lost);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->Lines(), 6u);
  auto body = BatchBody(*batch, 3);
  ASSERT_TRUE(body.ok());
  auto ndjson = ZstdDecompress(*body, 1 << 20);
  ASSERT_TRUE(ndjson.ok());
  EXPECT_EQ(std::count(ndjson->begin(), ndjson->end(), '\n'), 6);
}

TEST(Spool, CorruptBatchIsSetAsideAndCounted) {
  auto env = std::make_unique<FaultInjectionEnv>();
  auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
  ASSERT_TRUE(spool->Append(MakeBatch(7, 0, 3, 1)).ok());
  std::string path = "/spool/00000000000000000007.batch";
  std::string data;
  ASSERT_TRUE(ReadFileToString(env.get(), path, &data).ok());
  data[data.size() - 10] ^= 0x55;  // inside the body
  ASSERT_TRUE(WriteFileAtomically(env.get(), path, data).ok());
  auto seq = spool->NextToSend(Spool::Pick::kOldest);
  LevelCounts lost{};
  auto batch = spool->Load(*seq, &lost);
  ASSERT_FALSE(batch.ok());
  EXPECT_TRUE(batch.status().IsDataLoss());
  EXPECT_EQ(lost[static_cast<int>(Level::kInfo)], 3u);
  EXPECT_EQ(spool->PendingBatches(), 0u);
  EXPECT_TRUE(env->FileExists(path + ".corrupt"));
}

TEST(Spool, FullSpoolRefusesAppend) {
  auto env = std::make_unique<FaultInjectionEnv>();
  SpoolBatch batch = MakeBatch(1, 0, 0, 50);
  uint64_t size = EncodeBatch(batch).size();
  auto spool = std::move(Spool::Open(env.get(), "/spool", size * 2 + 10)).value();
  ASSERT_TRUE(spool->Append(batch).ok());
  ASSERT_TRUE(spool->Append(MakeBatch(2, 0, 0, 50)).ok());
  Status st = spool->Append(MakeBatch(3, 0, 0, 50));
  EXPECT_TRUE(st.IsResourceExhausted()) << st.ToString();
}

TEST(Spool, DropOldestRemovesOnlyThatLevelClassOldestFirst) {
  auto env = std::make_unique<FaultInjectionEnv>();
  auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
  ASSERT_TRUE(spool->Append(MakeBatch(1, 4, 5, 6)).ok());
  ASSERT_TRUE(spool->Append(MakeBatch(2, 7, 8, 9)).ok());
  auto drop = spool->DropOldest(LevelClass::kLow);
  ASSERT_TRUE(drop);
  EXPECT_EQ(drop->seq, 1u);
  EXPECT_EQ(drop->counts[static_cast<int>(Level::kDebug)], 4u);
  auto lines = spool->PendingLinesByClass();
  EXPECT_EQ(lines[0], 7u);
  EXPECT_EQ(lines[1], 13u);
  EXPECT_EQ(lines[2], 15u);
  // The rewritten batch keeps its WARN lines and its sequence number.
  LevelCounts lost{};
  auto batch = spool->Load(1, &lost);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->Counts()[static_cast<int>(Level::kWarn)], 6u);
  EXPECT_EQ(batch->seq, 1u);
  // A batch left empty counts as sent and is removed with the acknowledged ones.
  ASSERT_TRUE(spool->Append(MakeBatch(3, 2, 0, 0)).ok());
  ASSERT_TRUE(spool->DropOldest(LevelClass::kLow));  // seq 2
  ASSERT_TRUE(spool->DropOldest(LevelClass::kLow));  // seq 3, now empty
  EXPECT_EQ(spool->AckedSeqs(), std::vector<uint64_t>{3});
  EXPECT_FALSE(spool->DropOldest(LevelClass::kLow));
}

TEST(Spool, AckedBatchesLeaveOnlyWhenRemoved) {
  auto env = std::make_unique<FaultInjectionEnv>();
  auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
  ASSERT_TRUE(spool->Append(MakeBatch(1, 0, 1, 0)).ok());
  ASSERT_TRUE(spool->Append(MakeBatch(2, 0, 1, 0)).ok());
  auto newest = spool->NextToSend(Spool::Pick::kNewest);
  ASSERT_EQ(*newest, 2u);
  spool->Ack(2);
  EXPECT_EQ(spool->PendingBatches(), 1u);
  EXPECT_TRUE(env->FileExists("/spool/00000000000000000002.batch"));
  spool->RemoveAcked(spool->AckedSeqs());
  EXPECT_FALSE(env->FileExists("/spool/00000000000000000002.batch"));
  // Released batches can be picked again; in-flight ones cannot.
  auto oldest = spool->NextToSend(Spool::Pick::kOldest);
  ASSERT_EQ(*oldest, 1u);
  EXPECT_FALSE(spool->NextToSend(Spool::Pick::kOldest));
  spool->Release(1);
  EXPECT_EQ(*spool->NextToSend(Spool::Pick::kOldest), 1u);
}

TEST(Spool, AppendedBatchSurvivesACrash) {
  auto env = std::make_unique<FaultInjectionEnv>();
  {
    auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
    ASSERT_TRUE(spool->Append(MakeBatch(5, 1, 1, 1)).ok());
  }
  env->SimulateCrash();
  auto spool = std::move(Spool::Open(env.get(), "/spool", 1 << 20)).value();
  EXPECT_EQ(spool->MaxSeq(), 5u);
  EXPECT_EQ(spool->PendingBatches(), 1u);
}

}  // namespace
}  // namespace sawmill::agent
