// Corruption of every kind of physical block, torn files and random byte flips: each gives a
// clear DataLoss naming what and where, the rest of the segment stays readable, and nothing
// crashes.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/coding.h"
#include "common/fault_env.h"
#include "segment/footer.h"
#include "segment/format.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"

namespace sawmill::segment {
namespace {

constexpr char kPath[] = "/d/c.seg";

class SegmentCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.CreateDirs("/d").ok());
    std::vector<Record> records;
    for (uint64_t i = 0; i < 300; ++i) {
      Record r;
      r.seq = i;
      r.ts = r.ingest_ts = 1'000'000 + static_cast<int64_t>(i);
      r.service = i < 150 ? "api" : "db";
      r.host = "h" + std::to_string(i % 2);
      r.level = i % 10 == 0 ? Level::kError : Level::kInfo;
      r.trace_id = "trace" + std::to_string(i);
      r.span_id = "span" + std::to_string(i % 17);
      r.user_id = "user" + std::to_string(i % 5);
      r.message = "request " + std::to_string(i) + " took " + std::to_string(i % 90) + "ms";
      r.flags = i % 3;
      r.fields = {{"status", std::to_string(200 + i % 5)}, {"path", "/v1/x"}};
      records.push_back(r);
    }
    WriterOptions options;
    options.block_rows = 100;
    // Every column block its own physical block: the damages below name one column's block (a
    // damaged shared frame, which hot segments give their small fields: DamagedSharedFrame...).
    options.pack_fields_below = 0;
    ASSERT_TRUE(WriteSegment(&env_, kPath, SegmentInfo{}, records, options, nullptr).ok());
    ASSERT_TRUE(env_.GetContents(kPath, &good_).ok());
    auto reader = SegmentFileReader::OpenFile(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    footer_ = (*reader)->footer();
  }

  void FlipByteAt(uint64_t offset) {
    std::string bad = good_;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x5a);
    ASSERT_TRUE(env_.SetContents(kPath, bad).ok());
  }

  std::vector<std::string> VerifyProblems() {
    VerifyReport report;
    EXPECT_TRUE(VerifySegment(&env_, kPath, &report).ok());
    return report.problems;
  }

  FaultInjectionEnv env_;
  std::string good_;
  Footer footer_;
};

TEST_F(SegmentCorruption, FlippedColumnBlockNamesColumnAndBlockAndOthersStayReadable) {
  for (size_t col = 0; col < footer_.columns.size(); ++col) {
    const ColumnMeta& meta = footer_.columns[col];
    const BlockRef& ref = meta.blocks[1];
    if (!ref.present()) continue;
    SCOPED_TRACE(meta.name);
    FlipByteAt(ref.offset + ref.size / 2);
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<Record> rows;
    Status s = (*reader)->ReadBlock(1, kColAll, &rows, nullptr);
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    EXPECT_NE(s.message().find("column '" + meta.name + "' block 1"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
    EXPECT_TRUE(rows.empty());
    ASSERT_TRUE((*reader)->ReadBlock(0, kColAll, &rows, nullptr).ok());
    ASSERT_TRUE((*reader)->ReadBlock(2, kColAll, &rows, nullptr).ok());
    EXPECT_EQ(rows.size(), 200u);
    auto api = (*reader)->Postings("service", "api");
    ASSERT_TRUE(api.ok() && api->has_value());
    EXPECT_EQ((*api)->cardinality(), 150u);
    std::vector<std::string> problems = VerifyProblems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("column '" + meta.name + "' block 1 at offset " +
                               std::to_string(ref.offset)),
              std::string::npos)
        << problems[0];
  }
}

TEST_F(SegmentCorruption, FlippedIndexBlockFailsOnlyThatIndex) {
  for (const IndexMeta& idx : footer_.indexes) {
    SCOPED_TRACE(idx.field);
    FlipByteAt(idx.ref.offset + 1);
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    auto rows = (*reader)->Postings(idx.field, "x");
    EXPECT_TRUE(rows.status().IsDataLoss());
    EXPECT_NE(rows.status().message().find("index '" + idx.field + "'"), std::string::npos)
        << rows.status().message();
    std::string other = idx.field == "service" ? "host" : "service";
    EXPECT_TRUE((*reader)->Postings(other, "h0").ok());
    std::vector<Record> out;
    EXPECT_TRUE((*reader)->ReadBlock(2, kColAll, &out, nullptr).ok());
    std::vector<std::string> problems = VerifyProblems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("index '" + idx.field + "'"), std::string::npos) << problems[0];
  }
}

