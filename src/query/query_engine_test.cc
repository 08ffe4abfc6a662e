#include "query/query_engine.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "common/metrics.h"
#include "query/fake_segment_test_util.h"
#include "query/test_dataset.h"

namespace sawmill::query {
namespace {

using testing::kDatasetNow;

// A clock whose monotonic time jumps by "step" on every read: makes any query "slow".
class SteppingClock final : public Clock {
 public:
  SteppingClock(int64_t now, int64_t step) : now_(now), step_(step) {}
  int64_t NowNanos() const override { return now_; }
  int64_t MonotonicNanos() const override { return mono_.fetch_add(step_); }

 private:
  int64_t now_;
  int64_t step_;
  mutable std::atomic<int64_t> mono_{0};
};

class QueryEngineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { records_ = new std::vector<Record>(testing::LoadDataset()); }
  static void TearDownTestSuite() { delete records_; }

  void SetUp() override {
    ASSERT_GT(records_->size(), 5000u);
    snapshot_ = testing::MakeSnapshot("default", *records_, 4, 3, 500, 256);
  }

  // Adds a segment whose reader blocks until "release" is fulfilled. Every query that runs
  // (not a cache hit, not one waiting for an identical query) opens it once: executions_.
  void AddBlockingSegment(std::shared_future<void> release) {
    storage::SegmentHandle h = snapshot_->segments.front();
    auto inner = h.open;
    h.info.id = 999;
    h.open = [inner, release, executions = executions_]() {
      executions->fetch_add(1);
      release.wait();
      return inner();
    };
    snapshot_->segments.push_back(h);
  }

  // A query engine over "engine" pruning by the snapshot's 4 partitions.
  std::unique_ptr<QueryEngine> PartitionedEngine(testing::FakeEngine* engine) {
    QueryOptions o;
    o.clock = &clock_;
    o.partitions = 4;
    return QueryEngine::Create(engine, o);
  }

  // "text" searched over all time by a query engine over "engine".
  Result<SearchResponse> SearchAllTime(testing::FakeEngine* engine, std::string text) {
    QueryOptions o;
    o.clock = &clock_;
    SearchRequest r;
    r.q = std::move(text);
    r.all_time = true;
    return QueryEngine::Create(engine, o)->Search(r);
  }

  static std::vector<Record>* records_;
  std::shared_ptr<storage::Snapshot> snapshot_;
  std::shared_ptr<std::atomic<int>> executions_ = std::make_shared<std::atomic<int>>(0);
  ManualClock clock_{kDatasetNow};
};
std::vector<Record>* QueryEngineTest::records_ = nullptr;

// A count that reads every row: its filter (matching every record) is one the indexes cannot
// answer, so it is not counted from postings.
constexpr const char* kScanCount = "NOT nosuchword | count";

SearchRequest Req(std::string q) {
  SearchRequest r;
  r.q = std::move(q);
  return r;
}

TEST_F(QueryEngineTest, SecondIdenticalQueryIsACacheHitUntilTheTtl) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  auto qe = QueryEngine::Create(&engine, o);
  auto first = qe->Search(Req("level=ERROR"));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE(first->stats.cache_hit);
  // Same meaning, different spelling: "AND" and spacing are normalised.
  auto second = qe->Search(Req("level = ERROR"));  // spaces around '=' are allowed
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_TRUE(second->stats.cache_hit);
  second = qe->Search(Req("level=error"));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->stats.cache_hit);
  EXPECT_EQ(second->hits, first->hits);
  // "The last hour" a few seconds later still shares the entry (relative ranges are rounded).
  clock_.Advance(3 * kNanosPerSecond);
  EXPECT_TRUE(qe->Search(Req("level=ERROR"))->stats.cache_hit);
  clock_.Advance(31 * kNanosPerSecond);
  EXPECT_FALSE(qe->Search(Req("level=ERROR"))->stats.cache_hit) << "TTL is 30 s";
  SearchRequest other_tenant = Req("level=ERROR");
  other_tenant.tenant = "acme";
  auto acme = qe->Search(other_tenant);
  EXPECT_FALSE(acme->stats.cache_hit) << "tenants never share answers";
  EXPECT_TRUE(acme->hits.empty());
}

