// Differential tests of the newest-first page (a search without an aggregation: its newest
// `limit` hits). The executor merges the blocks of every segment newest first, opens a segment
// only when it may hold something newer than the blocks already queued, stops once the page is
// certain, and builds records only for rows that may join the page (executor.cc "newest-first
// merge"). Each page must equal a record-by-record scan's, hit for hit and column for column:
// with ties on the time field, rows spread over many partitions, overlapping segments and
// memtables, segments of every layout (time slices, whole-segment sort, format version 2 without
// index kinds, the warm encoding, JSON lines stored as shapes), limits above the number of
// matches, and a deadline or a hang-up that stops the page part way.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>

#include "common/env.h"
#include "common/hash.h"
#include "index/tokenizer.h"
#include "index/word_hash.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"
#include "segment/segment.h"
#include "segment/segment_file_reader.h"
#include "storage/record_chunk.h"

namespace sawmill::query {
namespace {

using testing::kDatasetStart;

constexpr uint32_t kPartitions = 4;

int64_t FloorTo(int64_t t, int64_t step) { return t - (((t % step) + step) % step); }

// The loghub mix with ties: ts rounded down to 10 s (a dozen rows or more share each value), and
// ingest_ts of every third row to 5 s (ties on both, broken by seq); every fourth row a JSON line
// that segments store as a shape (its host and status are columns).
std::vector<Record> TiedRecords() {
  std::vector<Record> records = testing::LoadDataset();
  for (Record& r : records) {
    r.ts = FloorTo(r.ts, 10 * kNanosPerSecond);
    if (r.seq % 3 == 0) r.ingest_ts = FloorTo(r.ingest_ts, 5 * kNanosPerSecond);
    if (r.seq % 4 == 0) {
      std::string text;
      for (char c : r.message) text.push_back(c == '"' || c == '\\' ? '\'' : c);
      r.fields.emplace_back("status", std::to_string(200 + r.seq % 5));
      r.message = "{\"host\":\"" + r.host + "\",\"status\":\"" + r.fields.back().second +
                  "\",\"text\":\"" + text + "\"}";
    }
  }
  return records;
}

// "records" as a server holds them: each partition's records (PartitionOf(service, host)) in
// segments of "per_segment" rows in seq order, so that the segments of different partitions
// overlap in time; the newest "in_memory" records of each partition in memtable chunks of at most
// 40. The segments take turns: time slices of one block (the default layout), rows sorted by
// service, host and ts over the whole segment (every block spans the segment's time), format
// version 2 (no index kinds: every block is a candidate), the warm encoding; and every other one
// posts every message word (words found from exact postings) and every near-unique field's values
// instead of the default rules.
std::shared_ptr<storage::Snapshot> Spread(const std::vector<Record>& records,
                                          const std::string& dir, size_t per_segment,
                                          size_t in_memory) {
  std::map<uint32_t, std::vector<Record>> parts;
  for (const Record& r : records) parts[PartitionOf(r.service, r.host, kPartitions)].push_back(r);
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  uint64_t id = 1;
  for (auto& [partition, rows] : parts) {
    const size_t flushed = rows.size() > in_memory ? rows.size() - in_memory : 0;
    for (size_t start = 0; start < flushed; start += per_segment) {
      std::vector<Record> part(
          rows.begin() + static_cast<long>(start),
          rows.begin() + static_cast<long>(std::min(flushed, start + per_segment)));
      segment::WriterOptions wo;
      switch (id % 4) {
        case 0: wo.time_slice_rows = 0; break;
        case 1: wo.format_version = 2; break;
        case 2: wo = segment::WarmWriterOptions(); break;
        default: break;
      }
      wo.block_rows = 64;
      if (wo.time_slice_rows != 0) wo.time_slice_rows = 64;
      wo.text_zstd_level = wo.other_zstd_level = wo.metadata_zstd_level = 0;
      if (id % 2 == 0) {
        wo.word_postings.min_rows = 1;
        wo.word_postings.max_fraction = 1.0;
        wo.value_postings = index::ValuePostingsRule();  // near-unique trace ids posted too
      } else {
        // The default rule as in a large segment (these are small): words in fewer than 3 rows
        // posted only when they hold no digit (letter_words_above_rows).
        wo.word_postings.small_segment_rows = 0;
        wo.word_postings.letter_words_above_rows = 100;
      }
      segment::SegmentInfo info;
      info.id = id;
      info.tenant = "default";
      info.partition = partition;
      const std::string path = dir + "/" + std::to_string(id) + ".seg";
      ++id;
      auto h = testing::OpenedSegment(path, info, std::move(part), wo);
      if (h) snap->segments.push_back(std::move(*h));
    }
    storage::MemtableView view;
    view.partition = partition;
    for (size_t start = flushed; start < rows.size(); start += 40) {
      view.chunks.push_back(storage::RecordChunk::FromRecords(std::vector<Record>(
          rows.begin() + static_cast<long>(start),
          rows.begin() + static_cast<long>(std::min(rows.size(), start + 40)))));
    }
    if (!view.chunks.empty()) snap->memtables.push_back(std::move(view));
  }
  return snap;
}

class NewestFirst : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    records_ = new std::vector<Record>(TiedRecords());
    dir_ = new testing::TempDir("newest_first");
    snapshot_ = new std::shared_ptr<storage::Snapshot>(Spread(*records_, dir_->path(), 150, 60));
  }
  static void TearDownTestSuite() {
    delete snapshot_;
    delete dir_;
    delete records_;
  }
  static std::vector<Record>* records_;
  static testing::TempDir* dir_;
  static std::shared_ptr<storage::Snapshot>* snapshot_;
};
std::vector<Record>* NewestFirst::records_ = nullptr;
testing::TempDir* NewestFirst::dir_ = nullptr;
std::shared_ptr<storage::Snapshot>* NewestFirst::snapshot_ = nullptr;

