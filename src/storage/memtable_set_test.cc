#include "storage/memtable_set.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "storage/lines_test_util.h"

namespace sawmill::storage {
namespace {

// Every seq of one partition of a snapshot, in snapshot order.
std::vector<uint64_t> Seqs(const Snapshot& snapshot, uint32_t partition) {
  std::vector<uint64_t> out;
  for (const MemtableView& view : snapshot.memtables) {
    if (view.partition != partition) continue;
    for (const auto& chunk : view.chunks) {
      for (const Record& r : *chunk) out.push_back(r.seq);
    }
  }
  return out;
}

Snapshot SnapshotOf(MemtableSet* set, const std::string& tenant) {
  Snapshot snapshot;
  snapshot.tenant = tenant;
  set->AddToSnapshot(&snapshot);
  return snapshot;
}

TEST(MemtableSet, AFrozenMemtableStaysVisibleUntilItsFlushIsDropped) {
  ManualClock clock(1000);
  MemtableSet set(&clock);
  const PartitionKey key{"acme", 2};
  for (uint64_t s = 1; s <= 3; ++s) set.Insert(key, SeqRecord(s));
  set.Freeze(key);
  for (uint64_t s = 4; s <= 5; ++s) set.Insert(key, SeqRecord(s));
  set.SetApplied(6);
  const uint64_t frozen_bytes = set.bytes() - set.ActiveBytes(key);
  EXPECT_GT(frozen_bytes, 0u);

  // Older (frozen) records come before newer (active) ones.
  EXPECT_EQ(Seqs(SnapshotOf(&set, "acme"), 2), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(set.MinUnflushedSeq(), 1u);

  auto frozen = set.OldestFrozen(key);
  ASSERT_NE(frozen, nullptr);
  EXPECT_EQ(frozen->min_seq, 1u);
  EXPECT_EQ(frozen->max_seq, 3u);
  EXPECT_EQ(frozen->rows, 3u);
  set.DropFlushed(key, frozen);

  EXPECT_EQ(Seqs(SnapshotOf(&set, "acme"), 2), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(set.bytes(), set.ActiveBytes(key));
  EXPECT_EQ(set.MinUnflushedSeq(), 4u);
  EXPECT_EQ(set.OldestFrozen(key), nullptr);
}

TEST(MemtableSet, MinUnflushedSeqIsTheFirstUnappliedSeqWhenNothingIsHeld) {
  ManualClock clock(0);
  MemtableSet set(&clock);
  EXPECT_EQ(set.MinUnflushedSeq(), 1u);
  set.SetApplied(42);
  EXPECT_EQ(set.MinUnflushedSeq(), 42u);
  set.Insert({"t", 0}, SeqRecord(40));
  EXPECT_EQ(set.MinUnflushedSeq(), 40u);
}

TEST(MemtableSet, FreezingAnEmptyOrMissingMemtableFreezesNothing) {
  ManualClock clock(0);
  MemtableSet set(&clock);
  set.Freeze({"t", 0});
  EXPECT_EQ(set.OldestFrozen({"t", 0}), nullptr);
  EXPECT_TRUE(set.Keys().empty());
  EXPECT_FALSE(set.Largest().has_value());
}

TEST(MemtableSet, ASnapshotHoldsOnlyItsTenantsMemtablesOnePerPartition) {
  ManualClock clock(0);
  MemtableSet set(&clock);
  set.Insert({"a", 1}, SeqRecord(1));
  set.Insert({"ab", 0}, SeqRecord(2));
  set.Insert({"a", 0}, SeqRecord(3));
  set.Insert({"b", 0}, SeqRecord(4));
  set.Insert({"a", 1}, SeqRecord(5));
  Snapshot snapshot = SnapshotOf(&set, "a");
  ASSERT_EQ(snapshot.memtables.size(), 2u);
  EXPECT_EQ(snapshot.memtables[0].partition, 0u);
  EXPECT_EQ(snapshot.memtables[1].partition, 1u);
  EXPECT_EQ(Seqs(snapshot, 0), (std::vector<uint64_t>{3}));
  EXPECT_EQ(Seqs(snapshot, 1), (std::vector<uint64_t>{1, 5}));
}

TEST(MemtableSet, FlushCandidatesAreBigOrOldMemtablesAndEveryFrozenOne) {
  ManualClock clock(1'000);
  MemtableSet set(&clock);
  const PartitionKey old_key{"t", 0}, big_key{"t", 1}, young_key{"t", 2}, frozen_key{"t", 3};
  set.Insert(old_key, SeqRecord(1));
  clock.Advance(500);
  set.Insert(frozen_key, SeqRecord(2));
  set.Freeze(frozen_key);
  for (uint64_t s = 3; s < 50; ++s) set.Insert(big_key, SeqRecord(s));
  set.Insert(young_key, SeqRecord(50));
  const uint64_t big_bytes = set.ActiveBytes(big_key);
  ASSERT_GT(big_bytes, set.ActiveBytes(young_key));

  // The old one by age (500 ns >= 400), the big one by size, the frozen one as a retry.
  EXPECT_EQ(set.Due(clock.MonotonicNanos(), big_bytes, 400),
            (std::vector<PartitionKey>{old_key, big_key, frozen_key}));
  EXPECT_EQ(set.Largest(), big_key);
  EXPECT_EQ(set.Keys(), (std::vector<PartitionKey>{old_key, big_key, young_key, frozen_key}));
}

TEST(MemtableSet, UnderMemoryPressureAFrozenMemtableIsFlushedWhenNoActiveOneIsLeft) {
  ManualClock clock(0);
  MemtableSet set(&clock);
  set.Insert({"t", 3}, SeqRecord(1));
  set.Freeze({"t", 3});
  EXPECT_EQ(set.Largest(), (PartitionKey{"t", 3}));
}

}  // namespace
}  // namespace sawmill::storage
