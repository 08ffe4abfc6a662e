#include "query/planner.h"

#include <gtest/gtest.h>

#include <memory>

#include "query/executor.h"
#include "query/fake_segment_test_util.h"
#include "query/parser.h"

namespace sawmill::query {
namespace {

// A record of "acme" at ts = ingest_ts = "t".
Record At(int64_t t, std::string service = "api", std::string host = "h1") {
  Record r;
  r.tenant = "acme";
  r.ts = r.ingest_ts = t;
  r.seq = static_cast<uint64_t>(t);
  r.service = std::move(service);
  r.host = std::move(host);
  r.message = "line " + std::to_string(t);
  return r;
}

// A segment of "records" in (tier, store), as a snapshot from the storage engine carries it.
storage::SegmentHandle Segment(uint64_t id, uint32_t partition, std::vector<Record> records,
                               std::string tier, std::string store) {
  auto reader =
      std::make_shared<testing::FakeSegmentReader>(id, partition, std::move(records), 100);
  storage::SegmentHandle h;
  h.info = reader->info();
  h.tier = std::move(tier);
  h.store = std::move(store);
  h.object = "acme/" + std::to_string(id) + ".seg";
  h.open = [reader]() -> Result<std::shared_ptr<segment::SegmentReader>> {
    return std::shared_ptr<segment::SegmentReader>(reader);
  };
  return h;
}

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snapshot_->tenant = "acme";
    snapshot_->segments.push_back(Segment(1, 0, {At(100), At(150)}, "cold", "archive"));
    snapshot_->segments.push_back(Segment(2, 1, {At(200), At(250)}, "hot", "local"));
    snapshot_->segments.push_back(Segment(3, 0, {At(300), At(350)}, "hot", "local"));
    snapshot_->segments.push_back(Segment(4, 2, {At(400), At(450)}, "warm", "nearline"));
  }
  std::shared_ptr<storage::Snapshot> snapshot_ = std::make_shared<storage::Snapshot>();
};

TEST_F(PlannerTest, PlansNewestFirstWithEachSegmentsTierAndLocation) {
  SegmentPlanOptions o;
  o.range = {INT64_MIN, INT64_MAX, false};
  SegmentPlan plan = PlanSegments(*snapshot_, o);
  EXPECT_EQ(plan.total, 4u);
  ASSERT_EQ(plan.segments.size(), 4u);
  EXPECT_EQ(plan.segments[0].segment->info.id, 4u);
  EXPECT_EQ(plan.segments[0].max_time, 450);
  EXPECT_EQ(plan.segments[0].segment->tier, "warm");
  EXPECT_EQ(plan.segments[0].segment->store, "nearline");
  EXPECT_EQ(plan.segments[0].segment->object, "acme/4.seg");
  EXPECT_EQ(plan.segments[3].segment->info.id, 1u);
  EXPECT_EQ(plan.segments[3].segment->store, "archive");
  EXPECT_EQ(DescribeLocations(plan),
            "cold 1 in store archive, hot 2 in store local, warm 1 in store nearline");
}

TEST_F(PlannerTest, TimeAndPartitionPruneFromMetadataAlone) {
  SegmentPlanOptions o;
  o.range = {150, 301, false};  // [150, 301): segments 1, 2 and 3 meet it, 4 does not
  o.partition = 0;              // and only 1 and 3 are in partition 0
  SegmentPlan plan = PlanSegments(*snapshot_, o);
  EXPECT_EQ(plan.total, 4u);
  ASSERT_EQ(plan.segments.size(), 2u);
  EXPECT_EQ(plan.segments[0].segment->info.id, 3u);
  EXPECT_EQ(plan.segments[1].segment->info.id, 1u);
  EXPECT_EQ(plan.pruned_by_partition, std::vector<uint64_t>{2});
  EXPECT_EQ(DescribeLocations(plan), "cold 1 in store archive, hot 1 in store local");
  o.range = {1000, 2000, false};
  EXPECT_EQ(DescribeLocations(PlanSegments(*snapshot_, o)), "none");
}

TEST_F(PlannerTest, ExplainSaysWhereThePlannedSegmentsAre) {
  auto query = std::make_shared<const Query>(*ParseQuery("line"));
  ExecOptions o;
  o.range = {0, 260, false};
  ExecResult r = Execute(snapshot_, query, o);
  EXPECT_EQ(r.hits.size(), 4u);
  EXPECT_NE(r.plan.find("\ntiers: cold 1 in store archive, hot 1 in store local\n"),
            std::string::npos)
      << r.plan;
}

}  // namespace
}  // namespace sawmill::query