void ExpectSamePage(const ExecResult& planned, const ExecResult& brute, const std::string& what) {
  ASSERT_FALSE(planned.partial) << what;
  ASSERT_EQ(planned.hits.size(), brute.hits.size())
      << what << "\nplanned: " << testing::Describe(planned)
      << "\nbrute: " << testing::Describe(brute);
  for (size_t i = 0; i < brute.hits.size(); ++i) {
    ASSERT_EQ(planned.hits[i], brute.hits[i]) << what << " hit " << i;
  }
  ASSERT_EQ(planned.rows, brute.rows) << what;
}

TEST_F(NewestFirst, PagesAgreeWithBruteForceOverPartitionsSegmentsAndMemtables) {
  const std::vector<Record>& records = *records_;
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  ASSERT_GT((*snapshot_)->segments.size(), 40u);
  ASSERT_EQ((*snapshot_)->memtables.size(), kPartitions);
  size_t traced = 700;
  while (records[traced].trace_id.empty()) ++traced;
  // Words of one row: one without a digit (posted in every segment with word postings), one
  // with a digit (below min_rows in the segments of the default rule: blooms and a read).
  std::map<std::string, int> word_rows;
  for (const Record& r : records) {
    std::vector<std::string> words = index::Tokenize(r.message);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    for (const std::string& w : words) ++word_rows[w];
  }
  std::string letter_word, digit_word;
  for (const auto& [w, n] : word_rows) {
    if (n != 1 || w.size() < 6 || index::IsNumberWord(w)) continue;
    std::string& slot = index::IsLetterWord(w) ? letter_word : digit_word;
    if (slot.empty()) slot = w;
  }
  ASSERT_FALSE(letter_word.empty());
  ASSERT_FALSE(digit_word.empty());
  const std::vector<std::string> queries = {
      "*",
      "service=hdfs",
      "level=ERROR",
      "service=openssh level=INFO",
      "host=apache-2",
      "trace_id=" + records[traced].trace_id,
      "user_id=user-1",
      "session",               // a word: exact postings in some segments, blooms in others
      "\"session opened\"",    // a phrase: postings narrow, the scan checks
      "message~\"[0-9]{4}\"",  // no index: every block of every segment is a candidate
      "status=203",            // a field of the JSON lines' shapes
      "NOT level=INFO",
      "service=zookeeper OR trace_id=" + records[traced].trace_id,
      "nosuchword",
      "\"" + letter_word + "\"",
      "\"" + digit_word + "\"",
      "level=WARN | head 3",
      "service=hadoop | fields seq, host, message",
  };
  WorkerPool pool(2);
  int compared = 0;
  for (const std::string& text : queries) {
    auto query = std::make_shared<const Query>(*ParseQuery(text));
    for (size_t limit : {1u, 7u, 100u, 10000u}) {  // 10000: more than any query matches
      for (int window = 0; window < 3; ++window) {
        for (WorkerPool* p : {static_cast<WorkerPool*>(nullptr), &pool}) {
          ExecOptions o = testing::AllTime();
          if (window > 0) {
            // 20 minutes in the middle of the dataset, on ingest_ts, then on ts (whose ties the
            // rounding made).
            o.all_time = false;
            o.range = {kDatasetStart + 3000 * kNanosPerSecond,
                       kDatasetStart + 4200 * kNanosPerSecond, false};
            o.time_field_ts = window == 2;
          }
          o.limit = limit;
          o.partitions = kPartitions;
          o.pool = p;
          const std::string what = text + " limit " + std::to_string(limit) + " window " +
                                   std::to_string(window) + (p ? " pool" : "");
          ExecResult planned = Execute(*snapshot_, query, o);
          ExecResult brute = BruteForce(records, *query, o);
          ExpectSamePage(planned, brute, what);
          if (::testing::Test::HasFatalFailure()) return;
          ++compared;
        }
      }
    }
  }
  EXPECT_EQ(compared, static_cast<int>(queries.size()) * 4 * 3 * 2);
}

