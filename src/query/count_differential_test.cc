// Differential tests of counting from postings (issue 19): a plain `FILTER | count` whose filter
// the inverted index answers exactly is counted from the postings' cardinalities without
// reading a row of the segments wholly inside the time range. The count must equal the
// record-by-record count, and the stats must show that no segment row was read.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "common/env.h"
#include "common/hash.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"
#include "segment/format.h"
#include "segment/segment_file_reader.h"
#include "segment/testdata.h"
#include "storage/engine.h"

namespace sawmill::query {
namespace {

using testing::kDatasetStart;

using testing::AllTime;
using testing::BuildSnapshot;
using testing::ForEachRealDataset;
using testing::IngestSpan;
using testing::RandomWindow;
using testing::TempDir;

struct Counted {
  ExecResult planned, brute;
};

Counted RunCount(std::shared_ptr<const storage::Snapshot> snap, const std::vector<Record>& records,
                 const std::string& text, const ExecOptions& o) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  auto query = std::make_shared<const Query>(std::move(*parsed));
  return Counted{Execute(snap, query, o), BruteForce(records, *query, o)};
}

// Every `field=value` of the index-exact built-in fields the records hold (at most "per_field"
// values each, the most frequent first), alone, combined, negated and or-ed, as `| count`.
// User ids are not index-exact from format 27 (the block map).
std::vector<std::string> ExactCountQueries(const std::vector<Record>& records, size_t per_field) {
  std::map<std::string, std::map<std::string, size_t>> seen;
  for (const Record& r : records) {
    ++seen["service"][r.service];
    ++seen["host"][r.host];
    ++seen["level"][std::string(LevelName(r.level))];
    if (!r.trace_id.empty()) ++seen["trace_id"][r.trace_id];
    // Not user_id: from format 27 its index (the block map) names a user's blocks, not its rows,
    // so its count reads them (UserBlockMap.* count users as the scan).
  }
  std::map<std::string, std::vector<std::string>> values;
  for (auto& [field, counts] : seen) {
    std::vector<std::pair<size_t, std::string>> by_count;
    for (auto& [v, n] : counts) {
      // Values the query language would need escapes for are left out.
      if (!v.empty() && v.find_first_of("\"\\") == std::string::npos) by_count.emplace_back(n, v);
    }
    std::sort(by_count.rbegin(), by_count.rend());
    for (size_t i = 0; i < by_count.size() && i < per_field; ++i) {
      values[field].push_back(by_count[i].second);
    }
  }
  auto eq = [](const std::string& f, const std::string& v) { return f + "=\"" + v + "\""; };
  std::vector<std::string> out = {
      "* | count",           "level=ERROR | count",    "level=WARN | count",
      "level>=WARN | count", "NOT level=INFO | count", "service=nosuchservice | count"};
  for (auto& [field, vs] : values) {
    for (const std::string& v : vs) out.push_back(eq(field, v) + " | count");
  }
  for (const std::string& s : values["service"]) {
    for (const std::string& l : values["level"])
      out.push_back(eq("service", s) + " " + eq("level", l) + " | count");
    out.push_back(eq("service", s) + " NOT level=ERROR | count");
  }
  // Groups of indexed built-in fields: intersections of postings.
  for (const char* pipe : {" | count by level", " | count by service", " | top 3 host",
                           " | uniq level", " | count by service, level", " | top 2 level"}) {
    out.push_back(std::string("*") + pipe);
    out.push_back(std::string("level=ERROR") + pipe);
    out.push_back("NOT level=INFO" + std::string(pipe));
    for (const std::string& s : values["service"]) out.push_back(eq("service", s) + pipe);
  }
  if (values["host"].size() >= 2) {
    out.push_back("(" + eq("host", values["host"][0]) + " OR " + eq("host", values["host"][1]) +
                  ") | count");
  }
  return out;
}

// Runs "queries" over all time and over a range that cuts through blocks; the counts must be
// the brute-force ones. Over all time no segment row may be read for them.
void ExpectExactCounts(std::shared_ptr<const storage::Snapshot> snap,
                       const std::vector<Record>& records, const std::vector<std::string>& queries,
                       int64_t cut_from, int64_t cut_to) {
  uint64_t counted = 0;
  for (const std::string& text : queries) {
    SCOPED_TRACE(text);
    Counted all = RunCount(snap, records, text, AllTime());
    ASSERT_EQ(all.planned.rows, all.brute.rows);
    EXPECT_FALSE(all.planned.partial);
    EXPECT_EQ(all.planned.stats.rows_matched, all.brute.stats.rows_matched);
    // Every segment row the count needs comes from the postings: only memtable rows are read.
    EXPECT_EQ(all.planned.stats.rows_scanned, all.planned.stats.memtable_rows_scanned);
    EXPECT_EQ(all.planned.stats.blocks_read, 0u);
    counted += all.planned.stats.rows_counted_from_index;

    ExecOptions cut;
    cut.range = {cut_from, cut_to, false};
    Counted part = RunCount(snap, records, text, cut);
    ASSERT_EQ(part.planned.rows, part.brute.rows);
  }
  EXPECT_GT(counted, 0u);
}

TEST(CountFromPostings, ExactFiltersCountWithoutReadingRows) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  TempDir dir("exact");
  // Every field posted: the dataset's trace ids are near-unique, and segments that leave them to
  // their blooms count them by reading blocks (NearUniqueDifferential checks those counts).
  const index::ValuePostingsRule every_field;
  auto snap = BuildSnapshot(records, dir.path(), 1500, 400, 256, 3, nullptr, &every_field);
  const int64_t last = records.back().ingest_ts;
  ExpectExactCounts(snap, records, ExactCountQueries(records, 6),
                    kDatasetStart + (last - kDatasetStart) / 3,
                    kDatasetStart + (last - kDatasetStart) * 2 / 3);