// The e2e memory probe counted "* | count" before ingesting (0), then again after 15 s of
// acknowledged batches and a flush, and was answered 0 from the cache: the key held the query
// and its time range but nothing of the data. A cached answer is never served once the data it
// was computed from changed: new acknowledged lines (memtable), a flush, a compaction.
TEST_F(QueryEngineTest, CachedAnswerIsNeverServedOnceTheDataChanged) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  auto qe = QueryEngine::Create(&engine, o);
  auto count = [&](SearchRequest r) {
    Result<SearchResponse> answer = qe->Search(r);
    EXPECT_TRUE(answer.ok()) << answer.status().message();
    EXPECT_EQ(answer->rows.size(), 1u);
    return std::make_pair(std::get<int64_t>(answer->rows.at(0).back().second),
                          answer->stats.cache_hit);
  };
  SearchRequest all = Req("* | count");
  all.all_time = true;
  SearchRequest last_hour = Req("* | count");  // relative: "since" the default hour
  const int64_t stored = static_cast<int64_t>(records_->size());
  EXPECT_EQ(count(all), std::make_pair(stored, false));
  EXPECT_EQ(count(all), std::make_pair(stored, true)) << "unchanged data: a cache hit";
  auto [hour_before, hour_hit] = count(last_hour);
  EXPECT_FALSE(hour_hit);
  EXPECT_EQ(count(last_hour).second, true);

  // Three lines are acknowledged now (they land in a memtable), well within the TTL.
  clock_.Advance(2 * kNanosPerSecond);
  auto fresh = std::make_shared<std::vector<Record>>(records_->begin(), records_->begin() + 3);
  uint64_t seq = 10'000'000;
  for (Record& r : *fresh) {
    r.seq = ++seq;
    r.ts = r.ingest_ts = clock_.NowNanos() - kNanosPerSecond;
  }
  storage::MemtableView view;
  view.partition = 7;
  view.chunks.push_back(storage::RecordChunk::FromRecords(*fresh));
  snapshot_->memtables.push_back(view);
  EXPECT_EQ(count(all), std::make_pair(stored + 3, false)) << "new lines: the answer is stale";
  EXPECT_EQ(count(all), std::make_pair(stored + 3, true));
  EXPECT_EQ(count(last_hour), std::make_pair(hour_before + 3, false))
      << "a relative range rounded to a cached window still sees the new lines";

  // A flush moves them into a new segment: same count, but never an answer keyed to the old
  // layout (a compaction or a deletion changes the segments the same way).
  snapshot_->memtables.pop_back();
  auto data = testing::MakeSnapshot("default", *fresh, 1, 1, 0, 256);
  ASSERT_EQ(data->segments.size(), 1u);
  storage::SegmentHandle flushed = data->segments.front();
  flushed.info.id = 5000;
  snapshot_->segments.push_back(flushed);
  EXPECT_EQ(count(all), std::make_pair(stored + 3, false)) << "a flush changes the data version";
  EXPECT_EQ(count(all), std::make_pair(stored + 3, true));
}

TEST_F(QueryEngineTest, CacheIsBoundedInBytes) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.cache_bytes = 64 << 10;
  auto qe = QueryEngine::Create(&engine, o);
  SearchRequest big = Req("*");
  big.limit = 1000;  // far more than 64 KiB of records: never cached
  ASSERT_TRUE(qe->Search(big).ok());
  EXPECT_FALSE(qe->Search(big)->stats.cache_hit);
  ASSERT_TRUE(qe->Search(Req("| count")).ok());
  EXPECT_TRUE(qe->Search(Req("| count"))->stats.cache_hit);
}