TEST_F(NewestFirst, RandomFiltersAgreeWithBruteForce) {
  // Random filters and ranges (ExpectAgreement draws limits of 1 to 50), on ts and ingest_ts.
  testing::ExpectAgreement(*snapshot_, *records_, kPartitions, 1919, 400, kDatasetStart, 7000);
}

// The page of the newest few reads the blocks that hold them and the blocks of other segments
// that overlap them in time, not every block with a match.
TEST_F(NewestFirst, TheNewestFewReadFewBlocks) {
  // Up to 5,000 s after the start: the newest rows of the range are in segments (the memtables
  // hold the last minute of each partition).
  ExecOptions o;
  o.range = {INT64_MIN, kDatasetStart + 5000 * kNanosPerSecond, false};
  o.partitions = kPartitions;
  o.limit = 5;
  for (const char* text : {"level=INFO", "*", "NOT level=ERROR"}) {
    auto query = std::make_shared<const Query>(*ParseQuery(text));
    ExecResult page = Execute(*snapshot_, query, o);
    ASSERT_EQ(page.hits.size(), 5u) << text;
    ExecOptions all = o;
    all.limit = 10000;
    ExecResult every = Execute(*snapshot_, query, all);
    // Each partition's newest segment at most, of the 40 and more that hold matches.
    EXPECT_LE(page.stats.blocks_read, 2 * kPartitions) << text << "\n" << page.plan;
    EXPECT_GT(every.stats.blocks_read, 10 * page.stats.blocks_read + 1) << text;
    EXPECT_NE(page.plan.find("skipped, the newest hits are already found"), std::string::npos)
        << page.plan;
  }
  // An exact filter builds records only for the rows that may join the page.
  auto query = std::make_shared<const Query>(*ParseQuery("service=hdfs"));
  ExecResult page = Execute(*snapshot_, query, o);
  ASSERT_EQ(page.hits.size(), 5u);
  EXPECT_LE(page.stats.blocks_read, 2 * kPartitions) << page.plan;
  // A filter no index answers is evaluated only on the rows newer than the page's oldest hit
  // once the page is full: far fewer rows than the blocks read hold (the memtables, outside the
  // range, are scanned row by row).
  auto regex = std::make_shared<const Query>(*ParseQuery("message~\"[a-z]\""));
  ExecResult scanned = Execute(*snapshot_, regex, o);
  ASSERT_EQ(scanned.hits.size(), 5u);
  EXPECT_LT((scanned.stats.rows_scanned - scanned.stats.memtable_rows_scanned) * 4,
            scanned.stats.blocks_read * 64)
      << scanned.plan;
}

