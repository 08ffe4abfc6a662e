// Differential tests over the real segment format and the real storage engine: the planned
// engine (inverted index, blooms, partitions, early termination, parallel scan) must give
// exactly the answer of a record-by-record scan, whether the records sit in memtables, in
// flushed segments or in compacted ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/env.h"
#include "common/hash.h"
#include "query/executor.h"
#include "query/parser.h"
#include "query/random_query_test_util.h"
#include "query/test_dataset.h"
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

TEST(QueryOverSegments, PlannedEngineAgreesWithBruteForceOnRealSegmentFiles) {
  std::vector<Record> records = testing::LoadDataset();
  ASSERT_GT(records.size(), 5000u) << "dataset missing under " << testing::SharedDir();
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
      std::string path = dir.path() + "/" + std::to_string(id++) + ".seg";
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
    view.chunks.push_back(std::make_shared<const std::vector<Record>>(1, records[i]));
    snap->memtables.push_back(std::move(view));
  }
  testing::ExpectAgreement(snap, records, kPartitions, 77, 300, kDatasetStart, 7000);
}

TEST(QueryOverStorage, AgreesWithBruteForceAcrossMemtablesFlushesAndCompactions) {
  std::vector<Record> dataset = testing::LoadDataset();
  ASSERT_GT(dataset.size(), 5000u);
  dataset.resize(6000);
  TempDir dir("storage");
  ManualClock clock(kDatasetStart);
  storage::EngineOptions options;
  options.data_dir = dir.path() + "/data";
  options.catalog_path = dir.path() + "/catalog.db";
  options.clock = &clock;
  options.partitions = 4;
  options.background_threads = false;
  options.segment_options.block_rows = 128;
  options.compaction_min_inputs = 2;
  auto opened = storage::Engine::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<storage::Engine> engine = std::move(opened).value();

  std::vector<Record> appended;
  constexpr size_t kBatch = 1000;
  for (size_t start = 0; start < dataset.size(); start += kBatch) {
    std::vector<Record> batch;
    for (size_t i = start; i < std::min(dataset.size(), start + kBatch); ++i) {
      Record r = dataset[i];
      r.seq = 0;
      r.tenant.clear();
      batch.push_back(std::move(r));
    }
    clock.Set(batch.back().ingest_ts);
    ASSERT_TRUE(engine->Append("default", &batch).ok());
    appended.insert(appended.end(), batch.begin(), batch.end());
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

}  // namespace
}  // namespace sawmill::query
