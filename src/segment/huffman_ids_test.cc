// Format version 20: int blocks whose values repeat with a skewed frequency (the numbers of user
// ids inside kPrefixedNumber) as kHuffmanIds (huffman_ids_encoding.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
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
#include "segment/testdata.h"
#include "segment/writer_test_hook.h"

namespace sawmill::segment {
namespace {

// "count" draws of ids 0..users-1 with Zipf(s) popularity, the ids scattered over [0, span).
std::vector<int64_t> ZipfIds(std::mt19937_64* rng, size_t count, size_t users, double s,
                             int64_t span) {
  std::vector<double> weights(users);
  for (size_t r = 0; r < users; ++r) weights[r] = 1.0 / std::pow(static_cast<double>(r + 1), s);
  std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
  std::vector<int64_t> id_of(users);
  for (size_t r = 0; r < users; ++r) id_of[r] = static_cast<int64_t>((*rng)() % span);
  std::vector<int64_t> values(count);
  for (int64_t& v : values) v = id_of[pick(*rng)];
  return values;
}

void ExpectRoundTrip(const std::vector<int64_t>& values, const std::string& what) {
  std::vector<int64_t> scratch;
  std::string block;
  ASSERT_TRUE(EncodeHuffmanIds(values.data(), values.size(), &scratch, &block)) << what;
  ASSERT_EQ(static_cast<Encoding>(block[0]), Encoding::kHuffmanIds) << what;
  ExpectIntBlockReadsBack(block, values, what);
  // A few listed rows (ReadRows of a user id): their values.
  std::vector<uint32_t> rows = {0, static_cast<uint32_t>(values.size() / 2),
                                static_cast<uint32_t>(values.size() - 1)};
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  std::vector<int64_t> listed;
  const Status s = DecodeIntRows(block, values.size(), rows, &listed);
  ASSERT_TRUE(s.ok()) << what << ": " << s.ToString();
  ASSERT_EQ(listed.size(), rows.size()) << what;
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(listed[i], values[rows[i]]) << what;
}

TEST(HuffmanIds, RoundTripSkewedUniformAndExtremeValues) {
  std::mt19937_64 rng(20);
  for (size_t count : {2, 3, 100, 8192, 70000}) {
    for (double s : {0.0, 0.9, 1.5}) {
      ExpectRoundTrip(ZipfIds(&rng, count, 100'000, s, 100'000),
                      std::to_string(count) + " rows, Zipf " + std::to_string(s));
    }
  }
  // Two values; every value distinct; negative values and the int64 extremes (gaps past any
  // Rice quotient: escapes); one frequent value among rare ones far apart.
  ExpectRoundTrip({7, 9}, "two");
  std::vector<int64_t> distinct(5000);
  for (size_t i = 0; i < distinct.size(); ++i) distinct[i] = static_cast<int64_t>(i * 7919 % 5003);
  ExpectRoundTrip(distinct, "distinct");
  ExpectRoundTrip({INT64_MIN, INT64_MAX, INT64_MIN, 0, INT64_MAX, -1, INT64_MAX, -5}, "extremes");
  std::vector<int64_t> skew(4000, 12);
  for (size_t i = 0; i < 40; ++i) skew[i * 100] = static_cast<int64_t>(i) << 40;
  ExpectRoundTrip(skew, "one frequent value");
}

// Values spread so far apart that the mean gap wants a Rice parameter past the format's 32
// (second reader's LOW-2): the gaps are Rice-coded with k = 32 (q + 33 bits each), not all
// escaped (113 bits each: more than the values' own 64), and read back.
TEST(HuffmanIds, GapsWiderThanTheLargestRiceParameterAreCodedNotEscaped) {
  std::mt19937_64 rng(21);
  for (const int shift : {34, 35, 36}) {
    SCOPED_TRACE("gaps near 2^" + std::to_string(shift));
    std::vector<int64_t> distinct(1000);
    int64_t v = -(int64_t{1} << 62);
    for (int64_t& d : distinct) {
      v += (int64_t{1} << shift) + static_cast<int64_t>(rng() % (uint64_t{1} << shift));
      d = v;
    }
    std::vector<int64_t> values;
    for (size_t i = 0; i < 2000; ++i) values.push_back(distinct[rng() % distinct.size()]);
    ExpectRoundTrip(values, "wide gaps");
    std::vector<int64_t> scratch;
    std::string block;
    ASSERT_TRUE(EncodeHuffmanIds(values.data(), values.size(), &scratch, &block));
    // The codes take about 10 bits a row; the gaps, at most q + 33 <= 65 bits each with k = 32
    // (every gap here is below 2^37: q < 32), 113 each escaped (~16.6 KB in all).
    const size_t codes = 2000 * 11 / 8;
    EXPECT_LT(block.size(), codes + 999 * 65 / 8 + 1000) << "every gap escaped";
  }
}

TEST(HuffmanIds, RefusesWhatItCannotCode) {
  std::vector<int64_t> scratch;
  std::string block;
  const std::vector<int64_t> one = {5, 5, 5};
  EXPECT_FALSE(EncodeHuffmanIds(one.data(), one.size(), &scratch, &block));
  EXPECT_FALSE(EncodeHuffmanIds(one.data(), 1, &scratch, &block));
  // Counts in a Fibonacci series give codes as long as the values are many: past 20 bits.
  std::vector<int64_t> fib;
  uint64_t a = 1, b = 1;
  for (int64_t v = 0; v < 24; ++v) {
    for (uint64_t i = 0; i < a; ++i) fib.push_back(v);
    const uint64_t c = a + b;
    a = b;
    b = c;
  }
  EXPECT_FALSE(EncodeHuffmanIds(fib.data(), fib.size(), &scratch, &block));
  EXPECT_TRUE(block.empty());
  fib.resize(fib.size() / 50);  // fewer values: short enough
  EXPECT_TRUE(EncodeHuffmanIds(fib.data(), fib.size(), &scratch, &block));
}

// A hand-made body: header, then the bits given as a string of '0' and '1'.
std::string Block(uint64_t count, uint64_t n, int64_t first, uint8_t k, uint8_t max_length,
                  const std::string& bits) {
  std::string b(1, static_cast<char>(Encoding::kHuffmanIds));
  PutVarint64(&b, count);
  PutVarint64(&b, n);
  PutVarint64(&b, ZigZagEncode(first));
  b.push_back(static_cast<char>(k));
  b.push_back(static_cast<char>(max_length));
  for (size_t i = 0; i < bits.size(); i += 8) {
    uint8_t byte = 0;
    for (size_t j = 0; j < 8; ++j) {
      byte = static_cast<uint8_t>(byte << 1 | (i + j < bits.size() && bits[i + j] == '1'));
    }
    b.push_back(static_cast<char>(byte));
  }
  return b;
}

TEST(HuffmanIds, DamagedBlocksAreDataLossNamingWhat) {
  // Values 10 and 13 (gap 2 at k 1: "01" "0"), lengths 1 and 1 ("1" "1"), rows 0 1 1: "011".
  std::vector<int64_t> got;
  ASSERT_TRUE(DecodeIntColumn(Block(3, 2, 10, 1, 1, "01011011"), 3, &got).ok());
  EXPECT_EQ(got, (std::vector<int64_t>{10, 13, 13}));
  struct Case {
    size_t count;
    std::string block;
    std::string says;
  };
  const std::vector<Case> cases = {
      {3, Block(3, 1, 10, 1, 1, "01011011"), "1 values for 3 rows"},
      {3, Block(3, 4, 10, 1, 1, "01011011"), "4 values for 3 rows"},
      {3, Block(3, 2, 10, 33, 1, "01011011"), "Rice parameter 33"},
      {3, Block(3, 2, 10, 1, 0, "01011011"), "longest code 0"},
      {3, Block(3, 2, 10, 1, 21, "01011011"), "longest code 21"},
      {3, Block(3, 2, 10, 1, 1, "010"), "the code lengths end early"},
      {3, Block(3, 2, 10, 1, 1, "01010011"), "value 1 has a code length below 1"},
      {3, Block(3, 2, 10, 1, 2, "01011011"), "the code lengths of 2 values make no complete code"},
      {10, Block(10, 2, 10, 1, 1, "01011011"), "the codes of 10 rows end early"},
      {3, Block(3, 2, 10, 1, 1, "0101101100000000"), "bytes after the codes of 3 rows"},
      {2, Block(2, 2, 10, 1, 1, "01011011"), "bytes after the codes of 2 rows"},  // a set bit
      {3, Block(3, 2, INT64_MAX - 1, 1, 1, "01011011"), "value 1 is past the largest int64"},
      {3, Block(3, 2, 10, 0, 1, std::string(49, '0') + "1" + "11011"), "value 1 has 49 0-bits"},
      {3, Block(3, 2, 10, 0, 1, std::string(20, '0')), "the values end early"},
  };
  for (const Case& c : cases) {
    got.clear();
    const Status s = DecodeIntColumn(c.block, c.count, &got);
    EXPECT_TRUE(s.IsDataLoss()) << c.says << ": " << s.ToString();
    EXPECT_NE(s.ToString().find(c.says), std::string::npos) << s.ToString();
    EXPECT_TRUE(got.empty()) << c.says;
  }
  // Random damage: a clear error or as many values, never a crash or a read past the block;
  // partial reads too.
  std::mt19937_64 rng(25);
  const std::vector<int64_t> ids = ZipfIds(&rng, 3000, 5000, 0.9, 100'000);
  std::vector<int64_t> scratch;
  std::string real;
  ASSERT_TRUE(EncodeHuffmanIds(ids.data(), ids.size(), &scratch, &real));
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = real;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    got.clear();
    Status s = DecodeIntColumn(damaged, ids.size(), &got);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
      EXPECT_TRUE(got.empty());
    } else {
      EXPECT_EQ(got.size(), ids.size());
    }
    got.clear();
    s = DecodeIntRows(damaged, ids.size(), {5, 70, 2999}, &got);
    EXPECT_TRUE(s.ok() ? got.size() == 3 : s.IsDataLoss()) << s.ToString();
  }
}

// The writer's chooser: version 20 stores Zipf-popular user ids' numbers as kHuffmanIds inside
// kPrefixedNumber in fewer bytes than version 16's byte planes; version 16 never uses it.
std::vector<std::string> UserIds(const std::vector<int64_t>& numbers) {
  std::vector<std::string> ids;
  for (int64_t n : numbers) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "u%06lld", static_cast<long long>(n));
    ids.emplace_back(buf);
  }
  return ids;
}

