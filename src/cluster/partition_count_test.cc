// One partition count per store (docs/cluster.md "One partition count per store"): a node whose
// `partitions` differs from the count the cluster's catalog records is refused at start, since
// taking over another node's WAL objects it would file their lines under its own count and miss
// the segments that already hold some of them.
//
// Nodes of one process on a real PostgreSQL (ctest fixture pg_server) with the real write path
// (WAL objects, ClusterNode) and one local directory as the shared store; what the catalog and
// the store hold is read with a connection of the test's own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/pg_test_server.h"
#include "cluster/cluster_node.h"
#include "cluster/pg_cluster_test.h"
#include "common/hash.h"
#include "objstore/local_directory_store.h"
#include "segment/segment.h"
#include "storage/engine.h"

namespace sawmill::cluster {
namespace {

constexpr int64_t kHeartbeat = 200 * kNanosPerMilli;
constexpr int64_t kNodeTimeout = 3 * kNanosPerSecond;

// A KillableCatalog that DieAfterRegistrations(n) kills right after its n-th segment
// registration commits (a node killed in the middle of a flush of several memtables).
class RegistrationKillingCatalog final : public KillableCatalog {
 public:
  using KillableCatalog::KillableCatalog;

  void DieAfterRegistrations(int n) { die_after_.store(n); }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    auto change = target()->RegisterSegment(row, node, fence);
    if (change.ok() && --die_after_ == 0) Die();
    return change;
  }

 private:
  std::atomic<int> die_after_{-1};
};

struct Node {
  std::unique_ptr<ClusterNode> cluster;
  std::unique_ptr<storage::Engine> engine;
  RegistrationKillingCatalog* catalog = nullptr;      // the engine's, owned by it
  RegistrationKillingCatalog* wal_catalog = nullptr;  // the WAL objects', the cluster node's
};

class PartitionCountTest : public PgClusterTest {
 protected:
  PartitionCountTest() : PgClusterTest("partitions", "pc") {}

  void TearDown() override { StopNodesAndDropStore(&nodes_); }

  // Node "id" with "partitions". A "taker" heartbeats and runs takeover rounds (Start); any
  // other node heartbeats once, when it opens, and so is found dead after node_timeout.
  // "*opened": the engine's Open (the node is kept either way, so that its registry is stopped
  // at the end).
  Node* Add(const std::string& id, uint32_t partitions, bool taker, Status* opened) {
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    nodes_.push_back(std::move(node));
    ClusterNodeOptions options = NodeOptions(id, kHeartbeat, kNodeTimeout);
    options.registry.background = taker;
    options.wal.interval_ns = 5 * kNanosPerMilli;
    options.segment_sweep_interval_ns = 0;
    options.wrap_wal_catalog = [raw](std::unique_ptr<catalog::Catalog> real) {
      auto wrapped = std::make_unique<RegistrationKillingCatalog>(std::move(real));
      raw->wal_catalog = wrapped.get();
      return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
    };
    auto cluster = ClusterNode::Open(std::move(options));
    EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
    if (!cluster.ok()) {
      *opened = cluster.status();
      return raw;
    }
    raw->cluster = std::move(*cluster);
    storage::EngineOptions engine_options;
    engine_options.data_dir = (dir_ / id).string();
    engine_options.background_threads = false;  // the test flushes
    engine_options.flush_threads = 1;           // one memtable's registration at a time
    raw->cluster->Configure(&engine_options, store_);
    engine_options.partitions = partitions;
    engine_options.wrap_catalog = [raw](std::unique_ptr<catalog::Catalog> real) {
      auto wrapped = std::make_unique<RegistrationKillingCatalog>(std::move(real));
      raw->catalog = wrapped.get();
      return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
    };
    auto engine = storage::Engine::Open(engine_options);
    *opened = engine.status();
    if (!engine.ok()) return raw;
    raw->engine = std::move(*engine);
    if (taker) raw->cluster->Start(raw->engine.get());
    return raw;
  }

  // The lines "line <i>", i in [0, n), of 12 hosts: spread over the partitions of any count.
  static std::vector<Record> Lines(int n) {
    std::vector<Record> lines(n);
    for (int i = 0; i < n; ++i) {
      lines[i].service = "svc";
      lines[i].host = "host" + std::to_string(i % 12);
      lines[i].level = Level::kInfo;
      lines[i].message = "line " + std::to_string(i);
    }
    return lines;
  }