TEST_F(QueryEngineTest, IdenticalConcurrentQueriesShareOneExecution) {
  std::promise<void> release;
  AddBlockingSegment(release.get_future().share());
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.worker_threads = 2;
  auto qe = QueryEngine::Create(&engine, o);
  std::vector<std::future<Result<SearchResponse>>> results;
  for (int i = 0; i < 200; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      SearchRequest r = Req("| count by service");
      r.user = "engineer-" + std::to_string(i);
      return qe->Search(r);
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  release.set_value();
  int shared = 0;
  std::vector<Row> first;
  for (auto& f : results) {
    Result<SearchResponse> r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().message();
    if (first.empty()) first = r->rows;
    EXPECT_EQ(r->rows, first);
    shared += r->stats.cache_hit;
  }
  EXPECT_EQ(shared, 199) << "200 identical queries, one execution";
}

TEST_F(QueryEngineTest, ConcurrentQueriesPerUserAreLimited) {
  std::promise<void> release;
  AddBlockingSegment(release.get_future().share());
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.max_concurrent_per_user = 2;
  auto qe = QueryEngine::Create(&engine, o);
  std::vector<std::future<Result<SearchResponse>>> running;
  for (int i = 0; i < 2; ++i) {
    running.push_back(std::async(std::launch::async, [&, i] {
      SearchRequest r = Req("| count by level");
      r.user = "alice";
      r.since = std::to_string(i + 2) + "h";  // different queries: no single flight
      return qe->Search(r);
    }));
  }
  while (executions_->load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  SearchRequest third = Req("| count by host");
  third.user = "alice";
  auto refused = qe->Search(third);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsResourceExhausted());
  EXPECT_EQ(refused.status().message(),
            "too many concurrent queries for user 'alice': 2 running, the limit is 2; wait for "
            "one to finish");
  third.user = "bob";
  std::future<Result<SearchResponse>> bob =
      std::async(std::launch::async, [&] { return qe->Search(third); });
  release.set_value();
  EXPECT_TRUE(bob.get().ok()) << "other users are not affected";
  for (auto& f : running) EXPECT_TRUE(f.get().ok());
  third.user = "alice";
  third.use_cache = false;
  EXPECT_TRUE(qe->Search(third).ok()) << "slots are given back";
}

TEST_F(QueryEngineTest, TimeLimitGivesAPartialAnswerWithAWarning) {
  testing::FakeEngine engine(snapshot_);
  SteppingClock clock(kDatasetNow, kNanosPerSecond);
  QueryOptions o;
  o.clock = &clock;
  o.max_query_ns = 5 * kNanosPerSecond;
  o.worker_threads = 1;
  auto qe = QueryEngine::Create(&engine, o);
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  auto res = qe->Search(r);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->partial);
  ASSERT_FALSE(res->warnings.empty());
  EXPECT_NE(res->warnings.back().find("query stopped at the 5 s time limit (query_timeout)"),
            std::string::npos)
      << res->warnings.back();
  EXPECT_NE(res->warnings.back().find("narrow the time range"), std::string::npos);
  EXPECT_LT(std::get<int64_t>(res->rows[0][0].second), 10000);
  EXPECT_FALSE(qe->Search(r)->stats.cache_hit) << "partial answers are not cached";
}

TEST_F(QueryEngineTest, ByteLimitGivesAPartialAnswer) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.max_bytes_scanned = 50'000;
  auto qe = QueryEngine::Create(&engine, o);
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  auto res = qe->Search(r);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->partial);
  EXPECT_NE(res->warnings.back().find("per-query scan limit (50000 bytes)"), std::string::npos);
}

// A snapshot of tenant "default" holding "reader"'s segment alone.
std::shared_ptr<storage::Snapshot> SnapshotOf(std::shared_ptr<testing::FakeSegmentReader> reader) {
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  storage::SegmentHandle h;
  h.info = reader->info();
  h.open = [reader]() -> Result<std::shared_ptr<segment::SegmentReader>> {
    return std::shared_ptr<segment::SegmentReader>(reader);
  };
  snap->segments.push_back(h);
  return snap;
}

// Segment 42 of "records" in blocks of 100 rows, whose block "failing" cannot be read: with
// "error", or DataLoss as a checksum mismatch would give when "error" is OK.
std::shared_ptr<storage::Snapshot> SegmentWithABlockFailing(const std::vector<Record>& records,
                                                            uint32_t failing, const Status& error) {
  auto reader = std::make_shared<testing::FakeSegmentReader>(42, 0, records, 100);
  if (error.ok()) {
    reader->CorruptBlock(failing);
  } else {
    reader->FailBlock(failing, error);
  }
  return SnapshotOf(reader);
}

std::shared_ptr<storage::Snapshot> SegmentWithABlockDamaged(const std::vector<Record>& records,
                                                            uint32_t damaged) {
  return SegmentWithABlockFailing(records, damaged, Status::OK());
}

// "records" in the segment's order (service, host, ts) into "rows", and a block of 100 of them
// whose last line's service and host go on in the next block (9 when none): the context of the
// next block's first line reads that block both to find the hit and for its neighbours.
uint32_t ABlockAContextReads(const std::vector<Record>& records, std::vector<Record>* rows) {
  *rows = records;
  std::stable_sort(rows->begin(), rows->end(), [](const Record& a, const Record& b) {
    return std::tie(a.service, a.host, a.ts) < std::tie(b.service, b.host, b.ts);
  });
  const std::vector<Record>& r = *rows;
  uint32_t block = 1;
  while (block < 9 && std::tie(r[block * 100 + 99].service, r[block * 100 + 99].host) !=
                          std::tie(r[block * 100 + 100].service, r[block * 100 + 100].host)) {
    ++block;
  }
  return block;
}

TEST_F(QueryEngineTest, CorruptBlockIsSkippedReportedAndWarnedAbout) {
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  auto snap = SegmentWithABlockDamaged(few, 3);
  testing::FakeEngine engine(snap);
  QueryOptions o;
  o.clock = &clock_;
  auto qe = QueryEngine::Create(&engine, o);
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  auto res = qe->Search(r);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->rows[0][0].second, Value(int64_t{900})) << "the other blocks still answer";
  EXPECT_TRUE(res->partial);
  ASSERT_EQ(res->warnings.size(), 1u);
  EXPECT_EQ(res->warnings[0],
            "segment 42 block 3 is corrupt and was skipped: DataLoss: checksum mismatch in column "
            "message of block 3");
  EXPECT_EQ(engine.corrupt_reports, std::vector<uint64_t>{42});
}

