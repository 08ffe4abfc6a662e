// Differential tests over the real segment format and the real storage engine: the planned
// engine (inverted index, blooms, partitions, early termination, parallel scan) must give
// exactly the answer of a record-by-record scan, whether the records sit in memtables, in
// flushed segments or in compacted ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>

#include "common/coding.h"
#include "common/env.h"
#include "common/hash.h"
#include "objstore/forwarding_store.h"
#include "objstore/local_directory_store.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"
#include "segment/format.h"
#include "segment/segment_file_reader.h"
#include "storage/engine.h"

namespace sawmill::query {
namespace {

using testing::kDatasetStart;

class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = std::filesystem::temp_directory_path() /
            ("sawmill_query_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Numeric dynamic fields for the numeric range index (index/numeric_range_index.cc): "status"
// spread over every block, "duration_ms" rising with line_id (so blocks hold narrow ranges),
// with decimals, negatives, exponents and values that are not numbers.
void AddNumericFields(std::vector<Record>* records) {
  static const char* const kStatus[] = {"200", "200", "200", "201", "404", "500", "503", "-"};
  for (Record& r : *records) {
    uint64_t h = Hash64(std::to_string(r.seq));
    r.fields.emplace_back("status", kStatus[h % 8]);
    const std::string* line = r.FindField("line_id");
    int64_t line_id = line == nullptr ? 0 : std::atoll(line->c_str());
    std::string duration = std::to_string(line_id * 3 / 2) + (line_id % 2 ? ".5" : "");
    if (line_id % 13 == 0) duration = "n/a";
    if (line_id % 17 == 0) duration = "-" + duration;
    if (line_id % 19 == 0) duration = std::to_string(line_id / 100) + "e2";
    r.fields.emplace_back("duration_ms", duration);
  }
}

TEST(QueryOverSegments, PlannedEngineAgreesWithBruteForceOnRealSegmentFiles) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
  AddNumericFields(&records);
  TempDir dir("segments");
  Env* env = Env::Default();
  constexpr uint32_t kPartitions = 4;
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  std::map<uint32_t, std::vector<Record>> by_partition;
  size_t flushed = records.size() - 600;
  for (size_t i = 0; i < flushed; ++i) {
    by_partition[PartitionOf(records[i].service, records[i].host, kPartitions)].push_back(
        records[i]);
  }
  segment::WriterOptions wo;
  wo.block_rows = 256;
  uint64_t id = 1;
  for (auto& [p, recs] : by_partition) {
    for (size_t start = 0; start < recs.size(); start += 900) {
      std::vector<Record> part(
          recs.begin() + static_cast<long>(start),
          recs.begin() + static_cast<long>(std::min(recs.size(), start + 900)));
      segment::SegmentInfo info;
      info.id = id;
      info.tenant = "default";
      info.partition = p;
      std::string path = dir.path() + "/" + std::to_string(id) + ".seg";
      // Every third segment as format version 2 wrote it: no index kinds, so no numeric range
      // pruning, and the answer must not change.
      wo.format_version = id++ % 3 == 0 ? 2 : segment::kFormatVersion;
      storage::SegmentHandle h;
      ASSERT_TRUE(segment::WriteSegment(env, path, info, std::move(part), wo, &h.info).ok());
      auto reader = segment::SegmentReader::Open(env, path);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      std::shared_ptr<segment::SegmentReader> shared = *reader;
      h.path = path;
      h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
      snap->segments.push_back(std::move(h));
    }
  }
  for (size_t i = flushed; i < records.size(); ++i) {
    storage::MemtableView view;
    view.partition = PartitionOf(records[i].service, records[i].host, kPartitions);
    view.chunks.push_back(storage::RecordChunk::FromRecords({records[i]}));
    snap->memtables.push_back(std::move(view));
  }
  testing::ExpectAgreement(snap, records, kPartitions, 77, 300, kDatasetStart, 7000);
}

// One service and host, 8 blocks of 100 rows in time order: "status" is 200 except three 503s
// in block 5; "duration_ms" of block b lies in [200 b, 200 b + 99].
std::vector<Record> StatusRecords() {
  std::vector<Record> out;
  for (int block = 0; block < 8; ++block) {
    for (int row = 0; row < 100; ++row) {
      Record r;
      r.tenant = "default";
      r.service = "web";
      r.host = "web-1";
      r.seq = out.size() + 1;
      r.ingest_ts = r.ts = kDatasetStart + static_cast<int64_t>(r.seq) * kNanosPerSecond;
      r.message = "GET /item/" + std::to_string(r.seq);
      r.fields.emplace_back("status", block == 5 && row % 40 == 0 ? "503" : "200");
      r.fields.emplace_back("duration_ms", std::to_string(block * 200 + row));
      out.push_back(std::move(r));
    }
  }
  return out;
}

TEST(QueryOverSegments, NumericRangeIndexSkipsBlocksAndOlderSegmentsStillAnswer) {
  std::vector<Record> records = StatusRecords();
  TempDir dir("numeric_range");
  struct Case {
    const char* query;
    uint64_t blocks_with_index;  // row blocks read; without the index every one of the 8
    size_t hits;
  };
  const Case cases[] = {
      {"status>=500", 1, 3},
      {"duration_ms>1000", 3, 299},
      {"status>=500 OR duration_ms<100", 2, 103},
      {"status=503", 1, 3},
      {"NOT status>=500", 8, 797},  // nothing is pruned under a NOT
      {"status>=600", 0, 0},
      {"status>abc", 8, 0},  // a text comparison: the index cannot tell
  };
  WorkerPool pool(2);
  for (uint32_t version : {segment::kFormatVersion, 2u}) {
    SCOPED_TRACE("format version " + std::to_string(version));
    segment::WriterOptions wo;
    wo.block_rows = 100;
    wo.format_version = version;
    segment::SegmentInfo info;
    info.id = version;
    info.tenant = "default";
    std::string path = dir.path() + "/v" + std::to_string(version) + ".seg";
    storage::SegmentHandle h;
    ASSERT_TRUE(segment::WriteSegment(Env::Default(), path, info, records, wo, &h.info).ok());
    auto reader = segment::SegmentReader::Open(Env::Default(), path);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_EQ((*reader)->blocks().size(), 8u);
    std::shared_ptr<segment::SegmentReader> shared = *reader;
    h.path = path;
    h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
    auto snap = std::make_shared<storage::Snapshot>();
    snap->tenant = "default";
    snap->segments.push_back(std::move(h));
    for (const Case& c : cases) {
      Result<Query> parsed = ParseQuery(c.query);
      ASSERT_TRUE(parsed.ok()) << c.query;
      auto query = std::make_shared<const Query>(std::move(*parsed));
      ExecOptions o = testing::AllTime();
      o.limit = 1000;
      o.partitions = 1;
      o.pool = &pool;
      ExecResult planned = Execute(snap, query, o);
      ExecResult brute = BruteForce(records, *query, o);
      EXPECT_EQ(planned.hits.size(), c.hits) << c.query;
      EXPECT_EQ(planned.hits, brute.hits) << c.query;
      uint64_t want = version >= 3 ? c.blocks_with_index : 8;
      EXPECT_EQ(planned.stats.blocks_read, want) << c.query << "\n" << planned.plan;
    }
  }
}

// A store that records every range read from it and forwards to the local directory store.
// Open is ObjectStore's own: its reader sends each range through GetRange, so every byte a
// segment reader asks for is seen here.
class CountingStore final : public objstore::ForwardingObjectStore {
 public:
  explicit CountingStore(std::string root)
      : ForwardingObjectStore(
            std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), std::move(root))) {}
  Status GetRange(std::string_view name, uint64_t offset, uint64_t length,
                  std::string* out) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ranges_.emplace_back(offset, length);
    }
    return ForwardingObjectStore::GetRange(name, offset, length, out);
  }
  Result<std::unique_ptr<objstore::ObjectReader>> Open(std::string_view name) override {
    return ObjectStore::Open(name);
  }

  std::vector<std::pair<uint64_t, uint64_t>> TakeRanges() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(ranges_, {});
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // (offset, length), in order
};