// A bloom block that does not check never hides a row: its answers are DataLoss naming the
// segment, the filter and its offset (session 22: they were "maybe", and the damage went
// unseen), the other filter still answers, and verify names the block.
TEST_F(SegmentCorruption, FlippedBloomBlockNeverHidesRowsAndIsDataLoss) {
  for (const BloomMeta& bloom : footer_.blooms) {
    SCOPED_TRACE(bloom.field);
    for (const BlockRef* ref : {&bloom.segment_filter, &bloom.block_filters}) {
      if (!ref->present()) continue;
      const bool segment_filter = ref == &bloom.segment_filter;
      FlipByteAt(ref->offset + ref->size / 2);
      auto reader = SegmentReader::Open(&env_, kPath);
      ASSERT_TRUE(reader.ok());
      std::string token = bloom.field == "message"    ? "request"
                          : bloom.field == "trace_id" ? "trace7"
                          : bloom.field == "span_id"  ? "span3"
                                                      : "user2";
      Result<bool> in_segment = (*reader)->SegmentMayContain(bloom.field, token);
      Result<bool> in_block = (*reader)->BlockMayContain(0, bloom.field, token);
      for (const Result<bool>* may : {&in_segment, &in_block}) {
        EXPECT_TRUE(may->ok() ? **may : may->status().IsDataLoss()) << may->status().ToString();
      }
      // The message's words the word postings decide ("request") never ask its blooms.
      if (bloom.field != "message") {
        const Result<bool>& damaged = segment_filter ? in_segment : in_block;
        ASSERT_FALSE(damaged.ok());
        EXPECT_NE(damaged.status().message().find(
                      std::string(segment_filter ? "segment bloom '" : "block blooms '") +
                      bloom.field + "' at offset " + std::to_string(ref->offset)),
                  std::string::npos)
            << damaged.status().message();
        if (segment_filter) {
          EXPECT_TRUE(in_block.value_or(false));
        }
      }
      EXPECT_EQ(VerifyProblems().size(), 1u);
    }
  }
}

TEST_F(SegmentCorruption, FlippedFooterGivesDataLossWithOffset) {
  uint64_t footer_offset = good_.size() - kTrailerSize - 20;
  FlipByteAt(footer_offset);
  auto reader = SegmentReader::Open(&env_, kPath);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(reader.status().IsDataLoss());
  EXPECT_NE(reader.status().message().find("footer at offset"), std::string::npos)
      << reader.status().message();
  std::vector<std::string> problems = VerifyProblems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("footer"), std::string::npos);
}

TEST_F(SegmentCorruption, TornFileGivesDataLossWithOffset) {
  for (size_t keep : {size_t{0}, size_t{5}, size_t{kHeaderSize}, good_.size() / 2,
                      good_.size() - kTrailerSize, good_.size() - 1}) {
    ASSERT_TRUE(env_.SetContents(kPath, good_.substr(0, keep)).ok());
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_FALSE(reader.ok()) << keep;
    EXPECT_TRUE(reader.status().IsDataLoss()) << reader.status().ToString();
    EXPECT_NE(reader.status().message().find("offset"), std::string::npos)
        << reader.status().message();
  }
}

TEST_F(SegmentCorruption, NewerFormatVersionIsRefused) {
  std::string bad = good_;
  bad[bad.size() - kMagicSize - 4] = 99;
  ASSERT_TRUE(env_.SetContents(kPath, bad).ok());
  auto reader = SegmentReader::Open(&env_, kPath);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.status().message().find("format version 99"), std::string::npos)
      << reader.status().message();
}

// A file whose header and trailer both say a newer version is a newer build's (a rolling
// upgrade), not a damaged one: FailedPrecondition, which nobody marks corrupt (DataLoss before).
TEST_F(SegmentCorruption, AFileOfANewerBuildIsNotDataLoss) {
  std::string newer = good_;
  const uint32_t next = kFormatVersion + 1;
  EncodeFixed32(newer.data() + kMagicSize, next);
  EncodeFixed32(newer.data() + newer.size() - kMagicSize - 4, next);
  ASSERT_TRUE(env_.SetContents(kPath, newer).ok());
  auto reader = SegmentReader::Open(&env_, kPath);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kFailedPrecondition) << reader.status().ToString();
  EXPECT_NE(reader.status().message().find("format version " + std::to_string(next) +
                                           " is not readable by this build"),
            std::string::npos)
      << reader.status().message();
}

