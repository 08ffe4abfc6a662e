// ColumnAggregation::Add on hand-made blocks of columns against Aggregator::Add of each row's
// record (the record path): the bucket of each row found from ascending runs of times (a block
// inside one bucket, a block across buckets, runs that cross a bucket edge and runs that fall
// back to an earlier bucket, times 1 ns either side of an edge, bucket and bucket_end), the rows
// a time range keeps, levels unknown and out of range (docs/performance.md "Session 19:
// aggregations at 10 M").
#include "query/column_aggregation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>

#include "query/parser.h"

namespace sawmill::query {
namespace {

constexpr int64_t kMinute = 60 * kNanosPerSecond;
constexpr int64_t kT0 = 1'795'910'400 * kNanosPerSecond;  // a minute's edge

struct Block {
  std::vector<int64_t> ts;
  std::vector<int> levels;
  std::vector<std::string> services;
};

// The answer of "text" over "rows" of "block" (null: every row), by the columns and by records.
struct Answers {
  bool added = false;
  std::vector<Row> columns, records;
};

// The block's ts, level and service columns as the reader gives them.
segment::BlockColumns ColumnsOf(const Block& block) {
  segment::BlockColumns cols;
  cols.rows = static_cast<uint32_t>(block.ts.size());
  cols.ints[std::countr_zero(uint32_t{segment::kColTs})] = block.ts;
  auto& levels = cols.ints[std::countr_zero(uint32_t{segment::kColLevel})];
  for (int l : block.levels) levels.push_back(l);
  auto& services = cols.text[std::countr_zero(uint32_t{segment::kColService})];
  for (const std::string& s : block.services) services.push_back(s);
  return cols;
}

Answers AddBoth(const std::string& text, const Block& block,
                const std::vector<uint32_t>* rows = nullptr) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text;
  const Query query = std::move(*parsed);
  const segment::BlockColumns cols = ColumnsOf(block);