  // Node "taker" takes over node "dead"'s WAL objects (its rounds and ours) and flushes them.
  void TakeOverAndFlush(Node* taker, const std::string& dead) {
    auto left = [&] {
      auto rows = reader_->ListWalObjects(dead);
      EXPECT_TRUE(rows.ok()) << rows.status().ToString();
      return rows.ok() ? rows->size() : size_t{1};
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (left() > 0 && std::chrono::steady_clock::now() < deadline) {
      (void)taker->cluster->TakeOverNow();  // or its own round: either takes them
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(left(), 0u) << dead << "'s WAL objects were not taken over";
    ASSERT_TRUE(taker->engine->Flush().ok());
  }

  std::vector<std::unique_ptr<Node>> nodes_;
};

// Node a (4 partitions) is killed in the middle of a flush: one memtable's segment is
// registered, the WAL objects holding its lines are not marked flushed (the other memtables
// hold lines of the same objects). Node b, configured with 3 partitions, is refused at start
// with both counts named; node c (4 partitions, the recorded count) takes a's objects over,
// skips the lines the registered segment holds, and every acknowledged line is stored once.
// Without the check b opens, takes the objects over and files their lines under 3 partitions,
// where the registered segment (a's partition of 4) covers none of them: the segment's lines
// are stored twice.
TEST_F(PartitionCountTest, ANodeWithAnotherCountIsRefusedAndTheTakerStoresEveryLineOnce) {
  Status opened;
  Node* a = Add("node-a", 4, /*taker=*/false, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  std::vector<Record> lines = Lines(120);
  ASSERT_TRUE(a->engine->Append("default", &lines).ok());
  a->catalog->DieAfterRegistrations(1);
  EXPECT_FALSE(a->engine->Flush().ok()) << "node a was to die after its first registration";
  a->wal_catalog->Die();
  auto segments = reader_->List();
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  ASSERT_EQ(segments->size(), 1u) << "one memtable's segment registered before the kill";
  const uint64_t in_segment = (*segments)[0].rows;
  ASSERT_GT(in_segment, 0u);
  ASSERT_LT(in_segment, 120u);
  std::this_thread::sleep_for(std::chrono::nanoseconds(kNodeTimeout + kHeartbeat));

  Node* b = Add("node-b", 3, /*taker=*/true, &opened);
  EXPECT_EQ(opened.code(), StatusCode::kFailedPrecondition) << opened.ToString();
  EXPECT_NE(opened.ToString().find("partitions = 3"), std::string::npos) << opened.ToString();
  EXPECT_NE(opened.ToString().find("partitions = 4"), std::string::npos) << opened.ToString();
  if (b->engine != nullptr) {
    // The build without the check: what a user would get from b.
    TakeOverAndFlush(b, "node-a");
    int twice = 0;
    for (const auto& [message, n] : LinesInSegments()) twice += n > 1 ? 1 : 0;
    EXPECT_EQ(twice, 0) << "lines stored twice by a taker with 3 partitions (of " << in_segment
                        << " in a's registered segment)";
    return;
  }

  Node* c = Add("node-c", 4, /*taker=*/true, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  TakeOverAndFlush(c, "node-a");
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 120u);
  for (const Record& r : Lines(120)) {
    auto it = seen.find(r.message);
    EXPECT_TRUE(it != seen.end() && it->second == 1)
        << r.message << " stored " << (it == seen.end() ? 0 : it->second) << " times";
  }
}

// The first node to start records its count; later nodes of either count are told it, whoever
// starts them, and a restart of the first with another count is refused too.
TEST_F(PartitionCountTest, TheFirstNodeSetsTheCountForEveryLaterOne) {
  Status opened;
  Add("node-a", 8, /*taker=*/false, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  EXPECT_EQ(*reader_->SettleSetting("partitions", 16), 8u);
  Add("node-b", 8, /*taker=*/false, &opened);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  Add("node-c", 16, /*taker=*/false, &opened);
  EXPECT_EQ(opened.code(), StatusCode::kFailedPrecondition) << opened.ToString();
  EXPECT_NE(opened.ToString().find("partitions = 8"), std::string::npos) << opened.ToString();
}

// A store of a build before the count was recorded (its row removed here): node b, with fewer
// partitions than a's segments were filed by, is refused naming the highest partition found
// and the catalog, and records nothing; node c, with the count of the segments, opens and
// records it. Without the guard b opens and records 3.
TEST_F(PartitionCountTest, AnUnrecordedStoreRefusesACountNotAboveItsSegmentsPartitions) {
  Status opened;
  Node* a = Add("node-a", 4, /*taker=*/false, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  std::vector<Record> lines = Lines(120);
  ASSERT_TRUE(a->engine->Append("default", &lines).ok());
  ASSERT_TRUE(a->engine->Flush().ok());
  ASSERT_TRUE(a->engine->Close().ok());
  uint32_t highest = 0;
  auto rows = reader_->List();
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  for (const auto& row : *rows) highest = std::max(highest, row.partition);
  ASSERT_EQ(highest, 3u) << "the test needs a segment in the last partition";
  catalog::PgTestSql("DELETE FROM " + schema_ + ".meta WHERE key = 'setting.partitions'");
  ASSERT_FALSE(reader_->ReadSetting("partitions")->has_value());

  Add("node-b", 3, /*taker=*/false, &opened);
  EXPECT_EQ(opened.code(), StatusCode::kFailedPrecondition) << opened.ToString();
  EXPECT_NE(opened.ToString().find("of partition 3"), std::string::npos) << opened.ToString();
  EXPECT_NE(opened.ToString().find(schema_), std::string::npos) << opened.ToString();
  EXPECT_FALSE(reader_->ReadSetting("partitions")->has_value()) << "the refused node recorded";

  Add("node-c", 4, /*taker=*/false, &opened);
  EXPECT_TRUE(opened.ok()) << opened.ToString();
  EXPECT_EQ(reader_->ReadSetting("partitions")->value_or(0), 4u);
}

}  // namespace
}  // namespace sawmill::cluster