TEST_F(SegmentCorruption, HeaderIdentityNamesTheSegmentEvenWhenTheFooterIsDamaged) {
  SegmentInfo info;
  info.id = 4711;
  info.tenant = "acme";
  info.partition = 5;
  std::vector<Record> records(3);
  for (size_t i = 0; i < records.size(); ++i) records[i].seq = 100 + i;
  ASSERT_TRUE(WriteSegment(&env_, "/d/id.seg", info, records, WriterOptions{}, nullptr).ok());
  std::string file;
  ASSERT_TRUE(env_.GetContents("/d/id.seg", &file).ok());
  EXPECT_EQ(file[kMagicSize], static_cast<char>(kFormatVersion));  // the current version
  // Damage the footer: the reader refuses the file, the identity still reads.
  file[file.size() - kTrailerSize - 8] ^= 0x10;
  ASSERT_TRUE(env_.SetContents("/d/id.seg", file).ok());
  EXPECT_TRUE(SegmentReader::Open(&env_, "/d/id.seg").status().IsDataLoss());
  auto id = ReadSegmentIdentity(&env_, "/d/id.seg");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->id, 4711u);
  EXPECT_EQ(id->tenant, "acme");
  EXPECT_EQ(id->partition, 5u);
  EXPECT_EQ(id->rows, 3u);
  EXPECT_EQ(id->min_seq, 100u);
  EXPECT_EQ(id->max_seq, 102u);
  EXPECT_EQ(id->format_version, kFormatVersion);
}

TEST_F(SegmentCorruption, FlippedIdentityByteIsDataLoss) {
  // The identity block starts right after the fixed header; every byte of it is covered.
  const uint32_t size = static_cast<uint8_t>(good_[kMagicSize + 4]);
  ASSERT_GT(size, kBlockTrailerSize);
  for (uint32_t i = 0; i < size; ++i) {
    FlipByteAt(kHeaderSize + i);
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_FALSE(reader.ok()) << i;
    EXPECT_TRUE(reader.status().IsDataLoss()) << reader.status().ToString();
    EXPECT_NE(reader.status().message().find("identity"), std::string::npos)
        << reader.status().message();
    EXPECT_TRUE(ReadSegmentIdentity(&env_, kPath).status().IsDataLoss()) << i;
  }
}

TEST_F(SegmentCorruption, FormatVersion1FilesStillRead) {
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
  }
  WriterOptions v1;
  v1.block_rows = 100;
  v1.format_version = 1;
  ASSERT_TRUE(WriteSegment(&env_, "/d/v1.seg", SegmentInfo{}, want, v1, nullptr).ok());
  std::string file;
  ASSERT_TRUE(env_.GetContents("/d/v1.seg", &file).ok());
  EXPECT_EQ(file.substr(kMagicSize, 8), std::string("\x01\0\0\0\0\0\0\0", 8));  // v1, flags 0
  auto reader = SegmentFileReader::OpenFile(&env_, "/d/v1.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->format_version(), 1u);
  std::vector<Record> got;
  for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
    ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &got, nullptr).ok());
  EXPECT_EQ(got, want);
  EXPECT_EQ(ReadSegmentIdentity(&env_, "/d/v1.seg").status().code(),
            StatusCode::kFailedPrecondition);
  v1.format_version = kFormatVersion + 1;
  EXPECT_TRUE(
      WriteSegment(&env_, "/d/vnext.seg", SegmentInfo{}, want, v1, nullptr).IsInvalidArgument());
}

index::FieldPredicate StatusAtLeast(double bound) {
  index::FieldPredicate p;
  p.field = "status";
  p.op = index::FieldPredicate::Op::kGreaterEqual;
  p.number = bound;
  return p;
}

