// Format version 25: the seq column stored against the block's ts as kTsLine
// (ts_line_encoding.cc), read back alone and through a segment.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/fault_env.h"
#include "segment/column_encoding.h"
#include "segment/int_column_test_util.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"

namespace sawmill::segment {
namespace {

constexpr int64_t kStart = 1'795'910'400'000'000'000;

// Lines as the 10 M corpus's arrive: line L's time is L x "step" ns after kStart, jittered by
// up to "jitter" ns either way (at microsecond precision), from one of "sources" sources; they
// arrive in batches of 1,000 lines, and with "shuffled" a third of the batches one place early
// (senders' batches overtaking each other). Returns the lines in arrival order (seq = 1, 2, ...
// in that order).
std::vector<Record> ArrivingLines(std::mt19937_64* rng, size_t count, size_t sources, int64_t step,
                                  int64_t jitter, bool shuffled) {
  std::vector<size_t> line(count);
  std::iota(line.begin(), line.end(), 0);
  if (shuffled) {
    std::vector<size_t> batches;
    for (size_t b = 0; b < count; b += 1000) batches.push_back(b);
    for (size_t k = 1; k < batches.size(); ++k) {
      if ((*rng)() % 3 == 0) std::swap(batches[k - 1], batches[k]);
    }
    size_t at = 0;
    for (size_t b : batches) {
      for (size_t i = b; i < std::min(count, b + 1000); ++i) line[at++] = i;
    }
  }
  std::vector<Record> out(count);
  for (size_t i = 0; i < count; ++i) {
    Record& r = out[i];
    r.tenant = "t";
    const int64_t j =
        static_cast<int64_t>((*rng)() % static_cast<uint64_t>(2 * jitter + 1)) - jitter;
    r.ts = (kStart + static_cast<int64_t>(line[i]) * step + j) / 1000 * 1000;
    r.ingest_ts = kStart + static_cast<int64_t>(i / 1000) * 1'000'000;
    r.seq = i + 1;
    const size_t s = (*rng)() % sources;
    r.service = "svc" + std::to_string(s / 5);
    r.host = "node-" + std::to_string(s);
    r.level = static_cast<Level>((*rng)() % kLevelCount);
    r.message = "line " + std::to_string(line[i]) + " of source " + std::to_string(s);
  }
  return out;
}

// One block's rows of such lines: every "every"-th line (a partition's), sorted by (source, ts,
// seq) as the writer sorts a time slice. "seq" and "ts" in row order.
struct Block {
  std::vector<int64_t> seq, ts;
};
Block BlockOf(const std::vector<Record>& lines, size_t every, size_t rows) {
  std::vector<const Record*> in;
  for (size_t i = 0; i < lines.size() && in.size() < rows; i += every) in.push_back(&lines[i]);
  std::sort(in.begin(), in.end(), [](const Record* a, const Record* b) {
    return std::tie(a->host, a->ts, a->seq) < std::tie(b->host, b->ts, b->seq);
  });
  Block out;
  for (const Record* r : in) {
    out.seq.push_back(static_cast<int64_t>(r->seq));
    out.ts.push_back(r->ts);
  }
  return out;
}

// kTsLine of "seq" against "ts" read back as every int block is (whole, through a row, listed
// rows, every strict prefix refused), inside a scope of the rows' ts.
void ExpectRoundTrip(const std::vector<int64_t>& seq, const std::vector<int64_t>& ts,
                     const std::string& what) {
  std::string block;
  ASSERT_TRUE(EncodeTsLine(seq.data(), ts.data(), seq.size(), &block)) << what;
  ASSERT_EQ(static_cast<Encoding>(block[0]), Encoding::kTsLine) << what;
  ASSERT_TRUE(TsLineNeedsRowTimes(block));
  RowTimesScope scope(ts.data(), ts.size());
  ExpectIntBlockReadsBack(block, seq, what);
}

TEST(TsLine, RoundTripsArrivalOrdersTiesOneRowAndTheInt64Ends) {
  std::mt19937_64 rng(25);
  for (bool shuffled : {false, true}) {
    for (size_t every : {1, 9}) {
      const std::vector<Record> lines =
          ArrivingLines(&rng, 8192 * every, 35, 8'640'000, 2'000'000'000, shuffled);
      const Block b = BlockOf(lines, every, 8192);
      ExpectRoundTrip(b.seq, b.ts,
                      std::string(shuffled ? "batches shuffled" : "in order") + ", every " +
                          std::to_string(every) + " lines");
    }
  }
  // Ties: every row one time (one bucket, no slope), times in whole seconds (hundreds of rows
  // a time), one row, two rows.
  {
    const Block b = BlockOf(ArrivingLines(&rng, 3000, 7, 1'000'000, 5'000'000, true), 1, 3000);
    ExpectRoundTrip(b.seq, std::vector<int64_t>(b.seq.size(), kStart), "one time");
    std::vector<int64_t> seconds = b.ts;
    for (int64_t& t : seconds) t = t / 1'000'000'000 * 1'000'000'000;
    ExpectRoundTrip(b.seq, seconds, "whole seconds");
  }
  ExpectRoundTrip({77}, {kStart}, "one row");
  ExpectRoundTrip({5, 3}, {kStart + 9, kStart}, "two rows");
  // seq falling as ts rises (a negative slope), seq at the top of int64 and past it (a uint64
  // seq above 2^63 is a negative int64: rows on both sides of the wrap), the ts at both ends of
  // int64 in one block.
  std::vector<int64_t> falling(500), top(500), wrap(500), ts(500), ends(500);
  for (size_t i = 0; i < 500; ++i) {
    ts[i] = kStart + static_cast<int64_t>(i) * 1'000'000 + static_cast<int64_t>(rng() % 3'000'000);
    falling[i] = 1'000'000 - static_cast<int64_t>(i) * 7 + static_cast<int64_t>(rng() % 50);
    top[i] = INT64_MAX - 10'000 + static_cast<int64_t>(i) * 9 + static_cast<int64_t>(rng() % 60);
    wrap[i] = static_cast<int64_t>(static_cast<uint64_t>(INT64_MAX) - 250 + i);
    ends[i] =
        i % 2 == 0 ? INT64_MIN + static_cast<int64_t>(i) : INT64_MAX - static_cast<int64_t>(i);
  }
  ExpectRoundTrip(falling, ts, "falling");
  ExpectRoundTrip(top, ts, "the top of int64");
  ExpectRoundTrip(falling, ends, "ts at both ends of int64");
  // Across the wrap the values are no line: the encoder may refuse them; the chooser then keeps
  // another encoding, and the block reads back.
  std::string block;
  if (EncodeTsLine(wrap.data(), ts.data(), wrap.size(), &block)) ExpectRoundTrip(wrap, ts, "wrap");
  block.clear();
  EncodeSeqColumn(wrap.data(), wrap.size(), true, &block, ts.data());
  RowTimesScope scope(ts.data(), ts.size());
  ExpectIntBlockReadsBack(block, wrap, "wrap, as the chooser keeps it");
  std::string none;
  EXPECT_FALSE(EncodeTsLine(nullptr, nullptr, 0, &none));
  EXPECT_TRUE(none.empty());
}

// What a user notices: the seq of a partition's block of the corpus's lines (every ninth line of
// 35 sources, lines arriving up to 2 s from their time) costs at most 0.8 of what version 23's
// chooser stores (kDelta under zstd 3), 0.9 with a third of the batches one place early; and the
// chooser takes kTsLine only where its bytes are fewer.
TEST(TsLine, TheChooserTakesTheSeqOfLinesArrivingInTimeOrderInFewerBytes) {
  std::mt19937_64 rng(28);
  for (bool shuffled : {false, true}) {
    const Block b =
        BlockOf(ArrivingLines(&rng, 9 * 8192, 35, 8'640'000, 2'000'000'000, shuffled), 9, 8192);
    std::string v23, v25;
    EncodeSeqColumn(b.seq.data(), b.seq.size(), true, &v23);
    EncodeSeqColumn(b.seq.data(), b.seq.size(), true, &v25, b.ts.data());
    EXPECT_NE(static_cast<Encoding>(v23[0]), Encoding::kTsLine);
    ASSERT_EQ(static_cast<Encoding>(v25[0]), Encoding::kTsLine) << shuffled;
    const size_t before = ZstdBytes(v23, 3), after = std::min(v25.size(), ZstdBytes(v25, 3));
    EXPECT_LT(after * 10, before * (shuffled ? 9 : 8))
        << after << " vs " << before << (shuffled ? " shuffled" : "");
  }
  // One source in seq order whose times are no guide (random within the block): kDelta stays.
  std::vector<int64_t> seq(4096), ts(4096);
  for (size_t i = 0; i < seq.size(); ++i) {
    seq[i] = static_cast<int64_t>(i * 3 + rng() % 3);
    ts[i] = kStart + static_cast<int64_t>(rng() % 1'000'000'000'000);
  }
  std::string kept;
  EncodeSeqColumn(seq.data(), seq.size(), true, &kept, ts.data());
  EXPECT_EQ(static_cast<Encoding>(kept[0]), Encoding::kDelta);
}

// A block built by hand: header (encoding, count, t0, width, buckets, base, slope), buckets
// (low less the previous, span), digit bits.
std::string HandMade(uint64_t count, int64_t t0, uint64_t width, int64_t base, int64_t slope,
                     const std::vector<std::pair<int64_t, uint64_t>>& buckets,
                     const std::string& bits, uint64_t bucket_count = UINT64_MAX) {
  std::string b(1, static_cast<char>(Encoding::kTsLine));
  PutVarint64(&b, count);
  PutVarint64(&b, ZigZagEncode(t0));
  PutVarint64(&b, width);
  PutVarint64(&b, bucket_count == UINT64_MAX ? buckets.size() : bucket_count);
  PutVarint64(&b, ZigZagEncode(base));
  PutVarint64(&b, ZigZagEncode(slope));
  int64_t prev = 0;
  for (const auto& [low, span] : buckets) {
    PutVarint64(&b, ZigZagEncode(low - prev));
    PutVarint64(&b, span);
    prev = low;
  }
  return b + bits;
}

TEST(TsLine, DamagedBlocksAndMissingTimesAreDataLossNamingWhere) {
  // Two rows at t0 and t0 + 10, width 10: one bucket each; bucket 0 of span 2 (radix 3), bucket
  // 1 of span 4 (radix 5): digits 2 and 3 in one group, 2 x 5 + 3 = 13 < 15 in 4 bits.
  const std::vector<int64_t> ts = {100, 110};
  std::vector<int64_t> got;
  {
    RowTimesScope scope(ts.data(), ts.size());
    ASSERT_TRUE(
        DecodeIntColumn(HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d"), 2, &got).ok());
    EXPECT_EQ(got, (std::vector<int64_t>{1007, 998}));
  }
  struct Case {
    std::string block;
    std::string says;
  };
  const std::vector<Case> cases = {
      {HandMade(2, 100, 0, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d"), "malformed header"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d", 0), "malformed header"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d", 3), "malformed header"},
      {HandMade(2, 100, 10, 1000, int64_t{1} << 62, {{5, 2}, {-5, 4}}, "\x0d"),
       "slope 4611686018427387904 is out of range"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}}, "", 2), "bucket 1 of 2 is missing"},
      {HandMade(2, 100, 10, 1000, 0, {{5, uint64_t{1} << 62}, {-5, 4}}, "\x0d"),
       "bucket 0 is out of range"},
      {HandMade(2, 101, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d"),
       "row 0's ts 100 is outside the block's buckets of ts"},
      {HandMade(2, 100, 5, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d"),
       "row 1's ts 110 is outside the block's buckets of ts"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, ""), "row 0's digit is damaged or past"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0f"), "row 0's digit is damaged"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x1d"), "bytes after the digits"},
      {HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, std::string("\x0d\x00", 2)),
       "bytes after the digits"},
      {HandMade(2, 100, 10, INT64_MAX, 0, {{5, 2}, {-5, 4}}, "\x0d"),
       "row 0's value is out of range"},
  };
  for (const Case& c : cases) {
    RowTimesScope scope(ts.data(), ts.size());
    got.clear();
    const Status s = DecodeIntColumn(c.block, 2, &got);
    EXPECT_TRUE(s.IsDataLoss()) << c.says << ": " << s.ToString();
    EXPECT_NE(s.ToString().find("ts-line int column: " + c.says), std::string::npos)
        << s.ToString();
    EXPECT_TRUE(got.empty()) << c.says;
  }
  // The rows' ts not given, or not as many as the rows.
  const std::string good = HandMade(2, 100, 10, 1000, 0, {{5, 2}, {-5, 4}}, "\x0d");
  got.clear();
  Status s = DecodeIntColumn(good, 2, &got);
  EXPECT_NE(s.ToString().find("stored against its rows' ts, which were not given for its 2 rows"),
            std::string::npos)
      << s.ToString();
  {
    RowTimesScope one(ts.data(), 1);
    s = DecodeIntColumn(good, 2, &got);
    EXPECT_NE(s.ToString().find("not given for its 2 rows (1 given)"), std::string::npos)
        << s.ToString();
  }
  EXPECT_TRUE(got.empty());
  // Random damage: a clear error or as many values, never a crash or a read past the block.
  std::mt19937_64 rng(26);
  const Block b = BlockOf(ArrivingLines(&rng, 18000, 12, 8'640'000, 2'000'000'000, true), 9, 2000);
  std::string real;
  ASSERT_TRUE(EncodeTsLine(b.seq.data(), b.ts.data(), b.seq.size(), &real));
  RowTimesScope scope(b.ts.data(), b.ts.size());
  for (int trial = 0; trial < 3000; ++trial) {
    std::string damaged = real;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    got.clear();
    s = DecodeIntColumn(damaged, b.seq.size(), &got);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
      EXPECT_TRUE(got.empty());
    } else {
      EXPECT_EQ(got.size(), b.seq.size());
    }
  }
}

// A segment of the corpus's kind of lines (every line of 35 sources arriving up to 2 s from
// their time, batches out of order), written as version 25 and as version 23: every row's seq
// comes back with its own message through ReadBlock, ReadRows, ReadIntColumnRows,
// ReadColumnValues and ReadIntColumnsThrough (the seq alone: the reader reads the block's ts
// for it), `sawmill segment verify` finds nothing, version 25's seq blocks are kTsLine and
// version 23's none, in at most 0.9 of the bytes.
TEST(TsLine, ASegmentOfLinesArrivingInTimeOrderReadsBackInVersion25InFewerBytes) {
  std::mt19937_64 rng(2325);
  const std::vector<Record> lines = ArrivingLines(&rng, 40'000, 35, 8'640'000, 2'000'000'000, true);
  FaultInjectionEnv env;
  const IntColumnReadBack v25 = ExpectVersionReadsBack(
      &env, "/v25.seg", 25, ColumnId::kSeq, kColSeq,
      [](const Record& r) { return static_cast<int64_t>(r.seq); }, lines, &rng);
  const IntColumnReadBack v23 = ExpectVersionReadsBack(
      &env, "/v23.seg", 23, ColumnId::kSeq, kColSeq,
      [](const Record& r) { return static_cast<int64_t>(r.seq); }, lines, &rng);
  EXPECT_EQ(v23.encodings.count(Encoding::kTsLine), 0u);
  ASSERT_EQ(v25.encodings.count(Encoding::kTsLine), 1u);
  EXPECT_EQ(v25.encodings.at(Encoding::kTsLine), 5u) << "every block of 8,192 rows";
  EXPECT_LT(v25.bytes * 10, v23.bytes * 9) << v25.bytes << " vs " << v23.bytes;
}

// Every real dataset, each line's seq its arrival order (1, 2, ...), the loader's times (one a
// millisecond, some going backwards), written as version 25 and as version 23: read back as
// above, version 25's seq never larger.
TEST(TsLine, EveryRealDatasetReadsBackItsSeqFromAVersion25Segment) {
  std::mt19937_64 rng(2525);
  size_t blocks = 0;
  const std::vector<DatasetColumnBytes> bytes = ExpectRealDatasetsReadBackInTwoVersions(
      23, ColumnId::kSeq, kColSeq, [](const Record& r) { return static_cast<int64_t>(r.seq); },
      [](Record*) {}, Encoding::kTsLine, &blocks, &rng);
  for (const DatasetColumnBytes& d : bytes) {
    EXPECT_LE(d.now, d.older) << d.name << ": version 25 " << d.now << ", 23 " << d.older;
  }
  std::printf("real datasets: %zu seq blocks as ts-line\n", blocks);
}

// A version-25 segment whose ts block is damaged: a read of the seq (alone, or with the ts)
// is DataLoss naming the segment, the seq block and the ts, never a seq made of other times;
// `sawmill segment verify` names the ts block.
TEST(TsLine, ADamagedTsBlockFailsTheSeqReadNamingBoth) {
  std::mt19937_64 rng(2524);
  const std::vector<Record> lines = ArrivingLines(&rng, 9000, 35, 8'640'000, 2'000'000'000, true);
  FaultInjectionEnv env;
  WriterOptions options;
  options.pack_fields_below = 0;  // each column block its own physical block
  options.pack_columns_below = 0;
  ASSERT_TRUE(WriteSegment(&env, "/d.seg", SegmentInfo{}, lines, options, nullptr).ok());
  std::string good;
  ASSERT_TRUE(env.GetContents("/d.seg", &good).ok());
  auto reader = SegmentFileReader::OpenFile(&env, "/d.seg");
  ASSERT_TRUE(reader.ok());
  const Footer footer = (*reader)->footer();
  std::string raw;
  ASSERT_TRUE((*reader)
                  ->ReadPhysical(footer.columns[static_cast<size_t>(ColumnId::kSeq)].blocks[0],
                                 "seq", &raw, nullptr)
                  .ok());
  ASSERT_TRUE(TsLineNeedsRowTimes(raw)) << "block 0's seq is kTsLine";
  const BlockRef ts_ref = footer.columns[static_cast<size_t>(ColumnId::kTs)].blocks[0];
  ASSERT_FALSE(ts_ref.packed);
  std::string bad = good;
  bad[ts_ref.offset + ts_ref.size / 2] ^= 0x5a;
  ASSERT_TRUE(env.SetContents("/d.seg", bad).ok());
  reader = SegmentFileReader::OpenFile(&env, "/d.seg");
  ASSERT_TRUE(reader.ok());
  std::vector<Record> rows;
  BlockColumns columns;
  for (const Status& s : {(*reader)->ReadBlock(0, kColSeq, &rows, nullptr),
                          (*reader)->ReadColumnValues(0, kColSeq, &columns, nullptr),
                          (*reader)->ReadIntColumnsThrough(0, kColSeq, 5, &columns, nullptr),
                          (*reader)->ReadIntColumnRows(0, kColSeq, {3, 9}, &columns, nullptr),
                          (*reader)->ReadRows(0, kColSeq | kColMessage, {1, 2}, &rows, nullptr)}) {
    EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
    EXPECT_NE(s.ToString().find("column 'seq' block 0"), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("its rows' ts, which it is stored against, did not read"),
              std::string::npos)
        << s.ToString();
    EXPECT_NE(s.ToString().find("column 'ts' block 0"), std::string::npos) << s.ToString();
  }
  // With the ts asked too, the ts read fails first: DataLoss naming it.
  Status s = (*reader)->ReadBlock(0, kColTs | kColSeq, &rows, nullptr);
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  EXPECT_NE(s.ToString().find("column 'ts' block 0"), std::string::npos) << s.ToString();
  // The other block still reads.
  EXPECT_TRUE((*reader)->ReadBlock(1, kColAll, &rows, nullptr).ok());
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env, "/d.seg", &report).ok());
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.problems[0].find("column 'ts' block 0"), std::string::npos)
      << report.problems[0];
}

}  // namespace
}  // namespace sawmill::segment
