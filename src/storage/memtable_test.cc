#include "storage/memtable.h"

#include <gtest/gtest.h>

#include "storage/lines_test_util.h"

namespace sawmill::storage {
namespace {

std::vector<uint64_t> Seqs(const std::vector<Chunk>& chunks) {
  std::vector<uint64_t> out;
  for (const auto& c : chunks) {
    for (const Record& r : *c) out.push_back(r.seq);
  }
  return out;
}

TEST(Memtable, SealedChunksNeverChangeAfterASnapshot) {
  Memtable m("t", 0, 0);
  for (uint64_t s = 1; s <= 10; ++s) m.Add(SeqRecord(s));
  std::vector<Chunk> snap = m.Seal();
  const std::vector<uint64_t> before = Seqs(snap);
  for (uint64_t s = 11; s <= 30; ++s) {
    m.Add(SeqRecord(s));
    m.Seal();
  }
  EXPECT_EQ(Seqs(snap), before);
  std::vector<uint64_t> all = Seqs(m.Seal());
  ASSERT_EQ(all.size(), 30u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  EXPECT_EQ(m.rows(), 30u);
  EXPECT_EQ(m.min_seq(), 1u);
  EXPECT_EQ(m.max_seq(), 30u);
}

TEST(Memtable, SnapshotStormKeepsFewChunks) {
  Memtable m("t", 0, 0);
  for (uint64_t s = 1; s <= 3000; ++s) {
    m.Add(SeqRecord(s));
    m.Seal();  // a snapshot after every row
  }
  // Binary-counter merging: about log2(rows) chunks, not one per row.
  EXPECT_LE(m.Seal().size(), 16u);
  EXPECT_EQ(Seqs(m.Seal()).size(), 3000u);
}

}  // namespace
}  // namespace sawmill::storage