// (Format version 19) The minute_counts kind block holds three sections (ts, ingest_ts,
// service), each parsed only when a question asks for it (a `* | count` the service section, a
// bucket count on ts the ts section). Damage in a section no question asks is still reported by
// the first question of any section: the block's checksum covers all of it, and every question
// reads (and checks) the whole block before it parses its section. A byte of the ingest_ts
// section is flipped (found by its name when the block is stored as written; in the middle of
// the block when zstd stored it, as here: the flip then still decompresses, zstd keeps no
// checksum of its own), and the ts and service questions, which never parse that section, are
// DataLoss naming the segment, the kind and its offset. Fails with the blocks' checksum not
// checked (CheckBlockCrc): the ts section then answers over the damage.
TEST_F(SegmentCorruption, DamageInAMinuteCountsSectionNoQuestionAsksIsReportedByAnyQuestion) {
  const KindIndexMeta* counts = nullptr;
  for (const KindIndexMeta& k : footer_.kind_indexes) {
    if (k.kind == "minute_counts") counts = &k;
  }
  ASSERT_NE(counts, nullptr);
  const std::string_view stored(good_.data() + counts->ref.offset, counts->ref.size);
  const size_t name = stored.find("ingest_ts");
  // The byte after the section's name and its body's length: inside its minutes.
  const uint64_t at =
      counts->ref.offset + (name != std::string_view::npos ? name + 9 + 2 : counts->ref.size / 2);
  SCOPED_TRACE(name != std::string_view::npos ? "stored as written" : "stored compressed");
  FlipByteAt(at);
  const std::string where = "segment " + std::string(kPath) +
                            ": index kind 'minute_counts' at offset " +
                            std::to_string(counts->ref.offset);
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto minutes = (*reader)->BlockMinuteCounts(/*ts=*/true);
    ASSERT_FALSE(minutes.ok()) << "the ts section answered over damage in ingest_ts";
    EXPECT_TRUE(minutes.status().IsDataLoss());
    EXPECT_NE(minutes.status().message().find(where), std::string::npos)
        << minutes.status().message();
  }
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto services = (*reader)->BlockServiceLevels();
    ASSERT_FALSE(services.ok()) << "the service section answered over damage in ingest_ts";
    EXPECT_TRUE(services.status().IsDataLoss());
    EXPECT_NE(services.status().message().find(where), std::string::npos)
        << services.status().message();
  }
  auto problems = VerifyProblems();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("index kind 'minute_counts'"), std::string::npos) << problems[0];
}

TEST_F(SegmentCorruption, FormatVersion2FilesStillReadWithoutIndexKinds) {
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
    // The current version holds the numeric range of "status" (200..204 in every block).
    EXPECT_FALSE((*reader)->BlockMayMatch(1, StatusAtLeast(300)).value_or(true));
    EXPECT_TRUE((*reader)->BlockMayMatch(1, StatusAtLeast(204)).value_or(false));
  }
  WriterOptions v2;
  v2.block_rows = 100;
  v2.format_version = 2;
  ASSERT_TRUE(WriteSegment(&env_, "/d/v2.seg", SegmentInfo{}, want, v2, nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(&env_, "/d/v2.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->format_version(), 2u);
  EXPECT_TRUE((*reader)->footer().kind_indexes.empty());
  std::vector<Record> got;
  for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
    ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &got, nullptr).ok());
  EXPECT_EQ(got, want);
  // No index: every block may match, so a query reads it and still answers right.
  EXPECT_TRUE((*reader)->BlockMayMatch(1, StatusAtLeast(300)).value_or(false));
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env_, "/d/v2.seg", &report).ok());
  EXPECT_TRUE(report.problems.empty());
}

