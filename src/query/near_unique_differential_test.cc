// Differential tests of near-unique fields without postings (index::ValuePostingsRule, issue 19):
// a segment may leave a near-unique field (the dataset's trace_id: one row per value) out of its
// inverted index, and its values are then "cannot tell": the blooms pick the candidate blocks
// and the scan checks each row. Over segments written with the rule and without it, mixed with
// old-format and warm files and a memtable, `trace_id=X`, its newest page, its count, NOT, OR
// and a combination with an exact filter must equal the record-by-record answer; a value in one
// row is found; and values a segment's blooms let through without holding them (bloom false
// positives) give no row.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "common/hash.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/test_dataset.h"
#include "segment/segment.h"

namespace sawmill::query {
namespace {

using testing::AllTime;
using testing::BuildSnapshot;
using testing::TempDir;

ExecResult RunQuery(std::shared_ptr<const storage::Snapshot> snap,
                    const std::vector<Record>& records, const std::string& text, size_t limit,
                    ExecResult* brute) {
  Result<Query> parsed = ParseQuery(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().message();
  auto query = std::make_shared<const Query>(std::move(*parsed));
  ExecOptions o = AllTime();
  o.limit = limit;
  *brute = BruteForce(records, *query, o);
  return Execute(snap, query, o);
}

void ExpectSame(const ExecResult& planned, const ExecResult& brute, const std::string& what) {
  ASSERT_FALSE(planned.partial) << what;
  ASSERT_EQ(planned.rows, brute.rows) << what;
  ASSERT_EQ(planned.hits.size(), brute.hits.size()) << what;
  for (size_t i = 0; i < brute.hits.size(); ++i) {
    ASSERT_EQ(planned.hits[i], brute.hits[i]) << what << " hit " << i;
  }
}

struct Opened {
  std::vector<std::shared_ptr<segment::SegmentReader>> posted, unposted;
};

// The snapshot's segments, by whether they hold trace_id postings.
Opened OpenSegments(const storage::Snapshot& snap) {
  Opened out;
  for (const storage::SegmentHandle& h : snap.segments) {
    auto reader = h.open();
    EXPECT_TRUE(reader.ok());
    if (!reader.ok()) continue;
    auto values = (*reader)->IndexedValues("trace_id");
    EXPECT_TRUE(values.ok());
    if (values.ok() && values->has_value()) {
      out.posted.push_back(*reader);
    } else if ((*reader)->info().rows > 0) {
      out.unposted.push_back(*reader);
    }
  }
  return out;
}

class NearUniqueDifferential : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = testing::LoadDataset();
    ASSERT_GT(records_.size(), 5000u) << "dataset missing under " << testing::SharedDir();
    dir_ = std::make_unique<TempDir>("near_unique");
    // The default mix: every other segment follows the rule, old-format and warm files among
    // them; the newest 300 records in a memtable.
    snap_ = BuildSnapshot(records_, dir_->path(), 1500, 300, 256);
    opened_ = OpenSegments(*snap_);
  }

