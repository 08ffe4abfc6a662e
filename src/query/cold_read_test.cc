// Queries over cold segments (segments in the cold store, read through the cold read cache):
// their stats and live progress say how many cold segments the plan holds, how many were read,
// their bytes, and what was fetched from the store or served by the cache. The segment is real
// (written by the segment writer); the store behind the cache is a local directory store here,
// s3_store_test.cc runs the cache in front of a real S3 API.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "objstore/cold_cache.h"
#include "objstore/local_directory_store.h"
#include "query/fake_segment_test_util.h"
#include "query/query_engine.h"
#include "query/test_dataset.h"
#include "segment/segment.h"

namespace sawmill::query {
namespace {

TEST(ColdRead, StatsAndProgressCountWhatWasFetchedAndWhatCameFromTheCache) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("sawmill_cold_read_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::vector<Record> records = testing::LoadDataset();
  records.resize(4000);
  const std::string name = "default/7.seg";
  ASSERT_TRUE(Env::Default()->CreateDirs((dir / "remote" / "default").string()).ok());
  segment::SegmentInfo info;
  info.id = 7;
  info.tenant = "default";
  segment::WriterOptions wo;
  wo.block_rows = 500;
  storage::SegmentHandle cold;
  ASSERT_TRUE(segment::WriteSegment(Env::Default(), (dir / "remote" / name).string(), info, records,
                                    wo, &cold.info)
                  .ok());
  auto cache = objstore::ColdCache::Open(Env::Default(), (dir / "cache").string(), 64 << 20);
  ASSERT_TRUE(cache.ok());
  auto store = std::make_shared<objstore::CachingObjectStore>(
      std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), (dir / "remote").string()),
      std::move(*cache));
  cold.tier = "cold";
  cold.store = "cold";
  cold.object = name;
  // Each query opens the segment anew, as after a restart: footer and blocks both go through the
  // cache.
  cold.open = [store, name]() { return segment::SegmentReader::Open(store, name); };
  auto snapshot = std::make_shared<storage::Snapshot>();
  snapshot->tenant = "default";
  snapshot->segments.push_back(cold);
  // A hot segment beside it counts for nothing cold.
  auto hot = testing::MakeSnapshot("default", records, 1, 1, 500, 256);
  snapshot->segments.push_back(hot->segments.front());
  testing::FakeEngine engine(snapshot);
  QueryOptions o;
  auto qe = QueryEngine::Create(&engine, o);

  auto search = [&](std::shared_ptr<SearchProgress> progress) {
    SearchRequest r;
    r.q = "level=ERROR | count";
    r.all_time = true;
    r.use_cache = false;  // the result cache would answer the second one without reading
    r.progress = std::move(progress);
    auto res = qe->Search(r);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    return res.ok() ? res->stats : QueryStats{};
  };
  auto first_progress = std::make_shared<SearchProgress>();
  QueryStats first = search(first_progress);
  EXPECT_EQ(first.cold_segments, 1u);
  EXPECT_EQ(first.cold_segments_read, 1u);
  EXPECT_EQ(first.cold_bytes, cold.info.file_bytes);
  EXPECT_GT(first.cold_bytes_fetched, 0u);
  EXPECT_LT(first.cold_bytes_fetched, cold.info.file_bytes);  // only what the plan needs
  EXPECT_EQ(first.cold_bytes_cached, 0u);
  EXPECT_EQ(first_progress->cold_segments.load(), 1u);
  EXPECT_EQ(first_progress->cold_segments_read.load(), 1u);
  EXPECT_EQ(first_progress->cold_reads.bytes_fetched.load(), first.cold_bytes_fetched);

  QueryStats second = search(std::make_shared<SearchProgress>());
  EXPECT_EQ(second.cold_bytes_fetched, 0u) << "the second query fetched cold data again";
  EXPECT_EQ(second.cold_bytes_cached, first.cold_bytes_fetched);
  EXPECT_EQ(second.cold_segments_read, 1u);

  // Without a progress object of its own, the stats are still there.
  QueryStats third = search(nullptr);
  EXPECT_EQ(third.cold_segments, 1u);
  EXPECT_EQ(third.cold_bytes_fetched, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::query
