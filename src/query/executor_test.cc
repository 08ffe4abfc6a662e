#include "query/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>

#include "common/time_format.h"
#include "query/fake_segment_test_util.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"

namespace sawmill::query {
namespace {

using testing::kDatasetNow;
using testing::kDatasetStart;

class ExecutorDifferential : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { records_ = new std::vector<Record>(testing::LoadDataset()); }
  static void TearDownTestSuite() { delete records_; }
  static std::vector<Record>* records_;
};
std::vector<Record>* ExecutorDifferential::records_ = nullptr;

// The planned engine (indexes, blooms, partitions, early termination, parallel workers) must
// return exactly what a record-by-record scan returns.
TEST_F(ExecutorDifferential, PlannedEngineAgreesWithBruteForce) {
  ASSERT_GT(records_->size(), 5000u) << "dataset missing under " << testing::SharedDir();
  auto snapshot = testing::MakeSnapshot("default", *records_, 4, 3, 700, 256);
  testing::ExpectAgreement(snapshot, *records_, 4, 1234, 400, kDatasetStart, 7000);
}

TEST_F(ExecutorDifferential, IndexesPruneWithoutChangingTheAnswer) {
  auto snapshot = testing::MakeSnapshot("default", *records_, 4, 3, 0, 256);
  size_t needle = 700;
  while ((*records_)[needle].trace_id.empty()) ++needle;
  auto query =
      std::make_shared<const Query>(*ParseQuery("trace_id=" + (*records_)[needle].trace_id));
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  ExecResult with = Execute(snapshot, query, o);
  o.use_indexes = false;
  ExecResult without = Execute(snapshot, query, o);
  ASSERT_EQ(with.hits.size(), 1u);
  EXPECT_EQ(with.hits, without.hits);
  EXPECT_EQ(with.stats.blocks_read, 1u) << "one row block (read in two passes: filter, then rest)";
  EXPECT_GT(without.stats.blocks_read, 30u);
  // Regression: blocks read used to count column blocks and exceeded blocks total.
  EXPECT_LE(without.stats.blocks_read, without.stats.blocks_total);
  EXPECT_LT(with.stats.segments_after_index, with.stats.segments_after_time);
}

TEST_F(ExecutorDifferential, NewestFirstStopsEarly) {
  auto snapshot = testing::MakeSnapshot("default", *records_, 1, 8, 0, 256);
  auto query = std::make_shared<const Query>(*ParseQuery("service=hdfs"));
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  o.limit = 5;
  ExecResult r = Execute(snapshot, query, o);
  ASSERT_EQ(r.hits.size(), 5u);
  for (size_t i = 1; i < r.hits.size(); ++i) EXPECT_GT(r.hits[i - 1].seq, r.hits[i].seq);
  EXPECT_EQ(r.stats.segments_after_index, 1u) << r.plan;
  EXPECT_NE(r.plan.find("skipped, the newest hits are already found"), std::string::npos);
}

TEST_F(ExecutorDifferential, ByteLimitGivesAPartialAnswerWithAWarning) {
  auto snapshot = testing::MakeSnapshot("default", *records_, 1, 4, 0, 256);
  // A filter matching every record that the indexes cannot answer: the count reads every row
  // (`* | count` is counted from the row counts, reading nothing).
  auto query = std::make_shared<const Query>(*ParseQuery("NOT nosuchword | count"));
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  o.max_bytes_scanned = 10000;
  ExecResult r = Execute(snapshot, query, o);
  EXPECT_TRUE(r.partial);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("per-query scan limit (10000 bytes)"), std::string::npos)
      << r.warnings.back();
  EXPECT_NE(r.warnings.back().find("narrow the time range"), std::string::npos);
  EXPECT_LT(std::get<int64_t>(r.rows[0][0].second), static_cast<int64_t>(records_->size()));
}

