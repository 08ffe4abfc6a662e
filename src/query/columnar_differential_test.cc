// Differential tests of the column-only aggregation path (issue 19): `count`, `count by
// bucket(...), level`, `count by service`, `top N field` and `uniq field` whose filter the index
// answers exactly (or `*`) read only the columns they group by, building no record. Every answer
// must equal the record-by-record answer (BruteForce) and the record path's (columnar off), over
// the loghub mix, every real dataset and the benchmark corpus, with memtables and format-2
// segments mixed in, time ranges that cut blocks, bucket edges, NOT and OR.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "corpus_generator.h"
#include "query/corpus_records.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"
#include "query/time_range.h"
#include "segment/testdata.h"

namespace sawmill::query {
namespace {

using testing::AllTime;
using testing::BuildSnapshot;
using testing::ForEachRealDataset;
using testing::IngestSpan;
using testing::kDatasetStart;
using testing::RandomWindow;
using testing::RunAll;
using testing::Runs;
using testing::TempDir;

const char* const kPipes[] = {
    "count",
    "count by bucket(1m), level",
    "count by bucket(5m)",
    "count by bucket_end(10m), service",
    "count by bucket(1h), level, service",
    "count by service",
    "count by level, host",
    "top 3 service",
    "top 5 host",
    "top 2 level",
    "uniq level",
    "uniq trace_id",
    "count by user_id",
    "count by level | sort by count | head 2",
};

// The most frequent non-empty value of each field and a few words posted in most segments.
std::map<std::string, std::vector<std::string>> Frequent(const std::vector<Record>& records) {
  std::map<std::string, std::map<std::string, size_t>> seen;
  for (const Record& r : records) {
    ++seen["service"][r.service];
    ++seen["host"][r.host];
    if (!r.trace_id.empty()) ++seen["trace_id"][r.trace_id];
  }
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [field, counts] : seen) {
    std::vector<std::pair<size_t, std::string>> by;
    for (auto& [v, n] : counts) {
      if (!v.empty() && v.find_first_of("\"\\") == std::string::npos) by.emplace_back(n, v);
    }
    std::sort(by.rbegin(), by.rend());
    for (size_t i = 0; i < by.size() && i < 3; ++i) out[field].push_back(by[i].second);
  }
  return out;
}

// Filters the index answers exactly (fields, and their AND, OR, NOT) and `*`.
std::vector<std::string> ExactFilters(const std::vector<Record>& records) {
  auto f = Frequent(records);
  auto eq = [](const std::string& k, const std::string& v) { return k + "=\"" + v + "\""; };
  std::vector<std::string> out = {"*", "level=ERROR", "level>=WARN", "NOT level=INFO"};
  if (!f["service"].empty()) {
    out.push_back(eq("service", f["service"][0]));
    out.push_back(eq("service", f["service"][0]) + " level=INFO");
    out.push_back("NOT " + eq("service", f["service"][0]));
  }
  if (f["host"].size() >= 2) {
    out.push_back("(" + eq("host", f["host"][0]) + " OR " + eq("host", f["host"][1]) + ")");
  }
  if (!f["trace_id"].empty()) out.push_back(eq("trace_id", f["trace_id"][0]));
  return out;
}

// Every pipe over every filter: over all time, over a range that cuts blocks (edges not on a
// bucket boundary), and on ts. Returns the rows read as columns.
uint64_t ExpectSameAnswers(std::shared_ptr<const storage::Snapshot> snap,
                           const std::vector<Record>& records,
                           const std::vector<std::string>& filters, int64_t lo, int64_t hi,
                           bool exact_filters) {
  uint64_t from_columns = 0;
  const int64_t cut_from = lo + (hi - lo) / 3 + 1'500'000'001;  // 1.5 s past a third
  const int64_t cut_to = lo + (hi - lo) * 2 / 3 + 700'000'000;
  for (const std::string& filter : filters) {
    for (const char* pipe : kPipes) {
      const std::string text = filter + " | " + pipe;
      SCOPED_TRACE(text);
      ExecOptions cut;
      cut.range = {cut_from, cut_to, false};
      ExecOptions ts = cut;
      ts.time_field_ts = true;
      for (const ExecOptions& o : {AllTime(), cut, ts}) {
        Runs r = RunAll(snap, records, text, o);
        EXPECT_EQ(r.columns.rows, r.brute.rows);
        EXPECT_EQ(r.records.rows, r.brute.rows);
        EXPECT_FALSE(r.columns.partial);
        EXPECT_EQ(r.columns.stats.rows_matched, r.brute.stats.rows_matched);
        if (exact_filters) {
          // No segment row is evaluated as a record: each is counted from the postings or read
          // as columns.
          EXPECT_EQ(r.columns.stats.rows_scanned,
                    r.columns.stats.memtable_rows_scanned + r.columns.stats.rows_from_columns)
              << r.columns.plan;
        }
        EXPECT_EQ(r.records.stats.rows_from_columns, 0u);
        from_columns += r.columns.stats.rows_from_columns;
      }
    }
  }
  return from_columns;
}

TEST(ColumnOnlyAggregation, LoghubMixAgreesWithBruteForce) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  TempDir dir("colagg_mix");
  // Format-2 segments (every third), a memtable, blocks of 256 rows.
  auto snap = BuildSnapshot(records, dir.path(), 1500, 400, 256, 3);
  auto [lo, hi] = IngestSpan(records);
  EXPECT_GT(ExpectSameAnswers(snap, records, ExactFilters(records), lo, hi, true), 0u);
  // Filters that are not exact everywhere (words: format-2 segments hold no word postings;
  // a phrase, a prefix, a regex) take the record path where they must; answers agree.
  ExpectSameAnswers(snap, records,
                    {"block", "error OR failed", "NOT block", "\"block blk\"", "erro*",
                     "message~\"[0-9]{4}\" level=INFO", "component=*"},
                    lo, hi, false);
}