// A damaged kind block (a flipped byte: its checksum fails) is DataLoss naming the segment, the
// kind and the block's offset in every answer that asks the kind, never "maybe" or "cannot
// tell": the caller reports the segment and scans. The word postings and the numeric ranges
// read and check their block when they open; that damage said "cannot tell" until session 23
// (review22 MEDIUM-1: a search scanned, reported nothing). Fails with KindView keeping a null
// view for a kind whose open fails.
TEST_F(SegmentCorruption, DamagedIndexKindBlockIsDataLossAndVerifySaysWhere) {
  ASSERT_EQ(footer_.kind_indexes.size(), 3u);
  for (const KindIndexMeta& kind : footer_.kind_indexes) {
    SCOPED_TRACE(kind.kind);
    FlipByteAt(kind.ref.offset + kind.ref.size / 2);
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    const std::string named = "segment " + std::string(kPath) + ": index kind '" + kind.kind +
                              "' at offset " + std::to_string(kind.ref.offset);
    auto expect_named = [&](const Status& st, const std::string& what) {
      EXPECT_EQ(st.code(), StatusCode::kDataLoss) << what << ": " << st.ToString();
      EXPECT_NE(st.message().find(named), std::string::npos) << what << ": " << st.message();
    };
    if (kind.kind == "numeric_range") {
      // Asked twice: the damage met at the open is kept, not forgotten.
      for (int ask = 0; ask < 2; ++ask) {
        expect_named((*reader)->BlockMayMatch(1, StatusAtLeast(300)).status(), "block 1");
        expect_named((*reader)->SegmentMayMatch(StatusAtLeast(300)).status(), "the segment");
      }
    } else if (kind.kind == "minute_counts") {
      // Format version 19's per-block statistics: DataLoss naming the segment and the block.
      for (bool ts : {true, false}) {
        auto minutes = (*reader)->BlockMinuteCounts(ts);
        ASSERT_FALSE(minutes.ok());
        expect_named(minutes.status(), "minutes");
      }
      auto services = (*reader)->BlockServiceLevels();
      EXPECT_EQ(services.status().code(), StatusCode::kDataLoss);
    } else {
      EXPECT_EQ(kind.kind, "word_postings");
      index::FieldPredicate word;
      word.field = "message";
      word.builtin = true;
      word.op = index::FieldPredicate::Op::kWord;
      word.value = "request";
      for (int ask = 0; ask < 2; ++ask) {
        expect_named((*reader)->MatchingRows(word).status(), "rows");
        expect_named((*reader)->MatchingRowsPerBlock(word).status(), "counts");
        // From format version 12 the message blooms lack the words the postings decide: the
        // may-match answers ask the postings, and meet their damage.
        ASSERT_GE(footer_.version, 12u);
        expect_named((*reader)->SegmentMayMatch(word).status(), "the segment");
        for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
          expect_named((*reader)->BlockMayMatch(b, word).status(), "block " + std::to_string(b));
        }
      }
      // A question the word postings do not answer does not open them (the values of a field
      // no kind posts: `status>=500` asks them): no damage met.
      for (const char* field : {"service", "path"}) {
        auto values = (*reader)->IndexedValues(field);
        EXPECT_TRUE(values.ok()) << field << ": " << values.status().ToString();
      }
    }
    std::vector<Record> rows;
    EXPECT_TRUE((*reader)->ReadBlock(1, kColAll, &rows, nullptr).ok());
    auto problems = VerifyProblems();
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("index kind '" + kind.kind + "' at offset " +
                               std::to_string(kind.ref.offset)),
              std::string::npos)
        << problems[0];
  }
}