// A damaged index (DataLoss: an index block, postings or a block list that do not decode) is the
// segment's bytes damaged: reported to the engine as corruption as a damaged data block is (the
// segment marked corrupt, counted, logged: docs/storage.md "Corruption"), while the search
// scans the segment and its answer stays whole, not partial. A failed read of the index
// (IOError) is named only. Before, neither was reported: a damaged block list or postings showed
// as a warning of one search and nowhere else.
TEST_F(QueryEngineTest, ADamagedIndexIsReportedAsCorruptionWhileTheSegmentIsScanned) {
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  int64_t users = 0;
  for (const Record& r : few) users += r.user_id == "user-3" ? 1 : 0;
  ASSERT_GT(users, 0);
  const Status damaged = Status::DataLoss(
      "segment 42: index 'user_id' at offset 9: value 'user-3': its block list names block 12 "
      "of a segment of 10");
  const Status failed = Status::IOError("read segments/42.seg: Input/output error");
  for (const Status& error : {damaged, failed}) {
    SCOPED_TRACE(error.ToString());
    auto reader = std::make_shared<testing::FakeSegmentReader>(42, 0, few, 100);
    reader->FailIndex(error);
    testing::FakeEngine engine(SnapshotOf(reader));
    auto res = SearchAllTime(&engine, "user_id=user-3 | count");
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->rows[0][0].second, Value(users)) << "the scan answers whole";
    EXPECT_FALSE(res->partial);
    ASSERT_EQ(res->warnings.size(), 1u);
    EXPECT_NE(res->warnings[0].find("index unreadable, scanning instead: " + error.ToString()),
              std::string::npos)
        << res->warnings[0];
    EXPECT_EQ(engine.corrupt_reports,
              error.IsDataLoss() ? std::vector<uint64_t>{42} : std::vector<uint64_t>{});
  }
}

// Damaged block statistics (format 19's minute_counts kind block) are damage in the segment's
// bytes as a damaged index is: the segment is marked corrupt (counted, logged, kept from
// compaction) while the query answers from the columns; a failed read of them only warns
// (second reader, session 20: they only warned, every query, for good).
TEST_F(QueryEngineTest, DamagedBlockStatisticsAreReportedAsCorruptionWhileTheColumnsAnswer) {
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  const Status damaged = Status::DataLoss(
      "segment 42: index kind 'minute_counts' at offset 9: block 3: its "
      "minutes hold 99 rows of 100");
  const Status failed = Status::IOError("read segments/42.seg: Input/output error");
  for (const Status& error : {damaged, failed}) {
    for (const char* text : {"* | count", "* | count by bucket(1m), level"}) {
      SCOPED_TRACE(error.ToString() + " " + text);
      auto reader = std::make_shared<testing::FakeSegmentReader>(42, 0, few, 100);
      reader->FailStatistics(error);
      testing::FakeEngine engine(SnapshotOf(reader));
      auto res = SearchAllTime(&engine, text);
      ASSERT_TRUE(res.ok()) << res.status().ToString();
      EXPECT_FALSE(res->partial);
      int64_t total = 0;
      for (const auto& row : res->rows) total += std::get<int64_t>(row.back().second);
      EXPECT_EQ(total, 1000) << "the columns answer whole";
      ASSERT_FALSE(res->warnings.empty());
      EXPECT_NE(res->warnings[0].find(error.ToString()), std::string::npos) << res->warnings[0];
      EXPECT_EQ(engine.corrupt_reports,
                error.IsDataLoss() ? std::vector<uint64_t>{42} : std::vector<uint64_t>{});
    }
  }
}

// (Session 24) One damaged thing met by a search's statistics and by its postings (a count by
// level over all time asks the service and level counts, then the level's postings, then each
// block's minute counts): one warning and one report, through the path an index kind's damage
// takes (IndexUnreadable: once per segment, kind and code), and the columns answer whole. Fails
// with the statistics warned and reported outside that path (session 23: two warnings, two
// reports a search).
TEST_F(QueryEngineTest, DamagedStatisticsMetTwiceInASearchAreWarnedAndReportedOnce) {
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  const Status damaged = Status::DataLoss(
      "segment 42: index kind 'minute_counts' at offset 9: block 3: its "
      "minutes hold 99 rows of 100");
  auto reader = std::make_shared<testing::FakeSegmentReader>(42, 0, few, 100);
  reader->FailStatistics(damaged);
  reader->FailIndex(damaged);
  testing::FakeEngine engine(SnapshotOf(reader));
  auto res = SearchAllTime(&engine, "* | count by level");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_FALSE(res->partial);
  int64_t total = 0;
  for (const auto& row : res->rows) total += std::get<int64_t>(row.back().second);
  EXPECT_EQ(total, 1000) << "the columns answer whole";
  ASSERT_EQ(res->warnings.size(), 1u) << ::testing::PrintToString(res->warnings);
  EXPECT_NE(res->warnings[0].find(damaged.ToString()), std::string::npos) << res->warnings[0];
  EXPECT_EQ(engine.corrupt_reports, std::vector<uint64_t>{42});
}