TEST(ColumnOnlyAggregation, BucketEdgesAndTinyRanges) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  TempDir dir("colagg_edges");
  auto snap = BuildSnapshot(records, dir.path(), 1000, 0, 128, 0);
  // Ranges that start and end on a bucket edge, 1 ns either side of one, and hold one row.
  const int64_t minute = 60 * kNanosPerSecond;
  const int64_t edge = (kDatasetStart / minute + 10) * minute;
  for (int64_t from : {edge, edge - 1, edge + 1}) {
    for (int64_t len : {minute, 3 * minute + 1, 700 * kNanosPerMilli, int64_t{1}}) {
      for (const char* text :
           {"* | count by bucket(1m), level", "* | count by bucket_end(1m)",
            "level=INFO | count by bucket(1m), service", "* | count", "* | top 3 host"}) {
        SCOPED_TRACE(std::string(text) + " from " + std::to_string(from) + " +" +
                     std::to_string(len));
        ExecOptions o;
        o.range = {from, from + len, false};
        Runs r = RunAll(snap, records, text, o);
        ASSERT_EQ(r.columns.rows, r.brute.rows);
        ASSERT_EQ(r.records.rows, r.brute.rows);
      }
    }
  }  // Ranges whose ends fall exactly on a row's time, and 1 ns either side, on both time fields.
  for (size_t i : {size_t{1000}, size_t{2345}, size_t{4000}}) {
    for (bool on_ts : {false, true}) {
      const int64_t a = on_ts ? records[i].ts : records[i].ingest_ts;
      const int64_t b = on_ts ? records[i + 1500].ts : records[i + 1500].ingest_ts;
      for (int64_t d : {int64_t{-1}, int64_t{0}, int64_t{1}}) {
        for (const char* text : {"* | count by bucket(1m), level", "* | count",
                                 "level=INFO | count", "* | top 3 service"}) {
          SCOPED_TRACE(std::string(text) + " on " + (on_ts ? "ts" : "ingest_ts") + " d " +
                       std::to_string(d));
          ExecOptions o;
          o.range = {a + d, b + d, false};
          o.time_field_ts = on_ts;
          Runs r = RunAll(snap, records, text, o);
          ASSERT_EQ(r.columns.rows, r.brute.rows);
          ASSERT_EQ(r.records.rows, r.brute.rows);
        }
      }
    }
  }
}

TEST(ColumnOnlyAggregation, RandomFiltersPipesAndRanges) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  TempDir dir("colagg_random");
  auto snap = BuildSnapshot(records, dir.path(), 1200, 300, 128, 4);
  testing::RandomQueries gen(records, 2026);
  WorkerPool pool(2);
  uint64_t from_columns = 0;
  const int64_t span_s = (records.back().ingest_ts - kDatasetStart) / kNanosPerSecond;
  for (int iter = 0; iter < 300; ++iter) {
    std::string text = (iter % 3 == 0 ? std::string("*") : gen.Filter()) + " | " +
                       kPipes[static_cast<size_t>(gen.Pick(std::size(kPipes)))];
    ExecOptions o = RandomWindow(gen, span_s, /*sub_second=*/true, AllTime());
    o.pool = &pool;
    Runs r = RunAll(snap, records, text, o);
    ASSERT_FALSE(r.columns.partial) << text;
    ASSERT_EQ(r.columns.rows, r.brute.rows) << text;
    from_columns += r.columns.stats.rows_from_columns;
  }
  EXPECT_GT(from_columns, 0u);
}