Encoding InnerEncoding(std::string_view block) { return PrefixedNumberInnerEncoding(block); }

TEST(HuffmanIds, TheChooserTakesZipfUserIdsInFewerBytesFromVersion20) {
  std::mt19937_64 rng(2020);
  const std::vector<std::string> ids = UserIds(ZipfIds(&rng, 8192, 100'000, 0.9, 100'000));
  std::vector<std::string_view> views(ids.begin(), ids.end());
  StringEncodeScratch old_scratch, new_scratch;
  old_scratch.hex = old_scratch.prefixed_number = true;
  new_scratch.hex = new_scratch.prefixed_number = new_scratch.huffman_ids = true;
  std::string before, after;
  EncodeStringColumn(views.data(), views.size(), &old_scratch, &before);
  EncodeStringColumn(views.data(), views.size(), &new_scratch, &after);
  EXPECT_EQ(InnerEncoding(before), Encoding::kIntDict);
  EXPECT_EQ(InnerEncoding(after), Encoding::kHuffmanIds);
  const size_t old_bytes = ZstdBytes(before, 3), new_bytes = ZstdBytes(after, 3);
  EXPECT_LT(new_bytes, old_bytes * 9 / 10) << new_bytes << " vs " << old_bytes;
  std::vector<std::string_view> back;
  std::string arena;
  ASSERT_TRUE(DecodeStringColumn(after, views.size(), &back, &arena).ok());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), views.begin(), views.end()));
  // A lookup compares numbers: the rows of a user, none for another width or prefix.
  std::vector<uint32_t> all(views.size()), want;
  for (uint32_t r = 0; r < all.size(); ++r) {
    all[r] = r;
    if (views[r] == views[77]) want.push_back(r);
  }
  for (const std::string& value : {ids[77], std::string("u0") + ids[77].substr(1),
                                   std::string("x") + ids[77].substr(1), std::string("u99999x")}) {
    std::vector<uint32_t> rows = all;
    Result<bool> kept = KeepPrefixedNumberRowsHolding(after, views.size(), value, &rows);
    ASSERT_TRUE(kept.ok() && *kept) << value;
    EXPECT_EQ(rows, value == ids[77] ? want : std::vector<uint32_t>{}) << value;
  }
}

