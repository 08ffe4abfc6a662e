// Format version 15: time columns whose rows fall into runs of ascending values (the ts of rows
// sorted by (service, host, ts, seq)) as kRiceRuns (rice_runs_encoding.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "common/coding.h"
#include "common/fault_env.h"
#include "segment/column_encoding.h"
#include "segment/int_column_test_util.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "segment/segment_tools.h"
#include "segment/testdata.h"

namespace sawmill::segment {
namespace {

// "sources" sources' times inside one slice of "span" ns, each ascending, at "unit" ns
// precision, one source after the other (as rows sorted by source, then time, are).
std::vector<int64_t> SourceRuns(std::mt19937_64* rng, size_t count, size_t sources, int64_t start,
                                int64_t span, int64_t unit) {
  std::vector<int64_t> values(count);
  for (int64_t& v : values) v = start + static_cast<int64_t>((*rng)() % (span / unit)) * unit;
  for (size_t s = 0; s < sources; ++s) {
    const size_t lo = count * s / sources, hi = count * (s + 1) / sources;
    std::sort(values.begin() + static_cast<long>(lo), values.begin() + static_cast<long>(hi));
  }
  return values;
}

void ExpectRoundTrip(const std::vector<int64_t>& values, const std::string& what) {
  std::string block;
  ASSERT_TRUE(EncodeRiceRuns(values.data(), values.size(), &block)) << what;
  ASSERT_EQ(static_cast<Encoding>(block[0]), Encoding::kRiceRuns) << what;
  ExpectIntBlockReadsBack(block, values, what);
}

TEST(RiceRuns, RoundTripRunsOfEveryShapeAndExtremes) {
  std::mt19937_64 rng(15);
  for (size_t count : {1, 2, 3, 100, 8192}) {
    for (size_t sources : {1, 7, 35, 500}) {
      if (sources > count) continue;
      for (int64_t unit : {1, 1000, 1'000'000}) {
        ExpectRoundTrip(
            SourceRuns(&rng, count, sources, 1'795'910'400'000'000'000, 75'000'000'000, unit),
            std::to_string(count) + " rows, " + std::to_string(sources) + " sources, unit " +
                std::to_string(unit));
      }
    }
  }
  // Falling values (a run a row), equal values (steps of 0: k 0), the int64 extremes (steps
  // past any Rice quotient: escapes), mixed steps of 1 and 2^62 in one run.
  ExpectRoundTrip({9, 8, 7, 6, 5, -1, -2}, "falling");
  ExpectRoundTrip(std::vector<int64_t>(1000, -77), "equal");
  ExpectRoundTrip({INT64_MIN, INT64_MAX, INT64_MIN, 0, INT64_MAX, -1, INT64_MAX}, "extremes");
  std::vector<int64_t> mixed;
  int64_t v = INT64_MIN;
  for (int i = 0; i < 64; ++i) {
    mixed.push_back(v);
    v += i % 5 == 4 ? (int64_t{1} << 62) / 4 : 1 + i % 3;
  }
  ExpectRoundTrip(mixed, "mixed steps");
  std::vector<int64_t> outlier(200);
  for (size_t i = 0; i < outlier.size(); ++i) {
    outlier[i] = static_cast<int64_t>(i) + (i >= 100 ? int64_t{1} << 40 : 0);
  }
  ExpectRoundTrip(outlier, "an outlier step");
  std::string none;
  EXPECT_FALSE(EncodeRiceRuns(nullptr, 0, &none));
  EXPECT_TRUE(none.empty());
}

// What a user notices: the corpus's times (microsecond stamps jittered by up to 2 s, 35 sources
// of a partition in a 75 s slice) cost the time column about 0.85 of what version 14's chooser
// stored (kScaled's zstd'd deltas), and a version-14 writer never picks kRiceRuns.
TEST(RiceRuns, TheChooserTakesSourceRunsOfMicrosecondTimesInFewerBytes) {
  std::mt19937_64 rng(18);
  const std::vector<int64_t> ts =
      SourceRuns(&rng, 8192, 35, 1'795'910'400'000'000'000, 75'000'000'000, 1000);
  std::string v14, v15;
  EncodeTimeColumn(ts.data(), ts.size(), true, &v14, true, false);
  EncodeTimeColumn(ts.data(), ts.size(), true, &v15, true, true);
  EXPECT_NE(static_cast<Encoding>(v14[0]), Encoding::kRiceRuns);
  ASSERT_EQ(static_cast<Encoding>(v15[0]), Encoding::kRiceRuns);
  const size_t before = ZstdBytes(v14, 3), after = std::min(v15.size(), ZstdBytes(v15, 3));
  EXPECT_LT(after * 100, before * 90) << after << " vs " << before;
  // Times in order at a fixed step (a regular source): delta-of-delta stays.
  std::vector<int64_t> regular(8192);
  for (size_t i = 0; i < regular.size(); ++i) regular[i] = 1000 * static_cast<int64_t>(i);
  std::string kept;
  EncodeTimeColumn(regular.data(), regular.size(), true, &kept, true, true);
  EXPECT_NE(static_cast<Encoding>(kept[0]), Encoding::kRiceRuns);
}

// Nanosecond times about a second apart (a Rice parameter near 30) with now and then a gap
// dozens of times the usual step: the gap's quotient is too long for the fast path, and the
// slow path's overflow check must take it (it shifted a 32-bit quotient by 32 or more, so such
// blocks were written and then refused as DataLoss).
TEST(RiceRuns, NanosecondTimesSecondsApartWithLongGapsReadBack) {
  std::mt19937_64 rng(30);
  for (int64_t mean : {int64_t{130'000'000}, int64_t{1'000'000'000}, int64_t{4'300'000'000}}) {
    std::vector<int64_t> ts(3000);
    int64_t t = 1'795'910'400'000'000'000;
    for (size_t i = 0; i < ts.size(); ++i) {
      const int64_t step = static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * mean));
      t += i % 200 == 199 ? step * 40 + 25 * mean : step;
      ts[i] = t;
    }
    const std::string what = "mean step " + std::to_string(mean) + " ns";
    ExpectRoundTrip(ts, what);
    std::string block;
    EncodeTimeColumn(ts.data(), ts.size(), true, &block, true, true);
    std::vector<int64_t> out;
    Status s = DecodeIntColumn(block, ts.size(), &out);
    ASSERT_TRUE(s.ok()) << what << " (encoding " << static_cast<int>(block[0])
                        << "): " << s.ToString();
    EXPECT_EQ(out, ts) << what;
  }
}

TEST(RiceRuns, DamagedBlocksAreDataLossNamingWhere) {
  const std::vector<int64_t> values = {1000, 3000, 7000, 2000, 2000, 9000};  // two runs of 3
  std::string good;
  ASSERT_TRUE(EncodeRiceRuns(values.data(), values.size(), &good));
  std::vector<int64_t> out;
  ASSERT_TRUE(DecodeIntColumn(good, values.size(), &out).ok());
  ASSERT_EQ(out, values);
  // Hand-made blocks: header (encoding, count, divisor, least, runs), runs (length, k, first),
  // step bits.
  auto block = [](uint64_t count, uint64_t divisor, int64_t least,
                  const std::vector<std::tuple<uint64_t, uint8_t, uint64_t>>& runs,
                  const std::string& bits) {
    std::string b(1, static_cast<char>(Encoding::kRiceRuns));
    PutVarint64(&b, count);
    PutVarint64(&b, divisor);
    PutVarint64(&b, ZigZagEncode(least));
    PutVarint64(&b, runs.size());
    for (const auto& [length, k, first] : runs) {
      PutVarint64(&b, length);
      b.push_back(static_cast<char>(k));
      PutVarint64(&b, first);
    }
    return b + bits;
  };
  // Two rows in one run, k 0: the step 2 is "001".
  std::vector<int64_t> two;
  ASSERT_TRUE(DecodeIntColumn(block(2, 10, 5, {{2, 0, 1}}, "\x04"), 2, &two).ok());
  EXPECT_EQ(two, (std::vector<int64_t>{15, 35}));
  struct Case {
    std::string block;
    std::string says;
  };
  const std::vector<Case> cases = {
      {block(2, 0, 5, {{2, 0, 1}}, "\x04"), "bad divisor"},
      {block(2, 10, 5, {{3, 0, 1}}, "\x04"), "run 0 (from row 0) has a bad length"},
      {block(2, 10, 5, {{1, 0, 1}}, "\x04"), "runs hold 1 rows, not 2"},
      {block(2, 10, 5, {{2, 64, 1}}, "\x04"), "run 0 (from row 0) has a bad header"},
      {block(2, 10, 5, {{2, 0, 1}}, ""), "row 1 is past the end of the steps"},
      {block(2, 10, 5, {{2, 0, 1}}, std::string("\x00", 1)), "row 1 is past the end"},
      {block(2, 10, 5, {{2, 0, 1}}, std::string("\x04\x00", 2)), "bytes after the steps"},
      {block(2, 10, 5, {{2, 0, 1}}, "\x14"), "bytes after the steps"},  // a set bit left
      {block(2, 1, INT64_MAX - 1, {{2, 0, 1}}, "\x04"), "row 1 overflows"},
      {block(1, 4, INT64_MAX / 2, {{1, 0, uint64_t{1} << 62}}, ""), "row 0 overflows"},
  };
  for (const Case& c : cases) {
    std::vector<int64_t> got;
    const Status s = DecodeIntColumn(c.block, 2, &got);
    EXPECT_TRUE(s.IsDataLoss()) << c.says << ": " << s.ToString();
    EXPECT_NE(s.ToString().find(c.says), std::string::npos) << s.ToString();
    EXPECT_TRUE(got.empty()) << c.says;
  }
  // Random damage: a clear error or other values, never a crash or a read past the block.
  std::mt19937_64 rng(22);
  const std::vector<int64_t> ts =
      SourceRuns(&rng, 2000, 9, 1'000'000'000'000, 60'000'000'000, 1000);
  std::string real;
  ASSERT_TRUE(EncodeRiceRuns(ts.data(), ts.size(), &real));
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = real;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    std::vector<int64_t> got;
    const Status s = DecodeIntColumn(damaged, ts.size(), &got);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsDataLoss()) << s.ToString();
      EXPECT_TRUE(got.empty());
    } else {
      EXPECT_EQ(got.size(), ts.size());
    }
  }
}