// Format version 8: a damaged shared frame fails the reads of its packed columns with a
// DataLoss naming the segment, the block, a column and the frame; the block's own column blocks,
// the other blocks and the indexes stay readable, and verify reports the frame once.
TEST_F(SegmentCorruption, DamagedSharedFrameNamesSegmentBlockAndColumn) {
  constexpr char kPacked[] = "/d/packed.seg";
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
  }
  WriterOptions options;
  options.block_rows = 100;
  options.pack_columns_below = 256;  // the messages (about 2 KB a block) keep their own block
  ASSERT_TRUE(WriteSegment(&env_, kPacked, SegmentInfo{}, want, options, nullptr).ok());
  std::string good;
  ASSERT_TRUE(env_.GetContents(kPacked, &good).ok());
  auto opened = SegmentFileReader::OpenFile(&env_, kPacked);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const Footer footer = (*opened)->footer();
  ASSERT_EQ(footer.frames.size(), 3u);
  const BlockRef frame = footer.frames[1];
  ASSERT_TRUE(frame.present());
  std::vector<std::string> packed;
  for (const ColumnMeta& c : footer.columns) {
    if (c.blocks[1].packed) packed.push_back(c.name);
  }
  ASSERT_GE(packed.size(), 2u);
  ASSERT_FALSE(footer.columns[static_cast<size_t>(ColumnId::kMessage)].blocks[1].packed);

  std::string bad = good;
  bad[frame.offset + frame.size / 2] ^= 0x5a;
  ASSERT_TRUE(env_.SetContents(kPacked, bad).ok());
  auto reader = SegmentReader::Open(&env_, kPacked);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<Record> rows;
  Status s = (*reader)->ReadBlock(1, kColAll, &rows, nullptr);
  ASSERT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_TRUE(rows.empty());
  const std::string& m = s.message();
  EXPECT_NE(m.find("segment " + std::string(kPacked) + ": column '"), std::string::npos) << m;
  EXPECT_NE(m.find("' block 1, in the shared frame of its row block at offset " +
                   std::to_string(frame.offset)),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("checksum mismatch"), std::string::npos) << m;
  EXPECT_TRUE(std::any_of(packed.begin(), packed.end(), [&](const std::string& name) {
    return m.find("column '" + name + "' block 1") != std::string::npos;
  })) << m;
  // The block's own column block, the other blocks and the indexes still read.
  ASSERT_TRUE((*reader)->ReadBlock(1, kColMessage, &rows, nullptr).ok());
  ASSERT_EQ(rows.size(), 100u);
  EXPECT_EQ(rows[0].message, want[100].message);
  rows.clear();
  ASSERT_TRUE((*reader)->ReadBlock(0, kColAll, &rows, nullptr).ok());
  ASSERT_TRUE((*reader)->ReadBlock(2, kColAll, &rows, nullptr).ok());
  std::vector<Record> others(want.begin(), want.begin() + 100);
  others.insert(others.end(), want.begin() + 200, want.end());
  EXPECT_EQ(rows, others);
  auto api = (*reader)->Postings("service", "api");
  ASSERT_TRUE(api.ok() && api->has_value());
  EXPECT_EQ((*api)->cardinality(), 150u);
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env_, kPacked, &report).ok());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("block 1, in the shared frame of its row block at offset " +
                                    std::to_string(frame.offset)),
            std::string::npos)
      << report.problems[0];

  // Random flips anywhere in a file with shared frames: never a crash, never wrong records.
  std::mt19937 rng(20261205);
  for (int trial = 0; trial < 300; ++trial) {
    std::string flipped = good;
    for (int f = 0, flips = 1 + static_cast<int>(rng() % 3); f < flips; ++f) {
      flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    ASSERT_TRUE(env_.SetContents(kPacked, flipped).ok());
    auto r = SegmentReader::Open(&env_, kPacked);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsDataLoss()) << r.status().ToString();
      continue;
    }
    std::vector<Record> got;
    bool all_ok = true;
    for (uint32_t b = 0; b < (*r)->blocks().size(); ++b) {
      all_ok &= (*r)->ReadBlock(b, kColAll, &got, nullptr).ok();
    }
    if (all_ok && (*r)->blocks().size() == 3) {
      EXPECT_EQ(got, want) << "trial " << trial;
    }
    VerifyReport flipped_report;
    EXPECT_TRUE(VerifySegment(&env_, kPacked, &flipped_report).ok());
  }
}

// A version-8 footer cut short or with any byte changed (behind its CRC's back) decodes to an
// error or to a directory whose every slice lies inside its frame: never a crash.
TEST_F(SegmentCorruption, MangledVersion8FooterNeverCrashes) {
  WriterOptions options;
  options.block_rows = 100;
  options.pack_columns_below = 256;
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
  }
  ASSERT_TRUE(WriteSegment(&env_, "/d/p8.seg", SegmentInfo{}, want, options, nullptr).ok());
  auto reader = SegmentFileReader::OpenFile(&env_, "/d/p8.seg");
  ASSERT_TRUE(reader.ok());
  std::string encoded;
  EncodeFooter((*reader)->footer(), &encoded);
  const uint64_t data_end = (*reader)->info().file_bytes;
  Footer decoded;
  ASSERT_TRUE(DecodeFooter(encoded, data_end, &decoded).ok());
  std::mt19937 rng(8);
  size_t refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bad = encoded;
    if (trial % 3 == 0) {
      bad.resize(rng() % bad.size());
    } else {
      bad[rng() % bad.size()] = static_cast<char>(rng());
    }
    Footer f;
    Status s = DecodeFooter(bad, data_end, &f);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsDataLoss());
      ++refused;
      continue;
    }
    for (const ColumnMeta& c : f.columns) {
      for (size_t b = 0; b < c.blocks.size(); ++b) {
        const BlockRef& r = c.blocks[b];
        if (!r.packed) continue;
        ASSERT_LT(b, f.frames.size());
        EXPECT_EQ(r.offset, f.frames[b].offset);
        EXPECT_LE(r.slice_start + r.raw_size, f.frames[b].raw_size);
      }
    }
  }
  EXPECT_GT(refused, 1000u);
}

