// Test-only: what the tests of cluster nodes that stall share (stalled_node_test,
// fenced_answer_test): nodes of one process with the real write path (WAL objects, ClusterNode,
// takeover), each with a query engine, a segment view and an in-process fan-out over the others,
// on the PgClusterTest's PostgreSQL schema and store. A stalling node's heartbeats are the
// test's (its registry has no heartbeat thread), so its stall is exact.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/cluster_test_nodes.h"
#include "cluster/fanout.h"
#include "cluster/pg_cluster_test.h"
#include "cluster/segment_refresh.h"
#include "query/query_engine.h"
#include "storage/engine.h"

namespace sawmill::cluster {

// What StallingNodesTest::Open does for a node beyond what every node gets.
template <class Node>
struct NodeSetup {
  // Its heartbeats are the test's (Beat), and it runs no takeover rounds.
  bool stalls = false;
  int64_t node_timeout_ns = 0;  // its registry's; 0: the fixture's
  // Adjusts the cluster node's options (e.g. its catalog wrappers); null: none.
  std::function<void(Node*, ClusterNodeOptions*)> cluster;
  // Adjusts its engine's options after ClusterNode::Configure; null: none.
  std::function<void(Node*, storage::EngineOptions*)> engine;
  // Its segment view tells its cluster node when it read the catalog (ClusterNode::NoteViewRead).
  bool note_view_reads = false;
  // Its queries' check of the answers after the snapshot, made once the node is open (null:
  // not checked), and the hooks around each peer's answer (InProcessFanout).
  std::function<AnswerCheck(Node*)> check;
  AnswerHooks hooks;
};

// The fixture: nodes_ (opened by Open, stopped with the store at TearDown), every node's
// heartbeats every "heartbeat_ns" and peers dead after "node_timeout_ns" unless its setup says.
template <class Node>
class StallingNodesTest : public PgClusterTest {
 protected:
  StallingNodesTest(std::string name, std::string schema_prefix, int64_t heartbeat_ns,
                    int64_t node_timeout_ns)
      : PgClusterTest(std::move(name), std::move(schema_prefix)),
        heartbeat_ns_(heartbeat_ns),
        node_timeout_ns_(node_timeout_ns) {}

  void TearDown() override { StopNodesAndDropStore(&nodes_); }

  // Opens node "id": one partition, flushed by the test and the takeover rounds (no background
  // threads), WAL objects every 5 ms, no segment sweep, its segment view refreshed every 100 ms.
  Node* Open(const std::string& id, NodeSetup<Node> setup) {
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    node->id = id;
    ClusterNodeOptions options = NodeOptions(
        id, heartbeat_ns_, setup.node_timeout_ns != 0 ? setup.node_timeout_ns : node_timeout_ns_);
    options.registry.background = !setup.stalls;
    options.wal.interval_ns = 5 * kNanosPerMilli;
    options.segment_sweep_interval_ns = 0;
    if (setup.cluster) setup.cluster(raw, &options);
    auto opened = ClusterNode::Open(std::move(options));
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    node->cluster = std::move(*opened);
    storage::EngineOptions engine_options;
    engine_options.data_dir = (dir_ / id).string();
    engine_options.partitions = 1;
    engine_options.background_threads = false;           // the test and the takeover rounds flush
    engine_options.flush_threads = kServerFlushThreads;  // as the server ships
    node->cluster->Configure(&engine_options, store_);
    if (setup.engine) setup.engine(raw, &engine_options);
    auto engine = storage::Engine::Open(engine_options);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    if (!engine.ok()) return nullptr;
    node->engine = std::move(*engine);
    if (!setup.stalls) node->cluster->Start(node->engine.get());
    query::QueryOptions query_options;
    query_options.worker_threads = 2;
    node->local = query::QueryEngine::Create(node->engine.get(), query_options);
    SegmentRefreshOptions refresh_options;
    refresh_options.interval_ns = 100 * kNanosPerMilli;
    if (setup.note_view_reads) {
      ClusterNode* cluster = node->cluster.get();
      refresh_options.before_apply = [cluster](bool changes) { cluster->NoteViewRead(changes); };
    }
    node->refresh = std::make_unique<SegmentRefresh>(node->engine->catalog(), node->engine.get(),
                                                     refresh_options);
    node->refresh->Start();
    InProcessFanout fanned(node->cluster->registry(), node->local.get(), node->refresh.get(),
                           LocalEngineIn(&nodes_), setup.check ? setup.check(raw) : AnswerCheck{},
                           std::move(setup.hooks));
    node->fanout = std::move(fanned.fanout);
    node->query = std::move(fanned.query);
    nodes_.push_back(std::move(node));
    return raw;
  }

  // The test's node "id", or null.
  Node* Find(const std::string& id) {
    for (auto& node : nodes_) {
      if (node->id == id) return node.get();
    }
    return nullptr;
  }

  // Every node heartbeats now and sees the others as they are.
  void BeatAll() {
    for (auto& node : nodes_) ASSERT_TRUE(node->cluster->registry()->Beat().ok());
  }

  // Appends "n" lines "<prefix> line <i>" on "node", one batch; must be acknowledged.
  void Ingest(Node* node, const std::string& prefix, int n) {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i) batch.push_back(Line(prefix, i));
    Status s = node->engine->Append("default", &batch);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  static Record Line(const std::string& prefix, int i) {
    Record r;
    r.service = "svc";
    r.host = "host";
    r.level = Level::kInfo;
    r.message = prefix + " line " + std::to_string(i);
    return r;
  }

  static Result<query::SearchResponse> Count(Node* node) {
    return SearchAllTime(*node->query, "* | count");
  }

  std::vector<std::unique_ptr<Node>> nodes_;

 private:
  const int64_t heartbeat_ns_, node_timeout_ns_;
};

}  // namespace sawmill::cluster
