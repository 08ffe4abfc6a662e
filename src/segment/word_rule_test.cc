// The default rule of which message words get postings (DefaultWordPostingsRule, issue 19) in a
// segment of one block, as a partition's only flush is: ids of one or two rows are left to the
// message bloom (the segment answers "cannot tell" and the bloom finds their block), words
// without a digit are posted from one row on, and the file is smaller than under the rule of
// session 13, which posted every word of such a segment.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/fault_env.h"
#include "index/tokenizer.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"

namespace sawmill::segment {
namespace {

// 566 rows (otrf_linux_aws's count): CloudTrail-like calls, each with a request id of its own
// (hex with digits); row 300 holds the rare word "accountname".
std::vector<Record> Rows() {
  std::vector<Record> out;
  for (uint64_t i = 0; i < 566; ++i) {
    Record r;
    r.seq = i + 1;
    r.ts = r.ingest_ts = 1'600'000'000'000'000'000 + static_cast<int64_t>(i) * 1'000'000'000;
    r.service = "aws";
    char id[40];
    // The first part starts with a letter and holds a digit: not a number word, not a word
    // without a digit.
    std::snprintf(id, sizeof(id), "a%06llx9-%04llx-4f59-8d21-%012llx",
                  static_cast<unsigned long long>(i * 2654435761u % 0xffffffu),
                  static_cast<unsigned long long>(i * 40503 % 0xffff),
                  static_cast<unsigned long long>(i * 0x9e3779b97f4aULL % 0xffffffffffffULL));
    r.message = std::string("{\"eventName\":\"DescribeInstances\",\"requestID\":\"") + id +
                (i == 300 ? "\",\"note\":\"AccountName missing\"}" : "\"}");
    out.push_back(std::move(r));
  }
  return out;
}

index::FieldPredicate Word(std::string_view w) {
  index::FieldPredicate p;
  p.field = "message";
  p.builtin = true;
  p.op = index::FieldPredicate::Op::kWord;
  p.value = w;
  return p;
}

TEST(DefaultWordRule, AOneBlockSegmentLeavesIdsToItsBloomAndPostsLetterWordsFromOneRow) {
  FaultInjectionEnv env;
  const std::vector<Record> rows = Rows();
  WriterOptions o;  // the default rule
  ASSERT_TRUE(WriteSegment(&env, "/new.seg", SegmentInfo{}, rows, o, nullptr).ok());
  // Session 13's rule: every word of a segment of at most 8,192 rows posted from one row.
  WriterOptions old = o;
  old.word_postings.small_segment_rows = 8192;
  old.word_postings.letter_words_above_rows = 8192;
  ASSERT_TRUE(WriteSegment(&env, "/old.seg", SegmentInfo{}, rows, old, nullptr).ok());

  auto reader = SegmentReader::Open(&env, "/new.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->blocks().size(), 1u);
  // An id of one row: "cannot tell" from postings; its block filter lets its block through.
  const size_t at = rows[123].message.find("requestID\":\"") + 12;
  const std::string id = rows[123].message.substr(at, 8);
  ASSERT_EQ(id.front(), 'a');
  ASSERT_EQ(id.back(), '9');
  auto id_rows = (*reader)->MatchingRows(Word(id));
  ASSERT_TRUE(id_rows.ok());
  EXPECT_FALSE(id_rows->has_value()) << id;
  EXPECT_TRUE((*reader)->BlockMayMatch(0, Word(id)).value_or(false));
  EXPECT_TRUE((*reader)->SegmentMayMatch(Word(id)).value_or(false));
  // A word without a digit in one row: its row, from postings.
  auto rare = (*reader)->MatchingRows(Word("AccountName"));
  ASSERT_TRUE(rare.ok());
  ASSERT_TRUE(rare->has_value());
  EXPECT_EQ((*rare)->cardinality(), 1u);
  EXPECT_TRUE((*rare)->contains(300u));
  // A word without a digit in no row: no row (the segment is pruned).
  auto nowhere = (*reader)->MatchingRows(Word("nowhere"));
  ASSERT_TRUE(nowhere.ok());
  ASSERT_TRUE(nowhere->has_value());
  EXPECT_TRUE((*nowhere)->isEmpty());
  // A word in every row: counted in its block, not posted.
  auto every = (*reader)->MatchingRowsPerBlock(Word("describeinstances"));
  ASSERT_TRUE(every.ok());
  ASSERT_TRUE(every->has_value());
  EXPECT_EQ(**every, std::vector<uint32_t>{566});

  // The ids' postings are what the segment no longer holds: at least a byte per id.
  auto new_bytes = env.GetFileSize("/new.seg");
  auto old_bytes = env.GetFileSize("/old.seg");
  ASSERT_TRUE(new_bytes.ok() && old_bytes.ok());
  EXPECT_LT(*new_bytes + rows.size(), *old_bytes) << *new_bytes << " vs " << *old_bytes;
}

// Format version 12: the message's block filters hold only the words the word postings do not
// decide (ids of one or two rows), and a word of any row still may match its block and the
// segment; a posted word answers from its postings (the blocks holding it, no other), a word in
// no row answers no. Version 11 of the same rows keeps every word in its filters.
TEST(DefaultWordRule, Version12BloomsHoldOnlyTheWordsThePostingsDoNotDecide) {
  FaultInjectionEnv env;
  std::vector<Record> rows = Rows();
  // Three blocks; "accountname" only in the second, "DescribeInstances" in every row.
  WriterOptions o;
  o.block_rows = 200;
  o.time_slice_rows = 200;
  WriterOptions v11 = o;
  v11.format_version = 11;
  ASSERT_TRUE(WriteSegment(&env, "/v12.seg", SegmentInfo{}, rows, o, nullptr).ok());
  ASSERT_TRUE(WriteSegment(&env, "/v11.seg", SegmentInfo{}, rows, v11, nullptr).ok());
  uint64_t tokens[2] = {0, 0};
  uint64_t minute_counts_bytes = 0;
  for (int v = 0; v < 2; ++v) {
    const std::string path = v == 0 ? "/v11.seg" : "/v12.seg";
    SCOPED_TRACE(path);
    auto reader = SegmentFileReader::OpenFile(&env, path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_EQ((*reader)->format_version(), v == 0 ? 11u : kFormatVersion);
    ASSERT_EQ((*reader)->blocks().size(), 3u);
    for (const BloomMeta& m : (*reader)->footer().blooms) {
      if (m.field == "message") tokens[v] = m.distinct_tokens;
    }
    // (Version 19 adds the blocks' minute counts, which have nothing to do with the blooms.)
    for (const KindIndexMeta& k : (*reader)->footer().kind_indexes) {
      if (k.kind == "minute_counts") minute_counts_bytes += k.ref.size;
    }
    for (uint32_t b = 0; b < 3; ++b) {
      std::vector<Record> block;
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &block, nullptr).ok());
      for (const Record& r : block) {
        for (const std::string& w : index::Tokenize(r.message)) {
          EXPECT_TRUE((*reader)->BlockMayMatch(b, Word(w)).value_or(false))
              << w << " in block " << b;
          EXPECT_TRUE((*reader)->SegmentMayMatch(Word(w)).value_or(false)) << w;
        }
      }
      // Posted: exactly the block holding it.
      const bool holds = (*reader)->blocks()[b].first_row <= 300 &&
                         300 < (*reader)->blocks()[b].first_row + (*reader)->blocks()[b].rows;
      if (v == 1) {
        EXPECT_EQ((*reader)->BlockMayMatch(b, Word("accountname")).value_or(!holds), holds) << b;
      }
    }
    EXPECT_FALSE((*reader)->SegmentMayMatch(Word("nowhere")).value_or(true));
  }
  // The words version 12 leaves out: all but the ids' parts of one or two rows.
  EXPECT_GT(tokens[0], 0u);
  EXPECT_LT(tokens[1], tokens[0]);
  EXPECT_LT(env.GetFileSize("/v12.seg").value() - minute_counts_bytes,
            env.GetFileSize("/v11.seg").value());
}

}  // namespace
}  // namespace sawmill::segment