  // Time field ts, and a range that covers some segments whole and cuts others.
  ExecOptions ts;
  ts.time_field_ts = true;
  ts.range = {kDatasetStart + 600 * kNanosPerSecond, last, false};
  for (const char* text : {"level=ERROR | count", "* | count", "NOT level=INFO | count"}) {
    Counted c = RunCount(snap, records, text, ts);
    EXPECT_EQ(c.planned.rows, c.brute.rows) << text;
  }
}

TEST(CountFromPostings, InexactFiltersFallBackToScanning) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  TempDir dir("inexact");
  auto snap = BuildSnapshot(records, dir.path(), 1500, 0, 256);
  // Word prefixes (blooms), phrases (word postings give a superset: adjacency is checked on the
  // rows), regular expressions, dynamic fields (a key may repeat in a record, so their postings
  // are a superset), and a count grouped by a field. Bare words count from their postings:
  // word_postings_differential_test.cc.
  for (const char* text :
       {"erro* | count", "\"block blk\" | count", "message~\"(?i)error\" | count",
        "component=* | count", "level=ERROR erro* | count", "erro* | count by service",
        "\"block blk\" | top 3 level"}) {
    SCOPED_TRACE(text);
    Counted c = RunCount(snap, records, text, AllTime());
    EXPECT_EQ(c.planned.rows, c.brute.rows);
    EXPECT_EQ(c.planned.stats.rows_counted_from_index, 0u);
  }
  // A plain count of an exact filter reads nothing.
  Counted c = RunCount(snap, records, "level=ERROR | count", AllTime());
  EXPECT_EQ(c.planned.rows, c.brute.rows);
  EXPECT_EQ(c.planned.stats.rows_scanned, 0u);
  EXPECT_EQ(c.planned.stats.rows_counted_from_index, c.brute.stats.rows_matched);
  EXPECT_NE(c.planned.plan.find("counted from the index"), std::string::npos) << c.planned.plan;
}