TEST(QueryOverObjectStore, AQueryThatNeedsOneBlockReadsOnlyTheFooterAndThatBlock) {
  TempDir dir("objstore");
  constexpr uint32_t kBlockRows = 100, kBlocks = 20, kWanted = 13;
  std::vector<Record> records;
  for (uint32_t i = 0; i < kBlockRows * kBlocks; ++i) {
    Record r;
    r.seq = i + 1;
    r.ingest_ts = r.ts = kDatasetStart + static_cast<int64_t>(i) * kNanosPerSecond;
    r.service = "api";
    r.host = "web-1";
    r.level = Level::kInfo;
    r.message = "request " + std::to_string(i) + " served in " + std::to_string(i % 97) + " ms";
    r.fields = {{"status", i % 10 == 0 ? "500" : "200"},
                {"path", "/v1/items/" + std::to_string(i)}};
    records.push_back(std::move(r));
  }
  const std::string name = "segments/hot/default/0/1.seg";
  ASSERT_TRUE(Env::Default()->CreateDirs(dir.path() + "/segments/hot/default/0").ok());
  segment::SegmentInfo info;
  info.id = 1;
  info.tenant = "default";
  segment::WriterOptions wo;
  wo.block_rows = kBlockRows;
  storage::SegmentHandle h;
  ASSERT_TRUE(
      segment::WriteSegment(Env::Default(), dir.path() + "/" + name, info, records, wo, &h.info)
          .ok());

  // What the file holds where, read without the counting store.
  auto plain = segment::SegmentFileReader::OpenObject(
      std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), dir.path()), name);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ((*plain)->blocks().size(), kBlocks);
  const uint64_t size = (*plain)->info().file_bytes;
  std::string bytes;
  ASSERT_TRUE(ReadFileToString(Env::Default(), dir.path() + "/" + name, &bytes).ok());
  const uint64_t identity_size = DecodeFixed32(bytes.data() + segment::kMagicSize + 4);
  const uint64_t trailer_at = size - segment::kTrailerSize;
  const uint64_t footer_at = DecodeFixed64(bytes.data() + trailer_at);
  const std::set<std::pair<uint64_t, uint64_t>> open_ranges = {
      {0, segment::kHeaderSize},
      {segment::kHeaderSize, identity_size},
      {trailer_at, segment::kTrailerSize},
      {footer_at, trailer_at - footer_at}};
  std::set<std::pair<uint64_t, uint64_t>> wanted_block;
  for (const segment::ColumnMeta& column : (*plain)->footer().columns) {
    const segment::BlockRef& ref = column.blocks[kWanted];
    if (ref.present()) wanted_block.emplace(ref.offset, ref.size);
  }

  auto store = std::make_shared<CountingStore>(dir.path());
  auto reader = segment::SegmentReader::Open(store, name);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  // Opening reads the header, the identity, the trailer and the footer: nothing else.
  auto at_open = store->TakeRanges();
  EXPECT_EQ(std::set(at_open.begin(), at_open.end()), open_ranges);
  EXPECT_EQ(at_open.size(), open_ranges.size());

  std::shared_ptr<segment::SegmentReader> shared = *reader;
  h.path = name;
  h.open = [shared]() -> Result<std::shared_ptr<segment::SegmentReader>> { return shared; };
  auto snap = std::make_shared<storage::Snapshot>();
  snap->tenant = "default";
  snap->segments.push_back(std::move(h));
  auto query = std::make_shared<const Query>(std::move(ParseQuery("*")).value());
  ExecOptions o;
  // Ten seconds inside block kWanted: the plan keeps that block only.
  const int64_t from = kDatasetStart + (kWanted * kBlockRows + 40) * kNanosPerSecond;
  o.range = {from, from + 10 * kNanosPerSecond, false};
  ExecResult result = Execute(snap, query, o);
  ASSERT_FALSE(result.partial);
  ASSERT_EQ(result.hits.size(), 10u);
  EXPECT_EQ(result.hits.front().seq, kWanted * kBlockRows + 50);
  EXPECT_EQ(result.stats.blocks_read, 1u) << result.plan;

  auto at_query = store->TakeRanges();
  uint64_t bytes_read = 0;
  for (const auto& range : at_query) {
    EXPECT_TRUE(wanted_block.count(range)) << "read [" << range.first << ", +" << range.second
                                           << ") which is not a column of block " << kWanted;
    bytes_read += range.second;
  }
  EXPECT_FALSE(at_query.empty());
  // Every read is one column of the block: the block is a small part of the file.
  EXPECT_LT(bytes_read * 5, size) << bytes_read << " of " << size;
}

