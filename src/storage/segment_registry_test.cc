#include "storage/segment_registry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/fault_env.h"
#include "objstore/local_directory_store.h"
#include "storage/segment_files.h"

namespace sawmill::storage {
namespace {

class SegmentRegistryTest : public ::testing::Test {
 protected:
  // Writes segment "id" of ("tenant", "partition") with "rows" records at its usual path and
  // returns its entry (not yet registered).
  std::shared_ptr<SegmentEntry> Write(uint64_t id, const std::string& tenant, uint32_t partition,
                                      int rows) {
    std::vector<Record> records;
    for (int i = 0; i < rows; ++i) {
      Record r;
      r.seq = id * 1000 + static_cast<uint64_t>(i);
      r.ts = r.ingest_ts = 1'700'000'000'000'000'000 + i;
      r.tenant = tenant;
      r.service = "api";
      r.message = "segment " + std::to_string(id) + " line " + std::to_string(i);
      records.push_back(std::move(r));
    }
    const std::string rel = SegmentRelPath("hot", tenant, partition, id);
    const std::string path = "/data/" + rel;
    EXPECT_TRUE(env_.CreateDirs(DirName(path)).ok());
    segment::SegmentInfo in, out;
    in.id = id;
    in.tenant = tenant;
    in.partition = partition;
    Status s = segment::WriteSegment(&env_, path, in, std::move(records), {}, &out);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::make_shared<SegmentEntry>(&env_, registry_.store(), path,
                                          RowFromInfo(out, rel, "hot", 1), nullptr);
  }

  // The messages a snapshot's segments hold; "errors" counts segments that did not open.
  static std::vector<std::string> Messages(const Snapshot& snapshot, int* errors) {
    std::vector<std::string> out;
    for (const SegmentHandle& h : snapshot.segments) {
      auto reader = h.open();
      if (!reader.ok()) {
        ++*errors;
        continue;
      }
      for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
        std::vector<Record> rows;
        EXPECT_TRUE((*reader)->ReadBlock(b, segment::kColAll, &rows, nullptr).ok());
        for (const Record& r : rows) out.push_back(r.message);
      }
    }
    return out;
  }