TEST_F(QueryEngineTest, ABlockThatFailsToBeReadIsSkippedButNotMarkedCorrupt) {
  // A disk or network read that fails (IOError) says nothing of the segment's bytes: the search
  // and the context name it and answer partial, but do not mark the segment corrupt (which would
  // keep it from compaction, tiers and retention for good).
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  std::vector<Record> rows;
  const uint32_t failing = ABlockAContextReads(few, &rows);
  ASSERT_LT(failing, 9u) << "no source of the dataset spans two blocks";
  auto snap = SegmentWithABlockFailing(few, failing,
                                       Status::IOError("read segments/42.seg: Input/output error"));
  QueryOptions o;
  o.clock = &clock_;
  testing::FakeEngine by_search(snap);
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  auto res = QueryEngine::Create(&by_search, o)->Search(r);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->rows[0][0].second, Value(int64_t{900}));
  EXPECT_TRUE(res->partial);
  ASSERT_EQ(res->warnings.size(), 1u);
  EXPECT_NE(res->warnings[0].find("segment 42 block " + std::to_string(failing)), std::string::npos)
      << res->warnings[0];
  EXPECT_NE(res->warnings[0].find("Input/output error"), std::string::npos) << res->warnings[0];
  EXPECT_TRUE(by_search.corrupt_reports.empty()) << "a failed read marked the segment corrupt";
  const Record& hit = rows[failing * 100 + 100];
  testing::FakeEngine by_context(snap);
  auto ctx = QueryEngine::Create(&by_context, o)->Context("default", hit.seq, 3, 3);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->hit, hit);
  EXPECT_TRUE(ctx->partial);
  ASSERT_EQ(ctx->warnings.size(), 1u);
  EXPECT_NE(ctx->warnings[0].find("Input/output error"), std::string::npos) << ctx->warnings[0];
  EXPECT_TRUE(by_context.corrupt_reports.empty()) << "a failed read marked the segment corrupt";
}

TEST_F(QueryEngineTest, RequestErrorsAreClear) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  auto qe = QueryEngine::Create(&engine, o);
  auto syntax = qe->Search(Req("service="));
  EXPECT_TRUE(syntax.status().IsInvalidArgument());
  EXPECT_EQ(syntax.status().message(), "expected a value after '=' at 1:9\nservice=\n        ^");
  SearchRequest to_only = Req("*");
  to_only.to = "2026-11-30T10:00:00Z";
  EXPECT_TRUE(qe->Search(to_only).status().IsInvalidArgument());
  SearchRequest huge = Req("*");
  huge.limit = 100000;
  EXPECT_EQ(qe->Search(huge).status().message(),
            "limit must be at most 10000, got 100000; use a pipe (count, top) to summarise more "
            "lines");
}

TEST_F(QueryEngineTest, ExplainGivesThePlanWithoutRows) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.partitions = 4;
  auto qe = QueryEngine::Create(&engine, o);
  SearchRequest r = Req("service=hdfs host=hdfs-2 terminating");
  r.explain = true;
  r.all_time = true;
  auto res = qe->Search(r);
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(res->hits.empty());
  EXPECT_NE(res->plan.find("partition: "), std::string::npos) << res->plan;
  EXPECT_NE(res->plan.find("pruned by partition"), std::string::npos) << res->plan;
  EXPECT_GT(res->stats.rows_matched, 0u);
  EXPECT_LT(res->stats.segments_after_time, res->stats.segments_total);
}