// Format version 9: a damaged sub-block of a split column block fails the reads that need it,
// naming the segment, the row block, the column and the sub-block (with its rows); its other
// sub-blocks, the block's other columns and the other blocks stay readable; verify reports it
// once; random flips and a mangled footer never crash.
TEST_F(SegmentCorruption, DamagedSubBlockNamesSegmentBlockColumnAndSubBlock) {
  constexpr char kSplit[] = "/d/split.seg";
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
  }
  WriterOptions options;
  options.block_rows = 100;
  options.subblock_bytes = 400;  // the messages (about 2 KB a block) in about 5 sub-blocks
  options.subblock_always = true;
  ASSERT_TRUE(WriteSegment(&env_, kSplit, SegmentInfo{}, want, options, nullptr).ok());
  std::string good;
  ASSERT_TRUE(env_.GetContents(kSplit, &good).ok());
  auto opened = SegmentFileReader::OpenFile(&env_, kSplit);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const Footer footer = (*opened)->footer();
  const BlockRef message = footer.columns[static_cast<size_t>(ColumnId::kMessage)].blocks[1];
  ASSERT_TRUE(message.is_split());
  const std::vector<SubBlock>& subs = footer.splits[message.split];
  ASSERT_GE(subs.size(), 3u);
  const SubBlock damaged = subs[1];

  std::string bad = good;
  bad[damaged.offset + damaged.size / 2] ^= 0x5a;
  ASSERT_TRUE(env_.SetContents(kSplit, bad).ok());
  auto reader = SegmentReader::Open(&env_, kSplit);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::vector<Record> rows;
  Status s = (*reader)->ReadBlock(1, kColAll, &rows, nullptr);
  ASSERT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_TRUE(rows.empty());
  const std::string where =
      "segment " + std::string(kSplit) + ": column 'message' block 1, sub-block 2 of " +
      std::to_string(subs.size()) + " (rows " + std::to_string(damaged.first_row) + ".." +
      std::to_string(damaged.first_row + damaged.rows - 1) + ") at offset " +
      std::to_string(damaged.offset);
  EXPECT_NE(s.message().find(where), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("checksum mismatch"), std::string::npos) << s.message();
  // A row of the damaged sub-block: the same error; a row of another sub-block reads.
  Status one = (*reader)->ReadRows(1, kColMessage, {damaged.first_row}, &rows, nullptr);
  EXPECT_TRUE(one.IsDataLoss()) << one.ToString();
  EXPECT_NE(one.message().find(where), std::string::npos) << one.message();
  ASSERT_TRUE(
      (*reader)->ReadRows(1, kColAll, {subs[0].first_row, subs[2].first_row}, &rows, nullptr).ok());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], want[100 + subs[0].first_row]);
  EXPECT_EQ(rows[1], want[100 + subs[2].first_row]);
  rows.clear();
  ASSERT_TRUE((*reader)->ReadBlock(1, kColAll & ~kColMessage, &rows, nullptr).ok());
  ASSERT_EQ(rows.size(), 100u);
  rows.clear();
  ASSERT_TRUE((*reader)->ReadBlock(0, kColAll, &rows, nullptr).ok());
  ASSERT_TRUE((*reader)->ReadBlock(2, kColAll, &rows, nullptr).ok());
  std::vector<Record> others(want.begin(), want.begin() + 100);
  others.insert(others.end(), want.begin() + 200, want.end());
  EXPECT_EQ(rows, others);
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env_, kSplit, &report).ok());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("column 'message' block 1, sub-block 2 of"), std::string::npos)
      << report.problems[0];

  // A sub-block cut off by a truncated file: an error naming it, never a read past the end.
  ASSERT_TRUE(env_.SetContents(kSplit, good.substr(0, damaged.offset + 3)).ok());
  EXPECT_FALSE(SegmentReader::Open(&env_, kSplit).ok());

  // Random flips anywhere in a file with sub-blocks: never a crash, never wrong records.
  std::mt19937 rng(20261206);
  for (int trial = 0; trial < 300; ++trial) {
    std::string flipped = good;
    for (int f = 0, flips = 1 + static_cast<int>(rng() % 3); f < flips; ++f) {
      flipped[rng() % flipped.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    ASSERT_TRUE(env_.SetContents(kSplit, flipped).ok());
    auto r = SegmentReader::Open(&env_, kSplit);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().IsDataLoss()) << r.status().ToString();
      continue;
    }
    std::vector<Record> got;
    bool all_ok = true;
    for (uint32_t b = 0; b < (*r)->blocks().size(); ++b) {
      all_ok &= (*r)->ReadBlock(b, kColAll, &got, nullptr).ok();
      std::vector<Record> few;
      (void)(*r)->ReadRows(b, kColAll, {0, 37, 99}, &few, nullptr);
    }
    if (all_ok && (*r)->blocks().size() == 3) {
      EXPECT_EQ(got, want) << "trial " << trial;
    }
    VerifyReport flipped_report;
    EXPECT_TRUE(VerifySegment(&env_, kSplit, &flipped_report).ok());
  }

  // The footer cut short or with any byte changed (behind its CRC's back): an error, or a
  // directory whose every sub-block lies inside the file and whose rows add up: never a crash.
  std::string encoded;
  EncodeFooter(footer, &encoded);
  const uint64_t data_end = good.size() - kTrailerSize;
  Footer decoded;
  ASSERT_TRUE(DecodeFooter(encoded, data_end, &decoded).ok());
  ASSERT_EQ(decoded.splits.size(), footer.splits.size());
  size_t refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mangled = encoded;
    if (trial % 3 == 0) {
      mangled.resize(rng() % mangled.size());
    } else {
      mangled[rng() % mangled.size()] = static_cast<char>(rng());
    }
    Footer f;
    Status d = DecodeFooter(mangled, data_end, &f);
    if (!d.ok()) {
      EXPECT_TRUE(d.IsDataLoss());
      ++refused;
      continue;
    }
    for (const ColumnMeta& c : f.columns) {
      for (size_t b = 0; b < c.blocks.size(); ++b) {
        const BlockRef& r = c.blocks[b];
        if (!r.is_split()) continue;
        ASSERT_LT(r.split, f.splits.size());
        EXPECT_TRUE(SplittableColumn(c.id)) << c.name;
        uint32_t rows_in = 0;
        for (const SubBlock& sub : f.splits[r.split]) {
          EXPECT_LE(sub.offset + sub.size, data_end);
          EXPECT_EQ(sub.first_row, rows_in);
          rows_in += sub.rows;
        }
        EXPECT_EQ(rows_in, f.blocks[b].rows);
      }
    }
  }
  EXPECT_GT(refused, 1000u);
}