  FaultInjectionEnv env_;
  SegmentRegistry registry_{std::make_shared<objstore::LocalDirectoryStore>(&env_, "/data"),
                            std::make_shared<objstore::LocalDirectoryStore>(&env_, "/data/cold")};
};

TEST_F(SegmentRegistryTest, AReplacedSegmentStaysReadableUntilTheLastSnapshotLetsGo) {
  auto one = Write(1, "acme", 0, 3);
  auto two = Write(2, "acme", 0, 2);
  const std::string one_path = one->path(), two_path = two->path();
  registry_.Add(one);
  registry_.Add(two);
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->tenant = "acme";
  registry_.AddToSnapshot(snapshot.get());
  ASSERT_EQ(snapshot->segments.size(), 2u);

  one->compacting = two->compacting = true;
  auto merged = Write(3, "acme", 0, 5);
  registry_.Replace({one, two}, merged);
  EXPECT_FALSE(one->compacting);
  EXPECT_EQ(registry_.count(), 1u);
  EXPECT_EQ(registry_.Find(1), nullptr);
  EXPECT_EQ(registry_.Find(3), merged);
  one.reset();
  two.reset();

  // The old snapshot still reads both replaced segments.
  int errors = 0;
  EXPECT_EQ(Messages(*snapshot, &errors).size(), 5u);
  EXPECT_EQ(errors, 0);
  EXPECT_TRUE(env_.FileExists(one_path));
  EXPECT_TRUE(env_.FileExists(two_path));

  snapshot.reset();
  EXPECT_FALSE(env_.FileExists(one_path));
  EXPECT_FALSE(env_.FileExists(two_path));
  EXPECT_TRUE(env_.FileExists(merged->path()));
}

TEST_F(SegmentRegistryTest, ASnapshotHoldsOnlyItsTenantsSegmentsInIdOrder) {
  registry_.Add(Write(7, "acme", 1, 1));
  registry_.Add(Write(4, "acme", 0, 1));
  registry_.Add(Write(5, "other", 0, 1));
  Snapshot snapshot;
  snapshot.tenant = "acme";
  registry_.AddToSnapshot(&snapshot);
  ASSERT_EQ(snapshot.segments.size(), 2u);
  EXPECT_EQ(snapshot.segments[0].info.id, 4u);
  EXPECT_EQ(snapshot.segments[1].info.id, 7u);
  EXPECT_EQ(snapshot.segments[1].info.partition, 1u);
  EXPECT_EQ(snapshot.segments[1].tier, "hot");
  EXPECT_EQ(registry_.Find(5)->row().tenant, "other");
  EXPECT_EQ(registry_.count(), 3u);
}

TEST_F(SegmentRegistryTest, CompactionCandidatesAreSmallActiveSegmentsNoCompactionHolds) {
  auto small = Write(1, "acme", 0, 2);
  auto corrupt = Write(2, "acme", 0, 2);
  auto held = Write(3, "acme", 0, 2);
  auto big = Write(4, "acme", 0, 400);
  auto other_partition = Write(5, "acme", 1, 2);
  corrupt->set_state(std::string(catalog::kStateCorrupt));
  held->compacting = true;
  for (const auto& e : {small, corrupt, held, big, other_partition}) registry_.Add(e);

  const auto candidates = registry_.SmallActive(big->row().bytes);
  ASSERT_EQ(candidates.size(), 2u);
  ASSERT_EQ(candidates.at({"acme", 0}).size(), 1u);
  EXPECT_EQ(candidates.at({"acme", 0})[0], small);
  EXPECT_EQ(candidates.at({"acme", 1})[0], other_partition);
}

TEST_F(SegmentRegistryTest, AFileThatHoldsAnotherSegmentDoesNotOpen) {
  auto six = Write(6, "acme", 0, 1);
  catalog::SegmentRow row = six->row();
  row.id = 9;  // the catalog says 9; the file says 6
  SegmentEntry wrong(&env_, registry_.store(), six->path(), row, nullptr);
  auto reader = wrong.Open();
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(reader.status().IsDataLoss()) << reader.status().ToString();
  EXPECT_NE(reader.status().ToString().find("not segment 9"), std::string::npos)
      << reader.status().ToString();
  EXPECT_TRUE(six->Open().ok());
}

TEST_F(SegmentRegistryTest, ASegmentInAStoreTheEngineLacksIsRefusedNotMarkedCorrupt) {
  auto six = Write(6, "acme", 0, 1);
  catalog::SegmentRow row = six->row();
  row.store = "s3-archive";
  SegmentEntry elsewhere(&env_, registry_.store(), six->path(), row, nullptr);
  auto reader = elsewhere.Open();
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), StatusCode::kFailedPrecondition) << reader.status().ToString();
  EXPECT_NE(reader.status().message().find("object store 's3-archive'"), std::string::npos)
      << reader.status().message();
}

// Segment ids come from the catalog now (catalog_test.cc, AllocatedIds*; catalog_ids_test.cc).
TEST_F(SegmentRegistryTest, SnapshotHandlesCarryEachSegmentsTierAndLocation) {
  auto hot = Write(1, "acme", 0, 2);
  registry_.Add(hot);
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->tenant = "acme";
  registry_.AddToSnapshot(snapshot.get());
  ASSERT_EQ(snapshot->segments.size(), 1u);
  const SegmentHandle& h = snapshot->segments[0];
  EXPECT_EQ(h.tier, "hot");
  EXPECT_EQ(h.store, "local");
  EXPECT_EQ(h.object, "segments/hot/acme/0/1.seg");
  EXPECT_EQ(h.path, "/data/segments/hot/acme/0/1.seg");
}

}  // namespace
}  // namespace sawmill::storage