TEST_F(QueryEngineTest, ContextGivesNeighboursFromTheSameServiceAndHost) {
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.partitions = 4;  // as the snapshot was built: only the hit's partition is read
  auto qe = QueryEngine::Create(&engine, o);
  // A record in the middle of the flushed data, and one at the memtable boundary.
  for (size_t index : {size_t{4000}, records_->size() - 505}) {
    const Record& hit = (*records_)[index];
    auto ctx = qe->Context("default", hit.seq, 3, 4);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    EXPECT_EQ(ctx->hit, hit);
    std::vector<uint64_t> want_before, want_after;
    for (size_t i = index; i-- > 0 && want_before.size() < 3;) {
      const Record& r = (*records_)[i];
      if (r.service == hit.service && r.host == hit.host)
        want_before.insert(want_before.begin(), r.seq);
    }
    for (size_t i = index + 1; i < records_->size() && want_after.size() < 4; ++i) {
      const Record& r = (*records_)[i];
      if (r.service == hit.service && r.host == hit.host) want_after.push_back(r.seq);
    }
    std::vector<uint64_t> got_before, got_after;
    for (const Record& r : ctx->before) got_before.push_back(r.seq);
    for (const Record& r : ctx->after) got_after.push_back(r.seq);
    EXPECT_EQ(got_before, want_before);
    EXPECT_EQ(got_after, want_after);
  }
  auto missing = qe->Context("default", 999999, 3, 3);
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_EQ(missing.status().message(), "no record with id 999999");
}

// The segment of "snap" in the partition of "hit" whose seq range holds it.
storage::SegmentHandle& SegmentHolding(storage::Snapshot& snap, const Record& hit,
                                       uint32_t partitions) {
  for (storage::SegmentHandle& h : snap.segments) {
    if (h.info.partition == PartitionOf(hit.service, hit.host, partitions) &&
        h.info.min_seq <= hit.seq && hit.seq <= h.info.max_seq)
      return h;
  }
  ADD_FAILURE() << "no segment holds seq " << hit.seq;
  return snap.segments.front();
}

// Segment "h"'s object removed (another node's retention, a damaged disk) after "opens" opens:
// every later open fails as the store answers a missing object. The error it gives.
std::string RemoveAfterOpens(storage::SegmentHandle& h, int opens) {
  const std::string error = "object " + h.object + " does not exist";
  auto count = std::make_shared<int>(0);
  h.open = [inner = h.open, count, opens,
            error]() -> Result<std::shared_ptr<segment::SegmentReader>> {
    if ((*count)++ >= opens) return Status::NotFound(error);
    return inner();
  };
  return "NotFound: " + error;
}

// The hit read, then its segment gone before its neighbours were read from it: before, they
// were silently left out (a whole answer with lines missing). Now partial, naming the segment
// and its error; the lines that could be read are still answered.
TEST_F(QueryEngineTest, ContextWithASegmentThatCannotBeReadIsPartialNamingIt) {
  const Record& hit = (*records_)[4000];
  storage::SegmentHandle& h = SegmentHolding(*snapshot_, hit, 4);
  const std::string error = RemoveAfterOpens(h, 1);
  testing::FakeEngine engine(snapshot_);
  auto qe = PartitionedEngine(&engine);
  auto ctx = qe->Context("default", hit.seq, 3, 4);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->hit, hit);
  EXPECT_TRUE(ctx->partial);
  EXPECT_EQ(ctx->warnings,
            (std::vector<std::string>{"segment " + std::to_string(h.info.id) +
                                      " could not be read and was skipped: " + error}));
  for (const auto* side : {&ctx->before, &ctx->after}) {
    for (const Record& r : *side) {
      EXPECT_TRUE(r.seq < h.info.min_seq || r.seq > h.info.max_seq) << "from the removed segment";
    }
  }
  // The cluster's part of the same (ContextPart, looking for the hit): partial alike.
  ContextPartRequest part;
  part.tenant = "default";
  part.id = hit.seq;
  part.before = 3;
  part.after = 4;
  snapshot_ = testing::MakeSnapshot("default", *records_, 4, 3, 500, 256);
  RemoveAfterOpens(SegmentHolding(*snapshot_, hit, 4), 1);
  testing::FakeEngine engine2(snapshot_);
  auto qe2 = PartitionedEngine(&engine2);
  auto answer = qe2->ContextPart(part);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  ASSERT_FALSE(answer->hits.empty());
  EXPECT_EQ(answer->hits[0], hit);
  EXPECT_TRUE(answer->partial);
  ASSERT_EQ(answer->warnings.size(), 1u);
  EXPECT_NE(answer->warnings[0].find("could not be read and was skipped: " + error),
            std::string::npos)
      << answer->warnings[0];
}