// Every real dataset, each line's ts its loader's time (one a millisecond, some going backwards)
// jittered by up to a second at microsecond precision, as the corpus's are, written as a
// version 15 segment and as version 14: every row's ts comes back with its own seq through
// ReadBlock, ReadRows, ReadColumnValues and ReadIntColumnsThrough, `sawmill segment verify`
// finds nothing, no version-14 block uses kRiceRuns, and version 15's ts column is never larger.
TEST(RiceRuns, EveryRealDatasetReadsBackItsTimesFromAVersion15Segment) {
  std::mt19937_64 rng(1815);
  size_t rice_blocks = 0;
  const std::vector<DatasetColumnBytes> bytes = ExpectRealDatasetsReadBackInTwoVersions(
      14, ColumnId::kTs, kColTs, [](const Record& r) { return r.ts; },
      [&rng](Record* r) {
        r->ts = r->ts / 1000 * 1000 + static_cast<int64_t>(rng() % 1'000'000) * 1000;
      },
      Encoding::kRiceRuns, &rice_blocks, &rng);
  uint64_t all_now = 0, all_older = 0;
  for (const DatasetColumnBytes& d : bytes) {
    EXPECT_LE(d.now, d.older) << d.name << ": version 15 " << d.now << ", 14 " << d.older;
    all_now += d.now;
    all_older += d.older;
  }
  EXPECT_GT(rice_blocks, 0u);
  EXPECT_LT(all_now, all_older) << all_now << " vs " << all_older;
}

}  // namespace
}  // namespace sawmill::segment