// Every real dataset, each line given a user id drawn with the corpus's Zipf popularity, written
// as a version 20 segment and as version 16: every row's user id and message come back with its
// own seq through ReadBlock, ReadRows, ReadColumnValues and KeepRowsHolding, `sawmill segment
// verify` finds nothing, no version-16 block uses kHuffmanIds, and version 20's user_id column is
// smaller in all.
TEST(HuffmanIds, EveryRealDatasetReadsBackItsUserIdsFromAVersion20Segment) {
  std::mt19937_64 rng(2016);
  FaultInjectionEnv env;
  uint64_t bytes[2] = {0, 0};
  size_t huffman_blocks[2] = {0, 0};
  for (const testdata::Dataset& d : testdata::RealDatasets()) {
    SCOPED_TRACE(d.name);
    std::vector<Record> records = testdata::LoadDataset(d);
    ASSERT_FALSE(records.empty());
    const std::vector<std::string> users =
        UserIds(ZipfIds(&rng, records.size(), 20'000, 0.9, 100'000));
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].seq = i + 1;
      records[i].user_id = users[i];
    }
    for (int pass = 0; pass < 2; ++pass) {
      const uint32_t version = pass == 0 ? kFormatVersion : 16;
      SCOPED_TRACE("version " + std::to_string(version));
      const std::string path = "/" + d.name + "-" + std::to_string(version) + ".seg";
      WriterOptions options;
      options.format_version = version;
      SegmentInfo info;
      info.id = 1;
      info.tenant = "t";
      ASSERT_TRUE(WriteSegment(&env, path, info, records, options, nullptr).ok());
      auto reader = SegmentFileReader::OpenFile(&env, path);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      const Footer& f = (*reader)->footer();
      const ColumnMeta& meta = f.columns[static_cast<size_t>(ColumnId::kUserId)];
      size_t rows_read = 0;
      for (uint32_t b = 0; b < f.blocks.size(); ++b) {
        SCOPED_TRACE("block " + std::to_string(b));
        bytes[pass] += meta.blocks[b].size;
        std::string raw;
        ASSERT_TRUE((*reader)->ReadPhysical(meta.blocks[b], "column", &raw, nullptr).ok());
        huffman_blocks[pass] += InnerEncoding(raw) == Encoding::kHuffmanIds;
        std::vector<Record> block;
        Status s = (*reader)->ReadBlock(b, kColAll, &block, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        for (const Record& r : block) {
          ASSERT_TRUE(r.seq >= 1 && r.seq <= records.size()) << r.seq;
          EXPECT_EQ(r.user_id, records[r.seq - 1].user_id) << "seq " << r.seq;
          EXPECT_EQ(r.message, records[r.seq - 1].message) << "seq " << r.seq;
        }
        rows_read += block.size();
        std::vector<uint32_t> rows = {0, static_cast<uint32_t>(block.size() - 1)};
        for (int i = 0; i < 5; ++i) rows.push_back(static_cast<uint32_t>(rng() % block.size()));
        std::sort(rows.begin(), rows.end());
        rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        std::vector<Record> some;
        s = (*reader)->ReadRows(b, kColUserId | kColMessage, rows, &some, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        ASSERT_EQ(some.size(), rows.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          EXPECT_EQ(some[i].user_id, block[rows[i]].user_id) << "row " << rows[i];
        }
        BlockColumns columns;
        s = (*reader)->ReadColumnValues(b, kColUserId, &columns, nullptr);
        ASSERT_TRUE(s.ok()) << s.ToString();
        const auto& text = columns.text[std::countr_zero(static_cast<uint32_t>(kColUserId))];
        ASSERT_EQ(text.size(), block.size());
        for (size_t i = 0; i < text.size(); ++i) EXPECT_EQ(text[i], block[i].user_id);
        // A lookup of a row's user (and of one in no row): the rows brute force finds.
        const std::string value = block[rows[rows.size() / 2]].user_id;
        for (const std::string& v : {value, std::string("u999999x")}) {
          std::vector<uint32_t> all(block.size()), want;
          for (uint32_t r = 0; r < all.size(); ++r) {
            all[r] = r;
            if (block[r].user_id == v) want.push_back(r);
          }
          s = (*reader)->KeepRowsHolding(b, kColUserId, v, &all, nullptr);
          ASSERT_TRUE(s.ok()) << s.ToString();
          EXPECT_EQ(all, want) << v;
        }
      }
      EXPECT_EQ(rows_read, records.size());
      VerifyReport report;
      EXPECT_TRUE(VerifySegment(&env, path, &report).ok());
      EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
    }
  }
  EXPECT_GT(huffman_blocks[0], 0u);
  EXPECT_EQ(huffman_blocks[1], 0u);
  EXPECT_LT(bytes[0], bytes[1]) << bytes[0] << " vs " << bytes[1];
}