TEST_F(ExecutorDifferential, AllTimeBucketsOverTooLongASpanKeepTheNonEmptyOnes) {
  auto query = std::make_shared<const Query>(*ParseQuery("* | count by bucket(1ms)"));
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  ExecResult r = Execute(testing::MakeSnapshot("default", *records_, 1, 1, 0, 256), query, o);
  EXPECT_EQ(r.rows.size(), records_->size()) << "one line per 700 ms: every bucket has one";
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "the matching lines span more than 10000 buckets of 1ms: empty buckets are left out; "
            "use a wider bucket or a time range");
}

TEST_F(ExecutorDifferential, EmptyBucketsArePresent) {
  std::vector<Record> few(records_->begin(), records_->begin() + 10);
  auto snapshot = testing::MakeSnapshot("default", few, 1, 1, 0, 256);
  auto query = std::make_shared<const Query>(*ParseQuery("* | count by bucket(1m)"));
  ExecOptions o;
  o.range = {kDatasetStart - 2 * 60 * kNanosPerSecond, kDatasetStart + 2 * 60 * kNanosPerSecond,
             false};
  ExecResult r = Execute(snapshot, query, o);
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0],
            (Row{{"bucket", std::string("2026-11-30T09:58:00Z")}, {"count", int64_t{0}}}));
  EXPECT_EQ(r.rows[2],
            (Row{{"bucket", std::string("2026-11-30T10:00:00Z")}, {"count", int64_t{10}}}));
  (void)kDatasetNow;
}

TEST_F(ExecutorDifferential, BytesByBucketEndSumsMessageBytesInRightClosedBuckets) {
  // bucket_end(1m): (t - 1m, t], named by t; bytes: the message bytes, not the lines.
  auto query = std::make_shared<const Query>(*ParseQuery("* | bytes by bucket_end(1m), service"));
  EXPECT_EQ(ToString(*query), "* | bytes by bucket_end(1m), service");
  constexpr int64_t kMinute = 60 * kNanosPerSecond;
  ExecOptions o;
  o.range = {kDatasetStart, kDatasetStart + 30 * kMinute, false};
  ExecResult r = Execute(testing::MakeSnapshot("default", *records_, 2, 2, 300, 256), query, o);
  ASSERT_TRUE(r.warnings.empty()) << r.warnings[0];
  std::map<std::pair<int64_t, std::string>, int64_t> want, got;
  std::set<std::string> services;
  for (const Record& rec : *records_) {
    if (rec.ingest_ts < o.range.from_ns || rec.ingest_ts >= o.range.to_ns) continue;
    const int64_t end = (rec.ingest_ts + kMinute - 1) / kMinute * kMinute;
    want[{end, rec.service}] += static_cast<int64_t>(rec.message.size());
    services.insert(rec.service);
  }
  for (const Row& row : r.rows) {
    ASSERT_EQ(row.size(), 3u);
    EXPECT_EQ(row[2].first, "bytes");
    const int64_t bytes = std::get<int64_t>(row[2].second);
    if (bytes == 0) continue;
    got[{*ParseRfc3339(std::get<std::string>(row[0].second)),
         std::get<std::string>(row[1].second)}] = bytes;
  }
  EXPECT_EQ(got, want);
  // Every series gets every bucket: the first one ends at the start of the range (which it
  // holds) and the last at its end.
  EXPECT_EQ(r.rows.size(), 31 * services.size());
  EXPECT_EQ(std::get<std::string>(r.rows.front()[0].second), "2026-11-30T10:00:00Z");
  EXPECT_EQ(std::get<std::string>(r.rows.back()[0].second), "2026-11-30T10:30:00Z");
}

// Monotonic time moves by "step" on every read, so every limit check costs "step": a deadline of
// N steps is reached after N checks, however fast the machine. Optionally sets "*cancel" at
// the "cancel_at"-th read instead, like a client that hangs up mid-scan.
class CountingClock final : public Clock {
 public:
  explicit CountingClock(int64_t step, std::atomic<bool>* cancel = nullptr, int cancel_at = 0)
      : step_(step), cancel_(cancel), cancel_at_(cancel_at) {}
  int64_t NowNanos() const override { return kDatasetNow; }
  int64_t MonotonicNanos() const override {
    int n = ++reads_;
    if (cancel_ != nullptr && n >= cancel_at_) cancel_->store(true);
    return n * step_;
  }
  int reads() const { return reads_.load(); }