  std::vector<Record> records_;
  std::unique_ptr<TempDir> dir_;
  std::shared_ptr<storage::Snapshot> snap_;
  Opened opened_;
};

TEST_F(NearUniqueDifferential, TraceIdsFoundCountedAndPagedLikeBruteForce) {
  // Both kinds of segments are in the mix (the rule would otherwise be untested).
  ASSERT_FALSE(opened_.posted.empty());
  ASSERT_FALSE(opened_.unposted.empty());

  std::map<std::string, size_t> rows_of;
  for (const Record& r : records_) {
    if (!r.trace_id.empty()) ++rows_of[r.trace_id];
  }
  ASSERT_GT(rows_of.size(), 500u);
  // Every 37th trace id (ids in one row among them), and a service to combine with.
  std::vector<std::string> traces;
  size_t i = 0, single = 0;
  for (const auto& [trace, n] : rows_of) {
    if (i++ % 37 != 0) continue;
    traces.push_back(trace);
    single += n == 1;
  }
  ASSERT_GT(single, 0u);
  uint64_t scanned_for_unposted = 0;
  for (size_t k = 0; k < traces.size(); ++k) {
    const std::string& t = traces[k];
    const std::string& other = traces[(k + 1) % traces.size()];
    for (const std::string& text :
         {"trace_id=" + t, "trace_id=" + t + " | count", "NOT trace_id=" + t + " | count",
          "trace_id=" + t + " OR trace_id=" + other, "service=hdfs trace_id=" + t,
          "trace_id=" + t + " level=INFO | count"}) {
      for (size_t limit : {1u, 100u}) {
        ExecResult brute;
        ExecResult planned = RunQuery(snap_, records_, text, limit, &brute);
        ExpectSame(planned, brute, text + " limit " + std::to_string(limit));
        if (HasFatalFailure()) return;
        if (text == "trace_id=" + t + " | count") scanned_for_unposted += planned.stats.blocks_read;
      }
    }
  }
  // Counts of ids in unposted segments read their candidate blocks (no postings to count).
  EXPECT_GT(scanned_for_unposted, 0u);

  // A value held by exactly one row, found and counted as 1.
  const std::string& one = traces.front();
  ASSERT_EQ(rows_of[one], 1u);
  ExecResult brute;
  ExecResult planned = RunQuery(snap_, records_, "trace_id=" + one + " | count", 100, &brute);
  ASSERT_EQ(planned.rows.size(), 1u);
  ASSERT_EQ(planned.rows[0].size(), 1u);
  EXPECT_EQ(std::get<int64_t>(planned.rows[0][0].second), 1);
  EXPECT_EQ(planned.rows, brute.rows);
}

// An id lookup checks a candidate block's id column alone, as values, and builds records only
// for the rows holding the id (executor.cc, IdEqualityOf): what a user sees in the stats is
// that the rows of a block the id is not in are scanned "as columns". Fails on a build without
// that first pass (every row of a read block is then a record: rows_from_columns 0).
TEST_F(NearUniqueDifferential, IdLookupsBuildRecordsOnlyForTheirRows) {
  ASSERT_FALSE(opened_.unposted.empty());
  std::map<std::string, size_t> rows_of;
  for (const Record& r : records_) {
    if (!r.trace_id.empty()) ++rows_of[r.trace_id];
  }
  size_t i = 0, checked = 0;
  for (const auto& [trace, n] : rows_of) {
    if (i++ % 53 != 0) continue;
    const std::string id = trace;
    for (const std::string& text :
         {"trace_id=" + id, "trace_id=" + id + " | count", "level=INFO trace_id=" + id,
          "trace_id=" + id + " | count by service"}) {
      for (size_t limit : {1u, 100u}) {
        ExecResult brute;
        ExecResult planned = RunQuery(snap_, records_, text, limit, &brute);
        ExpectSame(planned, brute, text + " limit " + std::to_string(limit));
        if (HasFatalFailure()) return;
        const QueryStats& st = planned.stats;
        ASSERT_GE(st.rows_scanned, st.rows_from_columns + st.memtable_rows_scanned) << text;
        // Records built from segments: at most the id's rows (the blocks read hold many more).
        EXPECT_LE(st.rows_scanned - st.rows_from_columns - st.memtable_rows_scanned, n) << text;
        if (st.blocks_read > 0) ++checked;
      }
    }
  }
  EXPECT_GT(checked, 20u) << "too few lookups read a block to tell";
  // The same for user_id, whose values are in many rows; and a user id no row holds.
  for (const std::string& user : {std::string("user-3"), std::string("user-9")}) {
    size_t n = 0;
    for (const Record& r : records_) n += r.user_id == user;
    for (const std::string& text : {"user_id=" + user + " | count", "user_id=" + user}) {
      ExecResult brute;
      ExecResult planned = RunQuery(snap_, records_, text, 1000000, &brute);
      ExpectSame(planned, brute, text);
      const QueryStats& st = planned.stats;
      EXPECT_LE(st.rows_scanned - st.rows_from_columns - st.memtable_rows_scanned, n) << text;
    }
  }
}

TEST_F(NearUniqueDifferential, BloomFalsePositivesGiveNoRow) {
  ASSERT_FALSE(opened_.unposted.empty());
  std::set<std::string> held;
  for (const Record& r : records_) held.insert(r.trace_id);
  // Ids the data does not hold but some unposted segment's segment and block blooms let
  // through: the query must read those blocks and find nothing.
  std::mt19937_64 rng(19);
  std::vector<std::string> passed;
  for (int tries = 0; tries < 200000 && passed.size() < 8; ++tries) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
    if (held.count(buf) != 0) continue;
    for (const auto& reader : opened_.unposted) {
      bool any_block = false;
      for (uint32_t b = 0; b < reader->blocks().size(); ++b) {
        any_block = any_block || reader->BlockMayContain(b, "trace_id", buf);
      }
      if (reader->SegmentMayContain("trace_id", buf) && any_block) {
        passed.emplace_back(buf);
        break;
      }
    }
  }
  ASSERT_GE(passed.size(), 8u) << "no bloom false positive found to test with";
  for (const std::string& t : passed) {
    for (const std::string& text : {"trace_id=" + t, "trace_id=" + t + " | count"}) {
      ExecResult brute;
      ExecResult planned = RunQuery(snap_, records_, text, 100, &brute);
      ExpectSame(planned, brute, text);
      EXPECT_TRUE(planned.hits.empty()) << text;
      EXPECT_GT(planned.stats.blocks_read, 0u) << text << ": the false positive's blocks are read";
    }
  }
}