// A damaged block read by a context is reported to the engine as corruption (the segment marked
// corrupt in the catalog, sawmill_segments_corrupt_total counted), as a search reports it; before,
// the context only warned, so a damaged segment read by contexts alone was never marked.
TEST_F(QueryEngineTest, AContextReportsADamagedBlockAsCorruptionAsASearchDoes) {
  std::vector<Record> few(records_->begin(), records_->begin() + 1000);
  std::vector<Record> rows;
  const uint32_t damaged = ABlockAContextReads(few, &rows);
  ASSERT_LT(damaged, 9u) << "no source of the dataset spans two blocks";
  const Record& hit = rows[damaged * 100 + 100];
  auto snap = SegmentWithABlockDamaged(few, damaged);
  QueryOptions o;
  o.clock = &clock_;
  testing::FakeEngine by_context(snap);
  auto ctx = QueryEngine::Create(&by_context, o)->Context("default", hit.seq, 3, 3);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->hit, hit);
  EXPECT_TRUE(ctx->partial);
  ASSERT_EQ(ctx->warnings.size(), 1u);
  const std::string block = std::to_string(damaged);
  EXPECT_EQ(ctx->warnings[0], "segment 42 block " + block +
                                  " could not be read and was skipped: DataLoss: checksum mismatch "
                                  "in column message of block " +
                                  block);
  testing::FakeEngine by_search(snap);
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  ASSERT_TRUE(QueryEngine::Create(&by_search, o)->Search(r).ok());
  ASSERT_EQ(by_search.corrupt_reports, std::vector<uint64_t>{42});
  ASSERT_FALSE(by_context.corrupt_reports.empty()) << "the context did not report the block";
  EXPECT_EQ(
      std::set<uint64_t>(by_context.corrupt_reports.begin(), by_context.corrupt_reports.end()),
      std::set<uint64_t>{42});
}

// A segment retention deleted after the snapshot was taken (NotFound, and the engine lists it
// retired): its lines expired, skipped without a warning, as a search skips it.
TEST_F(QueryEngineTest, ContextSkipsASegmentRetentionDeletedMeanwhile) {
  const Record& hit = (*records_)[4000];
  storage::SegmentHandle& h = SegmentHolding(*snapshot_, hit, 4);
  RemoveAfterOpens(h, 1);
  testing::FakeEngine engine(snapshot_);
  engine.retired = {h.info.id};
  auto qe = PartitionedEngine(&engine);
  auto ctx = qe->Context("default", hit.seq, 3, 4);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_FALSE(ctx->partial);
  EXPECT_TRUE(ctx->warnings.empty()) << ctx->warnings[0];
}

// The hit's own segment cannot be read: no answer can be given, and the record may exist.
// Before, the segment's error was the answer: a missing object's NotFound became a 404 "no such
// record" that named no segment. Now Unavailable (503) naming the segment and its error.
TEST_F(QueryEngineTest, ContextWhoseHitsSegmentCannotBeReadIsAnErrorNamingIt) {
  const Record& hit = (*records_)[4000];
  storage::SegmentHandle& h = SegmentHolding(*snapshot_, hit, 4);
  const std::string error = RemoveAfterOpens(h, 0);
  testing::FakeEngine engine(snapshot_);
  auto qe = PartitionedEngine(&engine);
  auto ctx = qe->Context("default", hit.seq, 3, 4);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kUnavailable) << ctx.status().ToString();
  EXPECT_EQ(ctx.status().message(),
            "no record with id " + std::to_string(hit.seq) +
                " in the segments that could be read, but not every segment could, so it may "
                "exist (segment " +
                std::to_string(h.info.id) + " could not be read and was skipped: " + error + ")");
}

// A request over all time: the blocking segment (the oldest) is in range.
SearchRequest AllTime(std::string q) {
  SearchRequest r = Req(std::move(q));
  r.all_time = true;
  return r;
}

// The value of sawmill_queries_cancelled_total{reason="..."} in the process-wide registry.
double CancelledTotal(const std::string& reason) {
  std::string text = SerializeMetrics();
  std::string prefix = "sawmill_queries_cancelled_total{reason=\"" + reason + "\"} ";
  size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size()));
}

TEST_F(QueryEngineTest, TimedOutQueriesAreCounted) {
  testing::FakeEngine engine(snapshot_);
  SteppingClock clock(kDatasetNow, kNanosPerSecond);
  QueryOptions o;
  o.clock = &clock;
  o.max_query_ns = 3 * kNanosPerSecond;
  auto qe = QueryEngine::Create(&engine, o);
  double before = CancelledTotal("deadline");
  ASSERT_GE(before, 0) << "the family is listed from the start";
  SearchRequest r = Req(kScanCount);
  r.all_time = true;
  ASSERT_TRUE(qe->Search(r)->partial);
  EXPECT_EQ(CancelledTotal("deadline"), before + 1);
}

TEST_F(QueryEngineTest, ContextPastTheTimeLimitIsAnErrorNamingIt) {
  testing::FakeEngine engine(snapshot_);
  SteppingClock clock(kDatasetNow, kNanosPerSecond);
  QueryOptions o;
  o.clock = &clock;
  o.max_query_ns = 2 * kNanosPerSecond;
  auto qe = QueryEngine::Create(&engine, o);
  auto ctx = qe->Context("default", (*records_)[100].seq, 3, 3);
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ctx.status().message(),
            "context stopped at the 2 s time limit (query_timeout); ask for fewer lines");
}