// An engine in "dir" on "clock" whose flushes and compactions are the test's (no background
// threads; a compaction round merges from two inputs), "partitions" partitions, blocks of
// "block_rows".
storage::EngineOptions TestEngineOptions(const TempDir& dir, ManualClock* clock,
                                         uint32_t partitions, uint32_t block_rows) {
  storage::EngineOptions options;
  options.data_dir = dir.path() + "/data";
  options.catalog_path = dir.path() + "/catalog.db";
  options.clock = clock;
  options.partitions = partitions;
  options.background_threads = false;
  options.segment_options.block_rows = block_rows;
  options.compaction_min_inputs = 2;
  return options;
}

// Appends records [start, start + n) of "dataset" as a client sends them (no seq, no tenant),
// at the ingest time of the last one, and adds them as stored to "*appended".
Status AppendBatch(storage::Engine* engine, ManualClock* clock, const std::vector<Record>& dataset,
                   size_t start, size_t n, std::vector<Record>* appended) {
  std::vector<Record> batch;
  for (size_t i = start; i < std::min(dataset.size(), start + n); ++i) {
    Record r = dataset[i];
    r.seq = 0;
    r.tenant.clear();
    batch.push_back(std::move(r));
  }
  clock->Set(batch.back().ingest_ts);
  RETURN_IF_ERROR(engine->Append("default", &batch));
  appended->insert(appended->end(), batch.begin(), batch.end());
  return Status::OK();
}