// "records" written as segment 1 in "dir" with "options" and opened ("*reader"): a snapshot of
// that one segment, or null (a test failure added) when it could not be written or opened.
std::shared_ptr<storage::Snapshot> OneSegment(const std::string& dir,
                                              const std::vector<Record>& records,
                                              const segment::WriterOptions& options,
                                              std::shared_ptr<segment::SegmentFileReader>* reader) {
  const std::string path = dir + "/1.seg";
  segment::SegmentInfo info;
  info.id = 1;
  info.tenant = "default";
  storage::SegmentHandle h;
  Status written = segment::WriteSegment(Env::Default(), path, info, records, options, &h.info);
  EXPECT_TRUE(written.ok()) << written.ToString();
  auto opened = segment::SegmentFileReader::OpenFile(Env::Default(), path);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!written.ok() || !opened.ok()) return nullptr;
  *reader = *opened;
  std::shared_ptr<segment::SegmentReader> shared = *opened;
  h.path = path;
  h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  snap->segments.push_back(h);
  return snap;
}

// The newest 100 of a sparse exact filter over a hot segment of 8,192-row blocks read all columns
// of a hundred rows of the newest block: the reader decompresses less than half of what that
// block's columns hold (a plain message only up to the rows, the trace ids' sub-blocks holding
// them; format version 9), and the page is the brute-force scan's. Without that it decompressed
// every column whole.
TEST(NewestFirstRowFetch, TheNewest100OfASparseFilterDecompressFarLessThanTheirBlocks) {
  std::vector<Record> base = testing::LoadDataset();
  ASSERT_FALSE(base.empty());
  std::vector<Record> records;
  std::mt19937_64 rng(19);
  for (uint64_t i = 0; i < 32768; ++i) {
    Record r = base[i % base.size()];
    char id[40];
    std::snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()));
    r.trace_id = id;
    r.fields.clear();
    r.service = "svc-" + std::to_string(i % 7);
    r.host = "node-" + std::to_string(i % 3);
    r.level = r.service == "svc-0" && i % 9 == 0 ? Level::kError : Level::kInfo;
    r.ts = r.ingest_ts = kDatasetStart + static_cast<int64_t>(i) * kNanosPerSecond / 10;
    r.seq = i + 1;
    records.push_back(std::move(r));
  }
  testing::TempDir dir("rowfetch");
  std::shared_ptr<segment::SegmentFileReader> reader;
  auto snap = OneSegment(dir.path(), records, segment::WriterOptions(), &reader);
  ASSERT_NE(snap, nullptr);
  // What a block's columns hold decompressed, the largest block's.
  uint64_t block_raw = 0;
  const segment::Footer& footer = reader->footer();
  for (size_t b = 0; b < footer.blocks.size(); ++b) {
    uint64_t raw = 0;
    for (const segment::ColumnMeta& c : footer.columns) raw += c.blocks[b].raw_size;
    block_raw = std::max(block_raw, raw);
  }
  ASSERT_EQ(footer.blocks.size(), 4u);
  ExecOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  o.limit = 100;
  // svc-0's rows come first in each block (sorted by service inside its time slice).
  auto query = std::make_shared<const Query>(*ParseQuery("service=svc-0 level=ERROR"));
  ExecResult page = Execute(snap, query, o);
  ASSERT_EQ(page.hits.size(), 100u);
  ExecOptions brute = o;
  brute.use_indexes = false;
  ExpectSamePage(page, Execute(snap, query, brute), "service=svc-0 level=ERROR");
  ASSERT_GE(page.stats.blocks_read, 1u);
  EXPECT_LT(page.stats.bytes_read_raw * 2, page.stats.blocks_read * block_raw)
      << page.stats.bytes_read_raw << " bytes decompressed in " << page.stats.blocks_read
      << " blocks of up to " << block_raw << "\n"
      << page.plan;
}