// Records with a trace id in every row, each id in one row (as the benchmark corpus's), one
// service and host, times increasing.
std::vector<Record> UniqueIdRecords(size_t n) {
  std::vector<Record> out(n);
  for (size_t i = 0; i < n; ++i) {
    Record& r = out[i];
    r.tenant = "default";
    r.ts = r.ingest_ts = 1'700'000'000'000'000'000 + static_cast<int64_t>(i) * 1'000'000;
    r.seq = i + 1;
    r.service = "api";
    r.host = "node-1";
    r.level = Level::kInfo;
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx",
                  static_cast<unsigned long long>(Hash64("t" + std::to_string(i))),
                  static_cast<unsigned long long>(i));
    r.trace_id = buf;
    r.message = "request " + std::to_string(i % 97) + " handled";
  }
  return out;
}

// A lookup of an id held by one row reads (about) only that row's block, as its stats show: the
// other blocks its block filters let through are about their false-positive rate times the
// blocks (kIdBitsPerKey: 0.13 % of 300 blocks, 0.4 a lookup). Fails with the filters sized
// as the other fields' (11 bits a key, 0.9 %: about 2.7 blocks more a lookup).
TEST(NearUniqueIds, LookupReadsAboutOnlyTheBlockHoldingTheId) {
  constexpr size_t kBlockRows = 512, kBlocks = 300;
  const std::vector<Record> records = UniqueIdRecords(kBlockRows * kBlocks);
  TempDir dir("near_unique_ids");
  const index::ValuePostingsRule rule = segment::DefaultValuePostingsRule();
  auto snap = BuildSnapshot(records, dir.path(), 30 * kBlockRows, 0, kBlockRows,
                            /*old_every=*/0, nullptr, &rule);
  ASSERT_EQ(snap->segments.size(), 10u);
  ASSERT_EQ(OpenSegments(*snap).posted.size(), 0u) << "trace_id is near-unique: no postings";

  uint64_t lookups = 0, blocks_read = 0;
  for (size_t k = 0; k < 150; ++k) {
    const Record& want = records[(k * 7919 + 13) % records.size()];
    for (const std::string& text :
         {"trace_id=" + want.trace_id, "trace_id=" + want.trace_id + " | count"}) {
      ExecResult brute;
      ExecResult planned;
      if (k % 15 == 0) {
        planned = RunQuery(snap, records, text, 100, &brute);
        ExpectSame(planned, brute, text);
        if (HasFatalFailure()) return;
      } else {
        Result<Query> parsed = ParseQuery(text);
        ASSERT_TRUE(parsed.ok());
        ExecOptions o = testing::AllTime();
        o.limit = 100;
        planned = Execute(snap, std::make_shared<const Query>(std::move(*parsed)), o);
      }
      if (planned.rows.empty()) {
        ASSERT_EQ(planned.hits.size(), 1u) << text;
        EXPECT_EQ(planned.hits[0].seq, want.seq) << text;
      } else {
        EXPECT_EQ(std::get<int64_t>(planned.rows[0][0].second), 1) << text;
      }
      ++lookups;
      blocks_read += planned.stats.blocks_read;
    }
  }
  // Expected 1 + 300 x 0.13 % = 1.4 blocks a lookup; the bound leaves room for chance (11-bit
  // filters read 3.7).
  EXPECT_LE(static_cast<double>(blocks_read) / lookups, 1 + kBlocks * 0.004)
      << blocks_read << " blocks for " << lookups << " lookups";
  // Ids no row holds read only false positives.
  uint64_t absent_blocks = 0;
  for (int k = 0; k < 150; ++k) {
    Result<Query> parsed = ParseQuery("trace_id=absent" + std::to_string(k) + " | count");
    ASSERT_TRUE(parsed.ok());
    ExecResult r =
        Execute(snap, std::make_shared<const Query>(std::move(*parsed)), testing::AllTime());
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(std::get<int64_t>(r.rows[0][0].second), 0);
    absent_blocks += r.stats.blocks_read;
  }
  EXPECT_LE(static_cast<double>(absent_blocks) / 150, kBlocks * 0.004) << absent_blocks;
  std::printf(
      "blocks read a lookup: %.2f for an id in one row, %.2f for an absent id (%zu blocks)\n",
      static_cast<double>(blocks_read) / lookups, static_cast<double>(absent_blocks) / 150,
      kBlocks);
}

}  // namespace
}  // namespace sawmill::query