  Answers out;
  Aggregator by_columns(&query, /*time_field_ts=*/true);
  std::optional<ColumnAggregation> agg = ColumnAggregation::Make(by_columns, true);
  EXPECT_TRUE(agg.has_value()) << text;
  if (!agg) return out;
  out.added = agg->Add(cols, rows, &by_columns);
  agg->HandOver(&by_columns);
  Aggregator by_records(&query, /*time_field_ts=*/true);
  for (size_t i = 0; i < block.ts.size(); ++i) {
    if (rows != nullptr && std::find(rows->begin(), rows->end(), i) == rows->end()) continue;
    Record r;
    r.ts = block.ts[i];
    // (A level no Level has stays unknown here: only the column path is asked about it.)
    r.level = block.levels[i] < kLevelCount ? static_cast<Level>(block.levels[i]) : Level::kUnknown;
    r.service = block.services[i];
    by_records.Add(r);
  }
  std::vector<std::string> warnings;
  const TimeRange all{INT64_MIN, INT64_MAX, false};
  out.columns = by_columns.Finish(all, /*all_time=*/true, &warnings);
  out.records = by_records.Finish(all, /*all_time=*/true, &warnings);
  return out;
}

// Rows as a source's run: "n" times from "from", "step" apart, levels and services in turn.
void AddRun(Block* b, int64_t from, int64_t step, int n) {
  static const char* const kServices[] = {"api", "db", "web"};
  for (int i = 0; i < n; ++i) {
    b->ts.push_back(from + step * i);
    b->levels.push_back(2 + static_cast<int>(b->ts.size() % 4));
    b->services.push_back(kServices[b->ts.size() % 3]);
  }
}

const char* const kPipes[] = {
    "* | count by bucket(1m), level", "* | count by bucket_end(1m), level",
    "* | count by bucket(1m)",        "* | count by bucket(5m), level, service",
    "* | count by level, service",    "* | count"};

// Every pipe of kPipes over "rows" of "b" (null: every row): added from the columns, the same
// answer as the records'.
void ExpectEveryPipeAgrees(const Block& b, const std::vector<uint32_t>* rows = nullptr) {
  for (const char* text : kPipes) {
    SCOPED_TRACE(text);
    Answers a = AddBoth(text, b, rows);
    ASSERT_TRUE(a.added);
    EXPECT_EQ(a.columns, a.records);
  }
}

TEST(ColumnAggregationAdd, ABlockInsideOneBucket) {
  Block b;
  AddRun(&b, kT0 + kNanosPerSecond, kNanosPerMilli, 500);
  ExpectEveryPipeAgrees(b);
}

TEST(ColumnAggregationAdd, ABlockAcrossBucketsWithRunsThatCrossEdgesAndFallBack) {
  Block b;
  // Three sources, each an ascending run over several minutes; each new run falls back to an
  // earlier bucket than the last row before it.
  AddRun(&b, kT0 + 7 * kNanosPerSecond, 13 * kNanosPerSecond, 40);
  AddRun(&b, kT0 - 2 * kMinute, 29 * kNanosPerSecond, 30);
  AddRun(&b, kT0 + 3 * kNanosPerSecond, 61 * kNanosPerSecond, 12);
  // A run stepping 1 ns across an edge, and one landing on each edge exactly.
  AddRun(&b, kT0 + 5 * kMinute - 2, 1, 5);
  AddRun(&b, kT0, kMinute, 8);
  AddRun(&b, kT0 - 1, kMinute, 8);
  AddRun(&b, kT0 + 1, kMinute, 8);
  // Runs that fall back to the last time before the current bucket's first (a bucket_end(1m)
  // bucket holds (edge - 1m, edge]; a bucket(1m) bucket [edge, edge + 1m)).
  AddRun(&b, kT0 + 1, 1, 3);
  AddRun(&b, kT0, 1, 3);
  AddRun(&b, kT0 - 1, 1, 3);
  ExpectEveryPipeAgrees(b);
}

TEST(ColumnAggregationAdd, OnlyTheListedRowsOfABlockCutByTheTimeRange) {
  Block b;
  AddRun(&b, kT0 + 3 * kNanosPerSecond, 7 * kNanosPerSecond, 100);
  AddRun(&b, kT0 + kNanosPerSecond, 11 * kNanosPerSecond, 100);
  // The rows of a range [kT0 + 2m, kT0 + 6m) as the executor lists them: ascending, a subset.
  std::vector<uint32_t> rows;
  for (uint32_t i = 0; i < b.ts.size(); ++i) {
    if (b.ts[i] >= kT0 + 2 * kMinute && b.ts[i] < kT0 + 6 * kMinute) rows.push_back(i);
  }
  ASSERT_GT(rows.size(), 10u);
  ASSERT_LT(rows.size(), b.ts.size() / 2);
  ExpectEveryPipeAgrees(b, &rows);
}

// With only a bucket and levels as keys the counts stay in the ColumnAggregation across blocks
// until HandOver: two blocks whose buckets overlap, handed over once, count as their rows do.
TEST(ColumnAggregationAdd, CountsKeptAcrossBlocksUntilHandedOver) {
  Block first, second;
  AddRun(&first, kT0 + 5 * kNanosPerSecond, 17 * kNanosPerSecond, 60);
  AddRun(&second, kT0 + 9 * kNanosPerSecond, 23 * kNanosPerSecond, 50);
  Block both = first;
  both.ts.insert(both.ts.end(), second.ts.begin(), second.ts.end());
  both.levels.insert(both.levels.end(), second.levels.begin(), second.levels.end());
  both.services.insert(both.services.end(), second.services.begin(), second.services.end());
  for (const char* text : {"* | count by bucket(1m), level", "* | count by bucket_end(5m)",
                           "* | count by level", "* | count by bucket(1m), level, service"}) {
    SCOPED_TRACE(text);
    Result<Query> parsed = ParseQuery(text);
    ASSERT_TRUE(parsed.ok());
    const Query query = std::move(*parsed);
    Aggregator agg(&query, /*time_field_ts=*/true);
    std::optional<ColumnAggregation> by_columns = ColumnAggregation::Make(agg, true);
    ASSERT_TRUE(by_columns.has_value());
    for (const Block* b : {&first, &second}) {
      ASSERT_TRUE(by_columns->Add(ColumnsOf(*b), nullptr, &agg));
    }
    by_columns->HandOver(&agg);
    std::vector<std::string> warnings;
    const TimeRange all{INT64_MIN, INT64_MAX, false};
    EXPECT_EQ(agg.Finish(all, true, &warnings), AddBoth(text, both).records);
  }
}

// A query may name a level key many times, or ask for many buckets: the counts kept across
// blocks stay bounded (7^8 cells a bucket would be 46 MB), the answer the records'.
TEST(ColumnAggregationAdd, CountsKeptAcrossBlocksStayBoundedForRepeatedLevelsAndManyBuckets) {
  Block levels;
  AddRun(&levels, kT0 + 5 * kNanosPerSecond, 17 * kNanosPerSecond, 60);
  Block buckets;  // 300,000 one-second buckets, one row each
  AddRun(&buckets, kT0, kNanosPerSecond, 300'000);
  struct Case {
    const char* text;
    const Block* block;
  } cases[] = {
      {"* | count by bucket(1m), level, level, level, level, level, level, level, level", &levels},
      {"* | count by level, level, level, level, level, level, level, level, level, level",
       &levels},
      {"* | count by bucket(1s), level, level", &buckets},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Result<Query> parsed = ParseQuery(c.text);
    ASSERT_TRUE(parsed.ok());
    const Query query = std::move(*parsed);
    Aggregator agg(&query, /*time_field_ts=*/true);
    std::optional<ColumnAggregation> by_columns = ColumnAggregation::Make(agg, true);
    ASSERT_TRUE(by_columns.has_value());
    ASSERT_TRUE(by_columns->Add(ColumnsOf(*c.block), nullptr, &agg));
    EXPECT_LE(by_columns->KeptBytes(), size_t{8} << 20);
    by_columns->HandOver(&agg);
    if (c.block == &levels) {
      std::vector<std::string> warnings;
      const TimeRange all{INT64_MIN, INT64_MAX, false};
      EXPECT_EQ(agg.Finish(all, true, &warnings), AddBoth(c.text, levels).records);
    }
  }
}

TEST(ColumnAggregationAdd, UnknownLevelsAreTheEmptyGroupAndLevelsOutOfRangeAreLeftToRecords) {
  Block b;
  AddRun(&b, kT0, kNanosPerSecond, 300);
  for (size_t i = 0; i < b.levels.size(); i += 3) b.levels[i] = 0;  // Level::kUnknown
  for (const char* text : {"* | count by bucket(1m), level", "* | count by level, service"}) {
    SCOPED_TRACE(text);
    Answers a = AddBoth(text, b);
    ASSERT_TRUE(a.added);
    EXPECT_EQ(a.columns, a.records);
    bool empty_group = false;
    for (const Row& row : a.columns) {
      for (const auto& [name, value] : row) {
        if (name == "level" && value == Value(std::string())) empty_group = true;
      }
    }
    EXPECT_TRUE(empty_group) << "no row for the unknown level";
  }
  // A level value no Level has (a damaged column the decoder let through) is not counted as
  // some other group: the block goes to the record path.
  b.levels[7] = kLevelCount;
  Answers a = AddBoth("* | count by bucket(1m), level", b);
  EXPECT_FALSE(a.added);
}

}  // namespace
}  // namespace sawmill::query