// The newest hits of a word the index answers exactly, several in each 8,192-row block, are
// read as records of those rows alone: their keys (ingest_ts, seq, and ts when it is the time
// field) picked from the key columns read through the last candidate, their other columns read
// for the listed rows only (ReadRows: each column decoded no further than the last listed row,
// the listed rows' values picked). Every column of a row is made from its number, written last
// in its message ("#N"): each hit must hold its own row's value in every column, not a
// neighbour's, and the page must be the brute-force scan's, on either time field and at every
// limit.
TEST(NewestFirstRowFetch, EachHitOfAnExactWordHoldsItsOwnRowInEveryColumn) {
  std::vector<Record> base = testing::LoadDataset();
  ASSERT_FALSE(base.empty());
  constexpr uint64_t kRows = 3 * 8192;
  auto marked = [](uint64_t i) { return i % 211 == 0 || i % 307 == 5 || i % 4099 == 77; };
  std::mt19937_64 rng(22);
  auto own = [](uint64_t i) {
    Record r;
    // ingest_ts in another order than the rows' (and than ts): a key taken from another entry
    // is another row's time.
    r.ingest_ts = kDatasetStart + static_cast<int64_t>((i * 7919) % kRows) * kNanosPerSecond / 100;
    r.seq = 1'000'000 + (i * 104729) % 1'000'003;
    r.service = "svc-" + std::to_string(i % 5);
    r.host = "node-" + std::to_string(i % 3);
    r.level = static_cast<Level>(1 + i % 4);
    char id[40];
    std::snprintf(id, sizeof(id), "%016llx%016llx",
                  static_cast<unsigned long long>(i * 2654435761u),
                  static_cast<unsigned long long>(i));
    r.trace_id = id;
    r.user_id = "u" + std::to_string(100000 + (i * 31) % 900000);
    return r;
  };
  std::vector<Record> records;
  std::map<uint64_t, int64_t> ts_of;
  for (uint64_t i = 0; i < kRows; ++i) {
    Record r = own(i);
    // ts a tenth of a second a row, jittered by up to 3 s: inside a block the rows sort by
    // service, host and ts, not by their number.
    r.ts = kDatasetStart + static_cast<int64_t>(i) * kNanosPerSecond / 10 +
           static_cast<int64_t>(rng() % 6000) * 1'000'000 - 3 * kNanosPerSecond;
    ts_of[i] = r.ts;
    r.message =
        base[i % base.size()].message + (marked(i) ? " zebrafish" : "") + " #" + std::to_string(i);
    records.push_back(std::move(r));
  }
  testing::TempDir dir("ownrow");
  // The word posted though it is in 0.8 % of the rows (the default posts letter words up to
  // 0.1 %, as a rare word is).
  segment::WriterOptions wo;
  wo.word_postings.max_fraction = 1.0;
  std::shared_ptr<segment::SegmentFileReader> reader;
  auto snap = OneSegment(dir.path(), records, wo, &reader);
  ASSERT_NE(snap, nullptr);
  ASSERT_EQ(reader->blocks().size(), 3u);
  auto query = std::make_shared<const Query>(*ParseQuery("zebrafish"));
  uint64_t matching = 0;
  for (uint64_t i = 0; i < kRows; ++i) matching += marked(i);
  for (bool by_ts : {false, true}) {
    for (size_t limit : {size_t{1}, size_t{7}, size_t{100}, size_t{1000}}) {
      const std::string what =
          std::string(by_ts ? "by ts" : "by ingest_ts") + ", limit " + std::to_string(limit);
      ExecOptions o;
      o.range = {INT64_MIN, INT64_MAX, false};
      o.time_field_ts = by_ts;
      o.limit = limit;
      ExecResult page = Execute(snap, query, o);
      ASSERT_EQ(page.hits.size(), std::min<uint64_t>(limit, matching)) << what;
      // The index answered the word: only the words' rows were candidates.
      EXPECT_NE(page.plan.find("index narrowed to " + std::to_string(matching) + " rows"),
                std::string::npos)
          << what << "\n"
          << page.plan;
      for (const Record& hit : page.hits) {
        const size_t mark = hit.message.rfind(" #");
        ASSERT_NE(mark, std::string::npos) << what << ": " << hit.message;
        const uint64_t i = std::stoull(hit.message.substr(mark + 2));
        Record want = own(i);
        EXPECT_TRUE(marked(i)) << what << ": row " << i;
        EXPECT_EQ(hit.ingest_ts, want.ingest_ts) << what << ": row " << i;
        EXPECT_EQ(hit.seq, want.seq) << what << ": row " << i;
        EXPECT_EQ(hit.ts, ts_of[i]) << what << ": row " << i;
        EXPECT_EQ(hit.service, want.service) << what << ": row " << i;
        EXPECT_EQ(hit.host, want.host) << what << ": row " << i;
        EXPECT_EQ(hit.level, want.level) << what << ": row " << i;
        EXPECT_EQ(hit.trace_id, want.trace_id) << what << ": row " << i;
        EXPECT_EQ(hit.user_id, want.user_id) << what << ": row " << i;
        EXPECT_EQ(hit.message, records[i].message) << what << ": row " << i;
      }
      ExecOptions brute = o;
      brute.use_indexes = false;
      ExpectSamePage(page, Execute(snap, query, brute), what);
    }
  }
}