TEST_F(SegmentCorruption, MissingFileIsNotFound) {
  auto reader = SegmentReader::Open(&env_, "/d/absent.seg");
  EXPECT_TRUE(reader.status().IsNotFound()) << reader.status().ToString();
}

// Random flips anywhere: the reader may fail, never crash, and a block that reads OK is
// either the original or an error was reported elsewhere (CRC32C catches every flip here).
TEST_F(SegmentCorruption, RandomByteFlipsNeverCrash) {
  std::mt19937 rng(20261130);
  std::vector<Record> want;
  {
    auto reader = SegmentReader::Open(&env_, kPath);
    ASSERT_TRUE(reader.ok());
    for (uint32_t b = 0; b < 3; ++b)
      ASSERT_TRUE((*reader)->ReadBlock(b, kColAll, &want, nullptr).ok());
  }
  for (int trial = 0; trial < 400; ++trial) {
    std::string bad = good_;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    ASSERT_TRUE(env_.SetContents(kPath, bad).ok());
    auto reader = SegmentReader::Open(&env_, kPath);
    if (!reader.ok()) {
      EXPECT_TRUE(reader.status().IsDataLoss()) << reader.status().ToString();
      continue;
    }
    std::vector<Record> got;
    bool all_ok = true;
    for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
      all_ok &= (*reader)->ReadBlock(b, kColAll, &got, nullptr).ok();
    }
    if (all_ok && (*reader)->blocks().size() == 3) {
      EXPECT_EQ(got, want) << "trial " << trial;
    }
    (*reader)->Postings("service", "api").status().IgnoreError();
    (*reader)->IndexedValues("trace_id").status().IgnoreError();
    (*reader)->SegmentMayContain("message", "request").status().IgnoreError();
    (*reader)->BlockMayContain(1, "trace_id", "trace150").status().IgnoreError();
    VerifyReport report;
    EXPECT_TRUE(VerifySegment(&env_, kPath, &report).ok());
  }
}

}  // namespace
}  // namespace sawmill::segment