// Random filters with `| count`, random time ranges and time fields: planned == brute force.
TEST(CountFromPostings, RandomCountsAgreeWithBruteForce) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  TempDir dir("random");
  auto snap = BuildSnapshot(records, dir.path(), 1200, 300, 128);
  testing::RandomQueries gen(records, 1919);
  WorkerPool pool(2);
  uint64_t counted = 0;
  const int64_t span_s = (records.back().ingest_ts - kDatasetStart) / kNanosPerSecond;
  for (int iter = 0; iter < 400; ++iter) {
    std::string text = gen.Filter() + " | count";
    ExecOptions o = RandomWindow(gen, span_s, /*sub_second=*/false, ExecOptions{});
    o.pool = &pool;
    Counted c = RunCount(snap, records, text, o);
    ASSERT_FALSE(c.planned.partial) << text;
    ASSERT_EQ(c.planned.rows, c.brute.rows) << text;
    counted += c.planned.stats.rows_counted_from_index;
  }
  EXPECT_GT(counted, 0u);
}

// Format version 17: the level's postings as inverted index version 3 (the most frequent level
// as the rest of the rows, the others Rice-coded). Levels drawn as the benchmark corpus draws
// them, each row at random: every level's count alone, with a service and negated, grouped, and
// its newest rows, as brute force; segments of format versions 2 and 17 and warm ones mixed.
TEST(CountFromPostings, CorpusLevelsFromRestPostingsAsBruteForce) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u);
  std::mt19937 rng(19);
  for (Record& r : records) {
    const uint32_t d = rng() % 100;
    r.level = d < 50   ? Level::kDebug
              : d < 85 ? Level::kInfo
              : d < 95 ? Level::kWarn
                       : Level::kError;
  }
  TempDir dir("rest");
  const index::ValuePostingsRule every_field;
  auto snap = BuildSnapshot(records, dir.path(), 1500, 400, 256, 3, nullptr, &every_field);
  // Segment 2 is of the current version: its level index is version 3, DEBUG the rest.
  auto reader = segment::SegmentFileReader::OpenFile(Env::Default(), dir.path() + "/2.seg");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->format_version(), segment::kFormatVersion);
  auto level = (*reader)->LoadIndex("level");
  ASSERT_TRUE(level.ok() && *level != nullptr);
  EXPECT_EQ((*level)->version(), index::kInvertedIndexRestVersion);

  std::vector<std::string> queries = ExactCountQueries(records, 6);
  for (const char* text : {"level=DEBUG | count", "NOT level=DEBUG | count",
                           "level=DEBUG OR level=ERROR | count", "level<=INFO | count"}) {
    queries.push_back(text);
  }
  const int64_t last = records.back().ingest_ts;
  ExpectExactCounts(snap, records, queries, kDatasetStart + (last - kDatasetStart) / 3,
                    kDatasetStart + (last - kDatasetStart) * 2 / 3);
  for (const char* text : {"level=DEBUG", "level=ERROR", "level=WARN NOT level=DEBUG"}) {
    SCOPED_TRACE(text);
    Counted c = RunCount(snap, records, text, AllTime());
    ASSERT_EQ(c.planned.hits.size(), c.brute.hits.size());
    for (size_t i = 0; i < c.planned.hits.size(); ++i) {
      EXPECT_EQ(c.planned.hits[i].seq, c.brute.hits[i].seq) << i;
    }
  }
}

// Every real dataset: counts of each dataset's own services, hosts, levels and ids.
TEST(CountFromPostings, RealDatasetsCountFromPostingsAsBruteForce) {
  ForEachRealDataset(12000, [](std::vector<Record>& records) {
    TempDir dir("real");
    auto snap = BuildSnapshot(records, dir.path(), 4000, 150, 1024);
    auto [lo, hi] = IngestSpan(records);
    ExpectExactCounts(snap, records, ExactCountQueries(records, 4), lo + (hi - lo) / 4,
                      lo + (hi - lo) * 3 / 4);
  });
}

}  // namespace
}  // namespace sawmill::query