 private:
  int64_t step_;
  std::atomic<bool>* cancel_;
  int cancel_at_;
  mutable std::atomic<int> reads_{0};
};

// "rows" records of "bytes" bytes of random text each (letters that never spell a word the
// tests search for).
std::vector<Record> LongLines(size_t rows, size_t bytes) {
  std::mt19937 rng(7);
  const char alphabet[] = "abc0123456789abc";
  std::vector<Record> out(rows);
  for (size_t i = 0; i < rows; ++i) {
    Record& r = out[i];
    r.seq = i + 1;
    r.tenant = "default";
    r.ts = r.ingest_ts = kDatasetStart + static_cast<int64_t>(i) * kNanosPerSecond;
    r.service = "api";
    r.host = "web-1";
    r.level = Level::kInfo;
    r.message.resize(bytes);
    for (char& c : r.message) c = alphabet[rng() % 16];
  }
  return out;
}

ExecOptions AllTime(Clock* clock) {
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.all_time = true;
  o.clock = clock;
  return o;
}

// Regression: the deadline was checked only between blocks, so one block of long lines and an
// expensive filter ran far past it. Now it is checked every kCheckEveryRows rows inside.
TEST(ExecutorLimits, DeadlineStopsTheScanInsideABlock) {
  std::vector<Record> records = LongLines(20 * kCheckEveryRows, 100);
  auto snapshot = testing::MakeSnapshot("default", records, 1, 1, 0, 20 * kCheckEveryRows);
  ASSERT_EQ(snapshot->segments.size(), 1u);
  CountingClock clock(kNanosPerSecond);
  auto query = std::make_shared<const Query>(*ParseQuery("NOT nomatch | count"));
  ExecOptions o = AllTime(&clock);
  o.deadline_mono_ns = 5 * kNanosPerSecond;  // five clock reads
  o.time_limit_ns = 5 * kNanosPerSecond;
  ExecResult r = Execute(snapshot, query, o);
  EXPECT_TRUE(r.partial);
  EXPECT_EQ(r.stopped, StopReason::kTime);
  EXPECT_EQ(r.stats.blocks_read, 1u);
  EXPECT_GT(r.stats.rows_scanned, 0u);
  EXPECT_LE(r.stats.rows_scanned, 5u * kCheckEveryRows) << "stopped inside the block";
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_EQ(r.warnings.back(),
            "query stopped at the 5 s time limit (query_timeout): the answer is partial; narrow "
            "the time range or the query (add filters on service, host, level or trace_id)");
}

TEST(ExecutorLimits, DeadlineStopsTheMemtableScanInsideAChunk) {
  std::vector<Record> records = LongLines(20 * kCheckEveryRows, 100);
  auto snapshot = testing::MakeSnapshot("default", records, 1, 1, records.size(), 256);
  ASSERT_TRUE(snapshot->segments.empty());
  ASSERT_EQ(snapshot->memtables.size(), 1u);
  CountingClock clock(kNanosPerSecond);
  auto query = std::make_shared<const Query>(*ParseQuery("NOT nomatch"));
  ExecOptions o = AllTime(&clock);
  o.deadline_mono_ns = 4 * kNanosPerSecond;
  o.time_limit_ns = 1500 * kNanosPerMilli;
  ExecResult r = Execute(snapshot, query, o);
  EXPECT_TRUE(r.partial);
  EXPECT_GT(r.stats.memtable_rows_scanned, 0u);
  EXPECT_LE(r.stats.memtable_rows_scanned, 4u * kCheckEveryRows);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("at the 1.5 s time limit (query_timeout)"), std::string::npos)
      << r.warnings.back();
}