TEST(ColumnOnlyAggregation, EveryRealDataset) {
  uint64_t from_columns = 0;
  ForEachRealDataset(6000, [&](std::vector<Record>& records) {
    TempDir dir("colagg_real");
    auto snap = BuildSnapshot(records, dir.path(), 2500, 150, 512, 3);
    auto [lo, hi] = IngestSpan(records);
    from_columns +=
        ExpectSameAnswers(snap, records, {"*", "level=ERROR", "NOT level=INFO"}, lo, hi, true);
  });
  EXPECT_GT(from_columns, 0u);
}

// The benchmark corpus (50 Zipf services, 500 hosts, four levels, trace ids), as bench_query
// loads it, in segments of one partition each.
TEST(ColumnOnlyAggregation, GeneratedCorpus) {
  TempDir dir("colagg_corpus");
  bench::CorpusFacts facts;
  const std::vector<Record> records =
      testing::GeneratedCorpusRecords(30000, dir.path() + "/corpus.ndjson", &facts);
  ASSERT_EQ(records.size(), 30000u);
  auto snap = BuildSnapshot(records, dir.path(), 7000, 1000, 2048, 3);
  auto [lo, hi] = IngestSpan(records);
  std::vector<std::string> filters = {"*", "level=ERROR",
                                      "service=" + facts.error_service + " level=ERROR",
                                      "trace_id=" + facts.needle_trace_id, facts.rare_word};
  EXPECT_GT(ExpectSameAnswers(snap, records, filters, lo, hi, false), 0u);
}

// Per-block statistics (a block inside one bucket counted from the level postings) are taken
// only where the blocks they answer hold a good part of the segment: loading a level's postings
// decodes them for the whole segment. One source, a row a second, blocks of 256 rows (about
// four minutes), and a short last block of 20 rows inside one minute.
TEST(ColumnOnlyAggregation, PerBlockStatisticsOnlyWhereTheyAnswerMuchOfTheSegment) {
  const int64_t hour = 3600 * kNanosPerSecond;
  const int64_t t0 = (kDatasetStart / hour + 1) * hour;
  std::vector<Record> records;
  for (int i = 0; i < 4096 + 20; ++i) {
    Record r;
    r.ts = t0 + i * kNanosPerSecond;
    r.ingest_ts = r.ts;
    r.seq = static_cast<uint64_t>(i);
    r.service = "api";
    r.host = "node-1";
    r.level = static_cast<Level>(2 + (i * 7 + i / 3) % 4);
    r.message = "line " + std::to_string(i);
    records.push_back(std::move(r));
  }
  TempDir dir("colagg_stats");
  // Format version 16: from version 19 the blocks' minute counts answer both queries first
  // (minute_counts_differential_test.cc).
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  {
    segment::WriterOptions wo;
    wo.block_rows = 256;
    wo.format_version = 16;
    segment::SegmentInfo info;
    info.id = 1;
    info.tenant = "default";
    auto h = testing::OpenedSegment(dir.path() + "/1.seg", info, records, wo);
    ASSERT_TRUE(h.has_value());
    snap->segments.push_back(std::move(*h));
  }
  ExecOptions o = AllTime();
  o.time_field_ts = true;
  // Hour buckets: 15 of the 17 blocks lie inside one bucket and are counted from postings.
  Runs hours = RunAll(snap, records, "* | count by bucket(1h), level", o);
  ASSERT_EQ(hours.columns.rows, hours.brute.rows);
  EXPECT_GE(hours.columns.stats.rows_counted_from_index, 3000u);
  // Minute buckets: only the last block (20 rows) lies inside one; it is read as columns.
  Runs minutes = RunAll(snap, records, "* | count by bucket(1m), level", o);
  ASSERT_EQ(minutes.columns.rows, minutes.brute.rows);
  ASSERT_EQ(minutes.records.rows, minutes.brute.rows);
  EXPECT_EQ(minutes.columns.stats.rows_counted_from_index, 0u);
  EXPECT_EQ(minutes.columns.stats.rows_from_columns, records.size());
}

}  // namespace
}  // namespace sawmill::query