TEST(QueryOverStorage, AgreesWithBruteForceAcrossMemtablesFlushesAndCompactions) {
  std::vector<Record> dataset = testing::LoadDataset();
  ASSERT_GT(dataset.size(), 5000u);
  dataset.resize(6000);
  TempDir dir("storage");
  ManualClock clock(kDatasetStart);
  const storage::EngineOptions options = TestEngineOptions(dir, &clock, 4, 128);
  auto opened = storage::Engine::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<storage::Engine> engine = std::move(opened).value();

  std::vector<Record> appended;
  constexpr size_t kBatch = 1000;
  for (size_t start = 0; start < dataset.size(); start += kBatch) {
    ASSERT_TRUE(AppendBatch(engine.get(), &clock, dataset, start, kBatch, &appended).ok());
    size_t round = start / kBatch;
    if (round % 3 != 2) {
      ASSERT_TRUE(engine->Flush().ok());  // every third batch stays in memory
    }
    if (round % 2 == 1) {
      ASSERT_TRUE(engine->CompactNow().ok());
    }
    std::shared_ptr<const storage::Snapshot> snap = engine->GetSnapshot("default");
    testing::ExpectAgreement(snap, appended, options.partitions, static_cast<uint32_t>(round) + 5,
                             60, kDatasetStart, static_cast<int64_t>(appended.size()) * 7 / 10);
  }
  EXPECT_GT(engine->stats().compactions, 0u);
  ASSERT_TRUE(engine->Close().ok());
}