// Monotonic time moves by one second on every read, so the N-th limit check passes a deadline of
// N seconds; "*cancel" is set instead at the "cancel_at"-th read when given.
class SteppingClock final : public Clock {
 public:
  explicit SteppingClock(std::atomic<bool>* cancel = nullptr, int cancel_at = 0)
      : cancel_(cancel), cancel_at_(cancel_at) {}
  int64_t NowNanos() const override { return testing::kDatasetNow; }
  int64_t MonotonicNanos() const override {
    const int n = ++reads_;
    if (cancel_ != nullptr && n >= cancel_at_) cancel_->store(true);
    return n * kNanosPerSecond;
  }

 private:
  std::atomic<bool>* cancel_;
  int cancel_at_;
  mutable std::atomic<int> reads_{0};
};

// A page stopped by the deadline or by the client's hang-up says so, and what it holds is still
// true: real matches, newest first, each with every column, none twice.
TEST_F(NewestFirst, AStoppedPageHoldsOnlyRealHitsInOrder) {
  const std::vector<Record>& records = *records_;
  int partial = 0, partial_with_hits = 0, whole = 0;
  for (const char* text : {"level=INFO", "message~\"[0-9]{4}\"", "*"}) {
    auto query = std::make_shared<const Query>(*ParseQuery(text));
    ExecOptions every = testing::AllTime();
    every.limit = 10000;
    std::map<uint64_t, Record> matches;  // by seq
    for (Record& r : BruteForce(records, *query, every).hits) matches[r.seq] = std::move(r);
    for (int stop_at = 1; stop_at <= 60; stop_at += 3) {
      for (bool cancel : {false, true}) {
        SCOPED_TRACE(std::string(text) + (cancel ? " cancelled at read " : " deadline at read ") +
                     std::to_string(stop_at));
        std::atomic<bool> cancelled{false};
        SteppingClock clock(cancel ? &cancelled : nullptr, stop_at);
        ExecOptions o = testing::AllTime();
        o.clock = &clock;
        o.limit = 50;
        o.partitions = kPartitions;
        if (cancel) {
          o.cancelled = &cancelled;
        } else {
          o.deadline_mono_ns = stop_at * kNanosPerSecond;
          o.time_limit_ns = 2 * kNanosPerSecond;
        }
        ExecResult r = Execute(*snapshot_, query, o);
        for (size_t i = 0; i < r.hits.size(); ++i) {
          auto it = matches.find(r.hits[i].seq);
          ASSERT_NE(it, matches.end()) << "hit seq " << r.hits[i].seq << " does not match";
          ASSERT_EQ(r.hits[i], it->second) << "hit " << i;
          if (i > 0) {
            ASSERT_GT(std::tie(r.hits[i - 1].ingest_ts, r.hits[i - 1].seq),
                      std::tie(r.hits[i].ingest_ts, r.hits[i].seq));
          }
        }
        if (!r.partial) {
          ++whole;
          ExecResult brute = BruteForce(records, *query, o);
          ExpectSamePage(r, brute, text);
          continue;
        }
        ++partial;
        partial_with_hits += !r.hits.empty();
        ASSERT_FALSE(r.warnings.empty());
        EXPECT_NE(r.warnings.back().find(cancel ? "client closed the connection"
                                                : "at the 2 s time limit (query_timeout)"),
                  std::string::npos)
            << r.warnings.back();
        EXPECT_EQ(r.stopped, cancel ? StopReason::kCancelled : StopReason::kTime);
      }
    }
  }
  EXPECT_GT(partial, 10);
  EXPECT_GT(partial_with_hits, 0) << "a page stopped part way keeps the hits it found";
  EXPECT_GT(whole, 0) << "a late enough deadline lets the page finish";
}

}  // namespace
}  // namespace sawmill::query