// Long lines are checked by bytes of text: a 200 KB line is a batch on its own.
TEST(ExecutorLimits, LongLinesAreCheckedEveryFewRows) {
  std::vector<Record> records = LongLines(24, 200 * 1024);
  auto snapshot = testing::MakeSnapshot("default", records, 1, 1, 0, 24);
  CountingClock clock(kNanosPerSecond);
  auto query = std::make_shared<const Query>(*ParseQuery("NOT nomatch | count"));
  ExecOptions o = AllTime(&clock);
  o.deadline_mono_ns = 6 * kNanosPerSecond;
  ExecResult r = Execute(snapshot, query, o);
  EXPECT_TRUE(r.partial);
  EXPECT_LE(r.stats.rows_scanned, 8u) << "about one check per row of 200 KB";
}

TEST(ExecutorLimits, CancellationStopsTheScanAndSaysWhy) {
  std::vector<Record> records = LongLines(20 * kCheckEveryRows, 100);
  auto snapshot = testing::MakeSnapshot("default", records, 1, 4, 2 * kCheckEveryRows, 1024);
  std::atomic<bool> cancelled{false};
  CountingClock clock(1, &cancelled, 4);  // the client hangs up at the 4th check
  auto query = std::make_shared<const Query>(*ParseQuery("NOT nomatch | count"));
  ExecOptions o = AllTime(&clock);
  o.cancelled = &cancelled;
  ExecResult r = Execute(snapshot, query, o);
  EXPECT_TRUE(r.partial);
  EXPECT_EQ(r.stopped, StopReason::kCancelled);
  EXPECT_LT(r.stats.rows_scanned, records.size() / 2);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_EQ(r.warnings.back(),
            "query cancelled because the client closed the connection: the answer is partial");
  // Without the hang-up the same query reads everything.
  CountingClock steady(1);
  ExecResult full = Execute(snapshot, query, AllTime(&steady));
  EXPECT_FALSE(full.partial);
  EXPECT_EQ(full.stats.rows_scanned, records.size());
}

// The largest regex the parser allows, over long lines of text that keep RE2 off its fast
// path, with a real clock: the query stops at its deadline, give or take a row's evaluation.
TEST(ExecutorLimits, ExpensiveRegexOverLongLinesStopsAtTheDeadline) {
  std::string alts;
  for (int i = 0; i < 300; ++i) alts += (i ? "|" : "") + ("(a" + std::to_string(i) + "(b+c*)+)+d");
  Result<Query> parsed = ParseQuery("message~\"" + alts + "\" | count");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto query = std::make_shared<const Query>(std::move(*parsed));
  std::vector<Record> records = LongLines(60, 200 * 1024);
  auto snapshot = testing::MakeSnapshot("default", records, 1, 2, 0, 30);  // 30-row blocks
  WorkerPool pool(2);
  ExecOptions o = AllTime(Clock::Real());
  o.pool = &pool;
  auto start = std::chrono::steady_clock::now();
  o.deadline_mono_ns = Clock::Real()->MonotonicNanos() + 300 * kNanosPerMilli;
  o.time_limit_ns = 300 * kNanosPerMilli;
  ExecResult r = Execute(snapshot, query, o);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(r.partial) << "60 rows of 200 KB take seconds with this regex";
  EXPECT_LT(r.stats.rows_scanned, records.size());
  // 300 ms, plus one row's evaluation per worker (about 0.1 s; slack for a loaded machine).
  EXPECT_LT(seconds, 2.5);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().find("300 ms time limit"), std::string::npos) << r.warnings.back();
}

TEST(ExecutorLimits, FormatLimitNamesTheUnit) {
  EXPECT_EQ(FormatLimit(60 * kNanosPerSecond), "60 s");
  EXPECT_EQ(FormatLimit(1500 * kNanosPerMilli), "1.5 s");
  EXPECT_EQ(FormatLimit(250 * kNanosPerMilli), "250 ms");
}

}  // namespace
}  // namespace sawmill::query