// A cluster part given less time than max_query_ns (what is left of the context's): the error
// names that budget, not max_query_ns (before: "the 10 s time limit" for a 2 s budget).
TEST_F(QueryEngineTest, AContextPartPastItsTimeoutNamesThatTimeout) {
  testing::FakeEngine engine(snapshot_);
  SteppingClock clock(kDatasetNow, kNanosPerSecond);
  QueryOptions o;
  o.clock = &clock;
  o.max_query_ns = 10 * kNanosPerSecond;
  auto qe = QueryEngine::Create(&engine, o);
  ContextPartRequest part;
  part.tenant = "default";
  part.id = (*records_)[100].seq;
  part.before = part.after = 3;
  part.timeout_ns = 2 * kNanosPerSecond;
  auto answer = qe->ContextPart(part);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answer.status().message(),
            "context stopped at the 2 s time limit (query_timeout); ask for fewer lines");
}

// A leader whose client hangs up stops early; the identical queries waiting for it must neither
// get its cut-short answer nor wait forever, and the cache must not keep it.
TEST_F(QueryEngineTest, CancelledLeaderDoesNotPoisonTheCacheOrItsFollowers) {
  // A grouped count that reads its rows (one of indexed fields with a filter the index answers
  // is counted from postings, which a cancellation after the segment opened would not stop).
  const char* kScanCountByService = "NOT nosuchword | count by service";
  std::promise<void> release;
  AddBlockingSegment(release.get_future().share());
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  o.worker_threads = 2;
  auto qe = QueryEngine::Create(&engine, o);
  double gone_before = CancelledTotal("client_gone");
  std::atomic<bool> leader_gone{false};
  auto leader = std::async(std::launch::async, [&] {
    SearchRequest r = AllTime(kScanCountByService);
    r.user = "leader";
    r.cancelled = &leader_gone;
    return qe->Search(r);
  });
  while (executions_->load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::vector<std::future<Result<SearchResponse>>> followers;
  for (int i = 0; i < 5; ++i) {
    followers.push_back(std::async(std::launch::async, [&, i] {
      SearchRequest r = AllTime(kScanCountByService);
      r.user = "follower-" + std::to_string(i);
      return qe->Search(r);
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  leader_gone.store(true);
  release.set_value();
  Result<SearchResponse> cut = leader.get();
  ASSERT_TRUE(cut.ok());
  EXPECT_TRUE(cut->partial);
  ASSERT_FALSE(cut->warnings.empty());
  EXPECT_EQ(cut->warnings.back(),
            "query cancelled because the client closed the connection: the answer is partial");
  std::vector<Row> complete;
  for (auto& f : followers) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    Result<SearchResponse> r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_FALSE(r->partial) << "a follower never gets the cancelled leader's answer";
    if (complete.empty()) complete = r->rows;
    EXPECT_EQ(r->rows, complete);
  }
  EXPECT_EQ(executions_->load(), 2) << "one follower ran it again, the others shared that";
  auto again = qe->Search(AllTime(kScanCountByService));
  EXPECT_TRUE(again->stats.cache_hit);
  EXPECT_FALSE(again->partial) << "the cache holds the complete answer";
  EXPECT_EQ(again->rows, complete);
  EXPECT_EQ(CancelledTotal("client_gone"), gone_before + 1);
}

TEST_F(QueryEngineTest, FollowerWhoseClientLeavesStopsWaiting) {
  std::promise<void> release;
  AddBlockingSegment(release.get_future().share());
  testing::FakeEngine engine(snapshot_);
  QueryOptions o;
  o.clock = &clock_;
  auto qe = QueryEngine::Create(&engine, o);
  auto leader =
      std::async(std::launch::async, [&] { return qe->Search(AllTime("| count by host")); });
  while (executions_->load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::atomic<bool> gone{false};
  auto follower = std::async(std::launch::async, [&] {
    SearchRequest r = AllTime("| count by host");
    r.user = "follower";
    r.cancelled = &gone;
    return qe->Search(r);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  gone.store(true);
  ASSERT_EQ(follower.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "the follower stops waiting although the leader still runs";
  Result<SearchResponse> r = follower.get();
  EXPECT_TRUE(r.status().IsUnavailable()) << r.status().ToString();
  release.set_value();
  Result<SearchResponse> led = leader.get();
  ASSERT_TRUE(led.ok());
  EXPECT_FALSE(led->partial);
}

}  // namespace
}  // namespace sawmill::query