// A user_id block that an encoder's bug left malformed (its checksum right): reads fail with
// DataLoss naming the segment, the block and the column, and the other blocks read.
int broken_blocks = 0;
void BreakHuffmanLengths(ColumnId column, std::string* encoded) {
  if (column != ColumnId::kUserId || InnerEncoding(*encoded) != Encoding::kHuffmanIds) return;
  ++broken_blocks;
  // kPrefixedNumber: encoding, count, prefix, width; then the inner block: encoding, count, n,
  // first, k, max_length. A longest code of 21 is refused.
  std::string_view body(*encoded);
  body.remove_prefix(1);
  uint64_t v;
  std::string_view prefix;
  GetVarint64(&body, &v);
  GetLengthPrefixed(&body, &prefix);
  body.remove_prefix(2);  // width, inner encoding
  GetVarint64(&body, &v);
  GetVarint64(&body, &v);
  GetVarint64(&body, &v);
  const size_t max_length_at = encoded->size() - body.size() + 1;
  (*encoded)[max_length_at] = 21;
}

TEST(HuffmanIds, AMalformedBlockIsDataLossNamingSegmentBlockAndColumn) {
  std::mt19937_64 rng(7);
  const std::vector<std::string> users = UserIds(ZipfIds(&rng, 3000, 2000, 0.9, 100'000));
  std::vector<Record> records(3000);
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].ts = 1'000'000'000 + static_cast<int64_t>(i) * 1000;
    records[i].seq = i + 1;
    records[i].service = "svc";
    records[i].user_id = users[i];
    records[i].message = "line " + std::to_string(i);
  }
  FaultInjectionEnv env;
  WriterOptions options;
  options.block_rows = 1000;
  SegmentInfo info;
  info.id = 9;
  info.tenant = "t";
  SetEncodedBlockHookForTest(&BreakHuffmanLengths);
  const Status written = WriteSegment(&env, "/broken.seg", info, records, options, nullptr);
  SetEncodedBlockHookForTest(nullptr);
  ASSERT_TRUE(written.ok()) << written.ToString();
  ASSERT_EQ(broken_blocks, 3);  // every block's user ids were huffman-ids
  auto reader = SegmentFileReader::OpenFile(&env, "/broken.seg");
  ASSERT_TRUE(reader.ok());
  std::vector<Record> block;
  Status s = (*reader)->ReadBlock(1, kColAll, &block, nullptr);
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  for (const char* says : {"/broken.seg", "user_id", "block 1", "longest code 21"}) {
    EXPECT_NE(s.ToString().find(says), std::string::npos) << says << ": " << s.ToString();
  }
  s = (*reader)->ReadRows(2, kColUserId, {3}, &block, nullptr);
  EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
  // The other columns of the block still read.
  s = (*reader)->ReadBlock(1, kColMessage | kColTs, &block, nullptr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  VerifyReport report;
  ASSERT_TRUE(VerifySegment(&env, "/broken.seg", &report).ok());
  EXPECT_FALSE(report.ok());
}

}  // namespace
}  // namespace sawmill::segment
