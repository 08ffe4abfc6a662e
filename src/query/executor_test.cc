#include "query/executor.h"

#include <gtest/gtest.h>

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
  auto query = std::make_shared<const Query>(*ParseQuery("* | count"));
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

}  // namespace
}  // namespace sawmill::query