// Compaction changes where rows are, never an answer: many small flushed segments (timestamps
// going backwards inside them, so the merged inputs overlap in time) answer 200 random queries
// exactly as the few segments that compaction rounds leave, row for row and group for group, and
// both agree with brute force.
TEST(QueryOverStorage, AnswersBeforeAndAfterCompactionAreTheSame) {
  std::vector<Record> dataset = testing::LoadDataset();
  ASSERT_GT(dataset.size(), 5000u);
  dataset.resize(6000);
  TempDir dir("compaction_answers");
  ManualClock clock(kDatasetStart);
  storage::EngineOptions options = TestEngineOptions(dir, &clock, 2, 64);
  options.segment_options.time_slice_rows = 64;
  auto opened = storage::Engine::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<storage::Engine> engine = std::move(opened).value();
  std::vector<Record> appended;
  constexpr size_t kBatch = 250;
  for (size_t start = 0; start < dataset.size(); start += kBatch) {
    ASSERT_TRUE(AppendBatch(engine.get(), &clock, dataset, start, kBatch, &appended).ok());
    ASSERT_TRUE(engine->Flush().ok());
  }
  const uint64_t flushed = engine->stats().segments;
  ASSERT_GE(flushed, 40u);

  struct Case {
    std::string text;
    ExecOptions options;
  };
  std::vector<Case> cases;
  testing::RandomQueries gen(appended, 77);
  WorkerPool pool(2);
  for (int i = 0; i < 200; ++i) {
    Case c;
    c.text = gen.Filter() + gen.Pipe();
    c.options.all_time = i % 3 == 0;
    if (c.options.all_time) {
      c.options.range = {INT64_MIN, INT64_MAX, false};
    } else {
      const int64_t from = kDatasetStart + gen.Pick(6000) * kNanosPerSecond;
      c.options.range = {from, from + (1 + gen.Pick(90)) * 60 * kNanosPerSecond, false};
    }
    c.options.time_field_ts = i % 4 == 3;
    c.options.limit = 1 + static_cast<size_t>(gen.Pick(80));
    c.options.partitions = options.partitions;
    c.options.pool = &pool;
    cases.push_back(std::move(c));
  }
  auto run_all = [&](std::shared_ptr<const storage::Snapshot> snap) {
    std::vector<ExecResult> out;
    for (const Case& c : cases) {
      Result<Query> parsed = ParseQuery(c.text);
      EXPECT_TRUE(parsed.ok()) << c.text;
      if (!parsed.ok()) break;
      out.push_back(Execute(snap, std::make_shared<const Query>(std::move(*parsed)), c.options));
    }
    return out;
  };
  std::vector<ExecResult> before = run_all(engine->GetSnapshot("default"));
  for (uint64_t done = UINT64_MAX; engine->stats().compactions != done;) {
    done = engine->stats().compactions;
    ASSERT_TRUE(engine->CompactNow().ok());
  }
  const uint64_t compacted = engine->stats().segments;
  EXPECT_LT(compacted * 4, flushed) << "compaction rounds left most segments as they were";
  std::shared_ptr<const storage::Snapshot> snap = engine->GetSnapshot("default");
  std::vector<ExecResult> after = run_all(snap);
  ASSERT_EQ(before.size(), cases.size());
  ASSERT_EQ(after.size(), cases.size());
  int nonempty = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string& text = cases[i].text;
    ASSERT_FALSE(before[i].partial) << text;
    ASSERT_FALSE(after[i].partial) << text;
    ASSERT_EQ(before[i].hits, after[i].hits) << text << "\nbefore: " << testing::Describe(before[i])
                                             << "\nafter: " << testing::Describe(after[i]);
    ASSERT_EQ(before[i].rows, after[i].rows) << text;
    ASSERT_EQ(before[i].is_pipe, after[i].is_pipe) << text;
    nonempty += !before[i].hits.empty() || !before[i].rows.empty();
  }
  EXPECT_GT(nonempty, 60);
  testing::ExpectAgreement(snap, appended, options.partitions, 78, 60, kDatasetStart, 4200);
  ASSERT_TRUE(engine->Close().ok());
}

}  // namespace
}  // namespace sawmill::query
