// Cluster nodes in one process on one real PostgreSQL catalog (ctest fixture pg_server) and one
// shared store (a directory): each a storage engine with the real write path (WAL objects,
// ClusterNode), its segment view (SegmentRefresh) and the fan-out (its peers' memtables asked
// by calling their query engines, through the wire codec). While writers ingest on every node
// and every node flushes all the time, queries on every node must count each acknowledged line
// exactly once (docs/cluster.md "Exactly once across nodes").
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/pg_test_server.h"
#include "cluster/cluster_node.h"
#include "cluster/cluster_test_nodes.h"
#include "cluster/fanout.h"
#include "cluster/job_leases.h"
#include "cluster/segment_refresh.h"
#include "common/mutex.h"
#include "objstore/local_directory_store.h"
#include "query/query_engine.h"
#include "storage/engine.h"
#include "storage/job_gate.h"
#include "storage/retention.h"

namespace sawmill::cluster {
namespace {

std::filesystem::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("sawmill_segment_view_" + std::to_string(::getpid()) + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A node's engine catalog (EngineOptions::wrap_catalog) that forwards every call to the real
// one and loses what it is told to: the next RegisterSegment, or the next Replace (a compaction's
// or a warm move's swap), commits and answers Unavailable, and from then on, until Restore,
// every SegmentRegistration answers Unavailable, so the node cannot learn the outcome. Every
// other call goes through (a flaky connection, not a dead catalog). Counts the calls by name.
class LosingCatalog final : public catalog::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;

  void LoseNextRegistration() {
    MutexLock l(&mu_);
    lose_register_ = true;
  }
  // "after_commit" runs between the commit and the lost answer (the node's view refreshing
  // while the output is pending).
  void LoseNextSwap(std::function<void()> after_commit) {
    MutexLock l(&mu_);
    lose_swap_ = true;
    after_commit_ = std::move(after_commit);
  }
  void Restore() {
    MutexLock l(&mu_);
    down_ = false;
  }
  uint64_t lost_id() const {
    MutexLock l(&mu_);
    return lost_id_;
  }
  int calls(const std::string& name) const {
    MutexLock l(&mu_);
    auto it = calls_.find(name);
    return it == calls_.end() ? 0 : it->second;
  }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    auto committed = target()->RegisterSegment(row, node, fence);
    MutexLock l(&mu_);
    if (!lose_register_ || !committed.ok()) return committed;
    lose_register_ = false;
    down_ = true;
    lost_id_ = row.id;
    return Status::Unavailable("test: the connection broke during the commit");
  }

  using ForwardingCatalog::Replace;
  Status Replace(const std::vector<uint64_t>& removed,
                 const std::vector<catalog::SegmentRow>& added,
                 const catalog::LeaseFence* fence) override {
    if (Status s = Before("Replace"); !s.ok()) return s;
    Status committed = target()->Replace(removed, added, fence);
    std::function<void()> after;
    {
      MutexLock l(&mu_);
      if (!lose_swap_ || !committed.ok()) return committed;
      lose_swap_ = false;
      down_ = true;
      lost_id_ = added.empty() ? 0 : added[0].id;
      after = std::move(after_commit_);
    }
    if (after) after();
    return Status::Unavailable("test: the connection broke during the commit");
  }

 protected:
  Status Before(std::string_view call) const override {
    MutexLock l(&mu_);
    ++calls_[std::string(call)];
    if (down_ && call == "SegmentRegistration") {
      return Status::Unavailable("test: the catalog cannot be reached (" + std::string(call) + ")");
    }
    return Status::OK();
  }

 private:
  mutable Mutex mu_;
  bool lose_register_ GUARDED_BY(mu_) = false;
  bool lose_swap_ GUARDED_BY(mu_) = false;
  bool down_ GUARDED_BY(mu_) = false;
  std::function<void()> after_commit_ GUARDED_BY(mu_);
  uint64_t lost_id_ GUARDED_BY(mu_) = 0;
  mutable std::map<std::string, int> calls_ GUARDED_BY(mu_);
};

// Wraps the engine catalog of the node whose data directory ends in "node" with a LosingCatalog,
// set in "*out" (an EngineOptions tune for Cluster).
std::function<void(storage::EngineOptions*)> LoseOn(const std::string& node, LosingCatalog** out) {
  return [node, out](storage::EngineOptions* o) {
    if (std::filesystem::path(o->data_dir).filename() != node) return;
    o->wrap_catalog = [out](std::unique_ptr<catalog::Catalog> real) {
      auto losing = std::make_unique<LosingCatalog>(std::move(real));
      *out = losing.get();
      return std::unique_ptr<catalog::Catalog>(std::move(losing));
    };
  };
}

// One node of the cluster.
using Node = InProcessNode;

class Cluster {
 public:
  // "tune" adjusts each node's engine options after ClusterNode::Configure (null: none);
  // "refresh_batch": the changes each refresh asks per catalog call.
  Cluster(const std::filesystem::path& dir, int nodes, int64_t refresh_interval_ns,
          const std::function<void(storage::EngineOptions*)>& tune = nullptr,
          size_t refresh_batch = 10000, int64_t orphan_grace_ns = 3600 * kNanosPerSecond,
          int64_t node_timeout_ns = 30 * kNanosPerSecond) {
    schema_ = "v" + std::to_string(std::hash<std::string>{}(dir.string()) % 1000000007);
    const std::string url = catalog::PgTestSchemaUrl(schema_);
    std::filesystem::create_directories(dir / "store");
    auto store =
        std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), (dir / "store").string());
    for (int i = 0; i < nodes; ++i) {
      auto node = std::make_unique<Node>();
      node->id = "node-" + std::string(1, static_cast<char>('a' + i));
      ClusterNodeOptions options;
      options.catalog_url = url;
      options.registry.id = node->id;
      options.registry.url = "http://" + node->id + ".invalid";
      options.registry.heartbeat_interval_ns = 200 * kNanosPerMilli;
      options.registry.node_timeout_ns = node_timeout_ns;
      options.wal_store = store;
      options.wal.interval_ns = 5 * kNanosPerMilli;
      options.segment_sweep_interval_ns = 0;  // SweepSegmentsNow only
      options.segment_orphan_grace_ns = orphan_grace_ns;
      auto opened = ClusterNode::Open(std::move(options));
      EXPECT_TRUE(opened.ok()) << opened.status().ToString();
      if (!opened.ok()) return;
      node->cluster = std::move(*opened);
      storage::EngineOptions engine_options;
      engine_options.data_dir = (dir / node->id).string();
      engine_options.partitions = 4;
      engine_options.background_threads = false;           // the test flushes, all the time
      engine_options.flush_threads = kServerFlushThreads;  // as the server ships
      node->cluster->Configure(&engine_options, store);
      if (tune) tune(&engine_options);
      auto engine = storage::Engine::Open(engine_options);
      EXPECT_TRUE(engine.ok()) << engine.status().ToString();
      if (!engine.ok()) return;
      node->engine = std::move(*engine);
      node->cluster->Start(node->engine.get());
      query::QueryOptions query_options;
      query_options.worker_threads = 2;
      node->local = query::QueryEngine::Create(node->engine.get(), query_options);
      SegmentRefreshOptions refresh_options;
      refresh_options.interval_ns = refresh_interval_ns;
      refresh_options.batch = refresh_batch;
      node->refresh = std::make_unique<SegmentRefresh>(node->engine->catalog(), node->engine.get(),
                                                       refresh_options);
      node->refresh->Start();
      InProcessFanout fanned(node->cluster->registry(), node->local.get(), node->refresh.get(),
                             LocalEngineIn(&nodes_));
      node->fanout = std::move(fanned.fanout);
      node->query = std::move(fanned.query);
      nodes_.push_back(std::move(node));
    }
    // Every node sees the others live before the test starts.
    for (auto& node : nodes_) node->cluster->registry()->Beat().IgnoreError();
    for (auto& node : nodes_) node->cluster->registry()->Beat().IgnoreError();
  }
  ~Cluster() {
    for (auto& node : nodes_) {
      node->refresh->Stop();
      node->cluster->Stop();
    }
    for (auto& node : nodes_) node->engine->Close().IgnoreError();
    for (auto& node : nodes_) node->cluster->registry()->Stop(/*remove=*/true);
    catalog::PgTestSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  bool ok() const { return !nodes_.empty(); }
  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }

 private:
  std::string schema_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

Result<query::SearchResponse> Search(Node* node, const std::string& q, size_t limit = 100) {
  return SearchAllTime(*node->query, q, limit);
}

// Writer w's line i: service "svc<i % 3>", message "w<w> line <i>".
Record Line(int w, int i) {
  Record r;
  r.service = "svc" + std::to_string(i % 3);
  r.host = "host" + std::to_string(w);
  r.level = Level::kInfo;
  r.message = "w" + std::to_string(w) + " line " + std::to_string(i);
  return r;
}

// "n" lines of one (service, host), so of one partition: each flush makes one segment.
std::vector<Record> OneKeyLines(const std::string& prefix, int n) {
  std::vector<Record> batch;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.service = "svc";
    r.host = "host";
    r.level = Level::kInfo;
    r.message = prefix + " " + std::to_string(i);
    batch.push_back(std::move(r));
  }
  return batch;
}

// The ids of the segments "node"'s view holds, and of those the catalog names.
std::set<uint64_t> ViewIds(Node* node) {
  std::set<uint64_t> out;
  auto snapshot = node->engine->GetSnapshot("default");
  for (const auto& h : snapshot->segments) out.insert(h.info.id);
  return out;
}
std::set<uint64_t> CatalogIds(catalog::Catalog* catalog) {
  std::set<uint64_t> out;
  auto rows = catalog->List();
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok()) {
    for (const auto& row : *rows) out.insert(row.id);
  }
  return out;
}

// Refreshes "node"'s view and runs its compaction until it has merged once (true), or "limit"
// passed (false).
bool MergedWithin(Node* node, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (node->engine->stats().compactions == 0) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    EXPECT_TRUE(node->refresh->RefreshNow().ok());
    node->engine->CompactNow().IgnoreError();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// Waits (at most 10 s) until every node's heartbeat has confirmed each registration of its
// flushes so far (catalog::NodeRow::confirmed_through): other nodes merge and re-encode a
// node's segments only then.
void WaitConfirmed(std::vector<std::unique_ptr<Node>>& nodes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& node : nodes) {
    const uint64_t want = node->engine->GetSnapshot("default")->registered_through;
    while (true) {
      uint64_t confirmed = 0;
      auto rows = node->engine->catalog()->ListNodes();
      if (rows.ok()) {
        for (const auto& row : *rows) {
          if (row.id == node->id) confirmed = row.confirmed_through;
        }
      }
      if (confirmed >= want) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << node->id << " confirmed " << confirmed << ", not " << want;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

// While every node ingests and flushes all the time, every query on every node counts each line
// acknowledged before it started, and none twice nor one never acknowledged; once the writers
// stop, every node answers exactly what was acknowledged.
// Each node flushes "flush_threads" memtables at once (its lines are of up to 3 partitions).
void CountEachLineOnceWhilePeersFlush(int flush_threads) {
  const auto dir = TestDir();
  // The periodic refresh is rare here: what keeps the answers whole is the refresh on demand.
  auto cluster = std::make_unique<Cluster>(
      dir, 3, 600 * kNanosPerSecond,
      [flush_threads](storage::EngineOptions* o) { o->flush_threads = flush_threads; });
  ASSERT_TRUE(cluster->ok());
  auto& nodes = cluster->nodes();
  constexpr int kWriters = 3, kBatches = 60, kBatch = 20;
  // Writer w's lines [0, acked[w]) are acknowledged; [0, sent[w]) were sent (a batch is in the
  // memtables, and so visible, a moment before its Append returns).
  std::vector<std::atomic<int>> acked(kWriters), sent(kWriters);
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Record> batch;
        for (int i = 0; i < kBatch; ++i) batch.push_back(Line(w, b * kBatch + i));
        // Writer w writes to node w.
        sent[w].store((b + 1) * kBatch);
        Status s = nodes[w]->engine->Append("default", &batch);
        ASSERT_TRUE(s.ok()) << s.ToString();
        acked[w].store((b + 1) * kBatch);
      }
    });
  }
  // Every node flushes all the time (each flush registers segments and drops memtables).
  std::vector<std::thread> flushers;
  for (auto& node : nodes) {
    flushers.emplace_back([&, engine = node->engine.get()] {
      while (writing.load()) {
        engine->Flush().IgnoreError();
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
    });
  }
  std::atomic<int> queries{0}, checked_lines{0};
  std::vector<std::thread> readers;
  for (int q = 0; q < 3; ++q) {
    readers.emplace_back([&, q] {
      std::mt19937 rng(q);
      while (writing.load()) {
        Node* node = nodes[rng() % nodes.size()].get();
        std::vector<int> before(kWriters);
        for (int w = 0; w < kWriters; ++w) before[w] = acked[w].load();
        const bool count = rng() % 2 == 0;
        auto r = count ? Search(node, "* | count") : Search(node, "service=svc1", 10000);
        std::vector<int> after(kWriters);
        for (int w = 0; w < kWriters; ++w) after[w] = sent[w].load();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_FALSE(r->partial) << (r->warnings.empty() ? "" : r->warnings[0]);
        if (count) {
          int64_t low = 0, high = 0;
          for (int w = 0; w < kWriters; ++w) {
            low += before[w];
            high += after[w];
          }
          const int64_t n = CountOf(*r);
          ASSERT_GE(n, low) << "on " << node->id << ": lines missing";
          ASSERT_LE(n, high) << "on " << node->id << ": lines counted twice (or never sent)";
        } else {
          std::set<std::pair<int, int>> seen;
          for (const Record& hit : r->hits) {
            int w = -1, i = -1;
            ASSERT_EQ(std::sscanf(hit.message.c_str(), "w%d line %d", &w, &i), 2);
            ASSERT_TRUE(seen.insert({w, i}).second)
                << "on " << node->id << ": " << hit.message << " twice";
            ASSERT_LT(i, after[w]) << hit.message << " was never sent";
          }
          for (int w = 0; w < kWriters; ++w) {
            for (int i = 1; i < before[w]; i += 3) {
              ASSERT_TRUE(seen.count({w, i}) > 0)
                  << "on " << node->id << ": w" << w << " line " << i << " missing";
            }
          }
          checked_lines += static_cast<int>(seen.size());
        }
        ++queries;
      }
    });
  }
  for (auto& t : threads) t.join();
  writing = false;
  for (auto& t : flushers) t.join();
  for (auto& t : readers) t.join();
  EXPECT_GT(queries.load(), 20);
  EXPECT_GT(checked_lines.load(), 0);

  // Quiet: node a has flushed everything, node b half, node c nothing more; every node answers
  // the whole.
  ASSERT_TRUE(nodes[0]->engine->Flush().ok());
  const int64_t total = int64_t{kWriters} * kBatches * kBatch;
  for (auto& node : nodes) {
    auto all = Search(node.get(), "* | count");
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(CountOf(*all), total) << "on " << node->id;
    auto by_service = Search(node.get(), "* | count by service");
    ASSERT_TRUE(by_service.ok());
    ASSERT_EQ(by_service->rows.size(), 3u);
    for (const auto& row : by_service->rows) {
      EXPECT_EQ(std::get<int64_t>(row.back().second), total / 3) << "on " << node->id;
    }
    auto hits = Search(node.get(), "service=svc2", 10000);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(static_cast<int64_t>(hits->hits.size()), total / 3) << "on " << node->id;
  }
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

TEST(SegmentView, QueriesOnEveryNodeCountEachAcknowledgedLineOnceWhilePeersFlush) {
  CountEachLineOnceWhilePeersFlush(kServerFlushThreads);
}

// The cut with two flushes of a node registering at once (docs/cluster.md "Exactly once across
// nodes": registered-through and the registering ids, whichever flush ends first).
TEST(SegmentView, QueriesOnEveryNodeCountEachAcknowledgedLineOnceWhilePeersFlushTwoAtOnce) {
  CountEachLineOnceWhilePeersFlush(2);
}

// A segment another node flushed is in the view after a refresh, read from the shared store; a
// segment another node removed from the catalog leaves the view without being deleted by it.
TEST(SegmentView, ARefreshAddsPeersSegmentsAndDropsRemovedOnesWithoutDeletingThem) {
  const auto dir = TestDir();
  auto cluster = std::make_unique<Cluster>(dir, 2, 600 * kNanosPerSecond);
  ASSERT_TRUE(cluster->ok());
  Node* a = cluster->nodes()[0].get();
  Node* b = cluster->nodes()[1].get();
  std::vector<Record> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(Line(0, i));
  ASSERT_TRUE(a->engine->Append("default", &batch).ok());
  ASSERT_TRUE(a->engine->Flush().ok());
  auto flushed = a->engine->GetSnapshot("default");
  ASSERT_FALSE(flushed->segments.empty());
  EXPECT_TRUE(flushed->memtables.empty() || flushed->memtables[0].chunks.empty());
  EXPECT_GT(flushed->registered_through, 0u);
  EXPECT_EQ(flushed->segments[0].node, "node-a");

  EXPECT_TRUE(b->engine->GetSnapshot("default")->segments.empty());
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  auto seen = b->engine->GetSnapshot("default");
  ASSERT_EQ(seen->segments.size(), flushed->segments.size());
  EXPECT_EQ(seen->segments[0].node, "node-a");
  EXPECT_EQ(seen->segments[0].registered, flushed->segments[0].registered);
  // Read from b's own engine alone (no fan-out): the lines come from the shared store.
  query::SearchRequest local;
  local.q = "* | count";
  local.all_time = true;
  local.use_cache = false;
  auto counted = b->local->Search(local);
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(CountOf(*counted), 30);

  // Removed by another node (retention, say): gone from b's view, its object left alone.
  const uint64_t id = seen->segments[0].info.id;
  const std::string object = dir / "store" / seen->segments[0].object;
  ASSERT_TRUE(std::filesystem::exists(object)) << object;
  ASSERT_TRUE(a->engine->catalog()->Delete(id).ok());
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  seen.reset();
  flushed.reset();
  auto after = b->engine->GetSnapshot("default");
  for (const auto& h : after->segments) EXPECT_NE(h.info.id, id);
  EXPECT_TRUE(std::filesystem::exists(object));
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// Compaction and warm moves of shared segments (docs/cluster.md "Compaction and tier moves on
// cluster nodes"): nodes a and b compact and node c moves segments to warm, all at once and over
// the same segments, while queries on every node run (their views refreshed one change per
// catalog call, so a swap's changes arrive in several batches). Every query counts every line
// once; afterwards every node's view is the catalog's, outputs hold only one node's seqs, the
// inputs' objects are left for the sweep, which deletes them and nothing the catalog names.
TEST(SegmentView, CompactionAndWarmMovesOfSharedSegmentsKeepEveryAnswerWhole) {
  const auto dir = TestDir();
  auto cluster = std::make_unique<Cluster>(
      dir, 3, 600 * kNanosPerSecond,
      [](storage::EngineOptions* o) {
        o->shared_settle_ns = 0;  // no query outlives the test's flushes here
        o->compaction_min_inputs = 2;
        o->warm_after_ns = 1;  // the background tier round (RunTiersNow) moves every segment
        o->cold_after_ns = 1;  // ... and has no cold tier to move to
      },
      /*refresh_batch=*/1, /*orphan_grace_ns=*/0);
  ASSERT_TRUE(cluster->ok());
  auto& nodes = cluster->nodes();
  constexpr int kRounds = 5, kBatch = 60;
  int64_t total = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int w = 0; w < 3; ++w) {
      std::vector<Record> batch;
      for (int i = 0; i < kBatch; ++i) batch.push_back(Line(w, round * kBatch + i));
      ASSERT_TRUE(nodes[w]->engine->Append("default", &batch).ok());
      total += kBatch;
    }
    for (auto& node : nodes) ASSERT_TRUE(node->engine->Flush().ok());
  }
  for (auto& node : nodes) ASSERT_TRUE(node->refresh->RefreshNow().ok());
  auto* catalog = nodes[0]->engine->catalog();
  auto before = catalog->List();
  ASSERT_TRUE(before.ok());
  std::set<std::string> inputs;
  for (const auto& row : *before) inputs.insert(row.path);
  ASSERT_GE(before->size(), 3u * kRounds);
  WaitConfirmed(nodes);  // merged and moved only once their nodes confirm them

  std::atomic<bool> working{true};
  std::atomic<int> queries{0};
  std::vector<std::thread> readers;
  for (int q = 0; q < 3; ++q) {
    // Each node's view follows the catalog all the time (as the periodic refresh does, only
    // more often), while queries on it plan from whatever it holds.
    readers.emplace_back([&, q] {
      while (working.load()) nodes[static_cast<size_t>(q)]->refresh->RefreshNow().IgnoreError();
    });
    readers.emplace_back([&, q] {
      while (working.load()) {
        Node* node = nodes[static_cast<size_t>(q)].get();
        auto r = Search(node, "* | count");
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        ASSERT_FALSE(r->partial);
        ASSERT_EQ(CountOf(*r), total) << "on " << node->id;
        ++queries;
      }
    });
  }
  std::thread compact_a([&] {
    for (int i = 0; i < 30; ++i) nodes[0]->engine->CompactNow().IgnoreError();
  });
  std::thread compact_b([&] {
    for (int i = 0; i < 30; ++i) nodes[1]->engine->CompactNow().IgnoreError();
  });
  std::thread warm_c([&] {
    // Once a compaction is in (else the moves may take every segment first), racing the rest.
    for (int i = 0;
         i < 500 &&
         nodes[0]->engine->stats().compactions + nodes[1]->engine->stats().compactions == 0;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int i = 0; i < 5; ++i) nodes[2]->engine->MoveTiers(0, "warm").status().IgnoreError();
  });
  compact_a.join();
  compact_b.join();
  warm_c.join();
  working = false;
  for (auto& t : readers) t.join();
  EXPECT_GT(queries.load(), 10);

  // Cold is refused: a cluster node has no cold tier.
  auto cold = nodes[2]->engine->MoveTiers(0, "cold");
  ASSERT_FALSE(cold.ok());
  EXPECT_NE(cold.status().message().find("no cold tier"), std::string::npos);

  auto after = catalog->List();
  ASSERT_TRUE(after.ok());
  EXPECT_LT(after->size(), before->size()) << "nothing was compacted";
  std::set<uint64_t> catalog_ids;
  std::set<std::string> named;
  for (const auto& row : *after) {
    catalog_ids.insert(row.id);
    named.insert(row.path);
    EXPECT_EQ(row.store, "cold");
    EXPECT_TRUE(std::filesystem::exists(dir / "store" / row.path)) << row.path;
  }
  // An output holds one node's seqs (each node's seqs come in blocks of a million, which WAL
  // replay must not find inside another node's segment's range), and no two segments of a
  // partition overlap in seqs.
  for (const auto& x : *after) {
    EXPECT_LT(x.max_seq - x.min_seq, 1'000'000u)
        << "segment " << x.id << " spans seqs of several nodes: " << x.min_seq << ".." << x.max_seq;
  }
  for (const auto& x : *after) {
    for (const auto& y : *after) {
      if (x.id < y.id && x.tenant == y.tenant && x.partition == y.partition) {
        EXPECT_TRUE(x.max_seq < y.min_seq || y.max_seq < x.min_seq)
            << "segments " << x.id << " and " << y.id << " overlap in seqs";
      }
    }
  }
  for (auto& node : nodes) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    std::set<uint64_t> view;
    auto snapshot = node->engine->GetSnapshot("default");
    for (const auto& h : snapshot->segments) view.insert(h.info.id);
    EXPECT_EQ(view, catalog_ids) << "the view of " << node->id;
    auto r = Search(node.get(), "* | count");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(CountOf(*r), total) << "on " << node->id;
  }
  // The inputs' objects are still there (another node may read them) until the sweep.
  std::vector<std::string> retired;
  for (const std::string& path : inputs) {
    if (named.count(path) == 0) retired.push_back(path);
  }
  ASSERT_FALSE(retired.empty());
  for (const std::string& path : retired) {
    EXPECT_TRUE(std::filesystem::exists(dir / "store" / path))
        << path << " deleted before the sweep";
  }
  ASSERT_TRUE(nodes[0]->cluster->SweepSegmentsNow().ok());  // notes them (grace 0: deletes)
  for (const std::string& path : retired) {
    EXPECT_FALSE(std::filesystem::exists(dir / "store" / path)) << path << " not swept";
  }
  for (const std::string& path : named) {
    EXPECT_TRUE(std::filesystem::exists(dir / "store" / path)) << path << " named, yet deleted";
  }
  for (auto& node : nodes) {
    auto r = Search(node.get(), "* | count");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(CountOf(*r), total) << "on " << node->id << " after the sweep";
  }
  // The background tier round: a new hot segment goes warm (cold_after is due as well, but a
  // cluster node has no cold tier), and every node counts its lines once.
  std::vector<Record> more;
  for (int i = 0; i < 30; ++i) more.push_back(Line(1, 10'000 + i));
  ASSERT_TRUE(nodes[1]->engine->Append("default", &more).ok());
  ASSERT_TRUE(nodes[1]->engine->Flush().ok());
  total += 30;
  WaitConfirmed(nodes);
  ASSERT_TRUE(nodes[1]->engine->RunTiersNow().ok());
  auto tiered = catalog->List();
  ASSERT_TRUE(tiered.ok());
  for (const auto& row : *tiered) EXPECT_EQ(row.tier, "warm") << "segment " << row.id;
  for (auto& node : nodes) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    auto r = Search(node.get(), "* | count");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(CountOf(*r), total) << "on " << node->id << " after the tier round";
  }
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// Retention of shared segments (docs/cluster.md "Retention of shared segments"): three nodes
// each flush lines received 3 days ago (expired under a 1-day retention), 5 days ago (expired,
// but under a hold) and now, and hold more in memtables. The retention round runs on the node
// holding the "retention" lease only; it deletes every node's expired segments, whose objects
// leave the store, and keeps the held ones. Every node's answer then drops exactly the expired
// lines, also node c, whose view still names the deleted segments (not refreshed since): it
// skips them without calling its answer partial, reading the retention record once per query
// (not once per segment or block it finds gone).
TEST(SegmentView, RetentionOnTheLeaseHolderDeletesExpiredSharedSegmentsForEveryNode) {
  const auto dir = TestDir();
  LosingCatalog* c_catalog = nullptr;  // node c's, to count its calls (it loses nothing)
  auto cluster =
      std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond, LoseOn("node-c", &c_catalog));
  ASSERT_TRUE(cluster->ok());
  auto& nodes = cluster->nodes();
  const int64_t now = Clock::Real()->NowNanos();
  const int64_t day = 86400 * kNanosPerSecond;
  constexpr int kLines = 30, kInMemtables = 10;
  // Node w's lines of one kind: the kind is the host, received at "at".
  auto lines = [](int w, const std::string& kind, int64_t at, int n) {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i) {
      Record r = Line(w, i);
      r.host = kind;
      r.message = "w" + std::to_string(w) + " " + kind + " " + std::to_string(i);
      r.ts = at;
      r.ingest_ts = at;
      batch.push_back(std::move(r));
    }
    return batch;
  };
  const std::vector<std::pair<std::string, int64_t>> kinds = {
      {"expired", now - 3 * day}, {"held", now - 5 * day}, {"fresh", now}};
  for (int w = 0; w < 3; ++w) {
    for (const auto& [kind, at] : kinds) {
      auto batch = lines(w, kind, at, kLines);
      ASSERT_TRUE(nodes[w]->engine->Append("default", &batch).ok());
      ASSERT_TRUE(nodes[w]->engine->Flush().ok());  // each kind in segments of its own
    }
    auto batch = lines(w, "memtable", now, kInMemtables);
    ASSERT_TRUE(nodes[w]->engine->Append("default", &batch).ok());
  }
  for (auto& node : nodes) ASSERT_TRUE(node->refresh->RefreshNow().ok());
  // The segments that must go: every node's expired ones.
  std::set<uint64_t> expired;
  std::map<uint64_t, std::string> objects;
  {
    auto rows = nodes[0]->engine->catalog()->List();
    ASSERT_TRUE(rows.ok());
    for (const catalog::SegmentRow& row : *rows) {
      objects[row.id] = row.path;
      if (row.max_ingest_ts == now - 3 * day) expired.insert(row.id);
    }
  }
  ASSERT_GE(expired.size(), 3u);  // at least one per node

  // Every node runs retention rounds gated by its lease; node a claims it first.
  std::vector<std::unique_ptr<JobLeases>> leases;
  std::vector<std::unique_ptr<storage::Retention>> retention;
  for (auto& node : nodes) {
    JobLeaseOptions lease_options;
    lease_options.holder = node->id + "#1";
    lease_options.background = false;
    leases.push_back(std::make_unique<JobLeases>(node->engine->catalog(), lease_options));
    storage::RetentionOptions options;
    options.engine = node->engine.get();
    options.config.defaults.retention_ns = day;
    options.interval_ns = 0;  // rounds by hand, below
    auto started = storage::Retention::Start(std::move(options));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    retention.push_back(std::move(*started));
  }
  ASSERT_TRUE(leases[0]->Claim("retention"));
  storage::HoldRequest hold;
  hold.tenant = "default";
  hold.from_ns = now - 5 * day - 3600 * kNanosPerSecond;
  hold.to_ns = now - 5 * day + 3600 * kNanosPerSecond;
  hold.reason = "INC-1";
  ASSERT_TRUE(retention[1]->AddHold(hold, "test").ok());  // any node records it
  int rounds = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!leases[i]->Claim("retention")) continue;
    ++rounds;
    EXPECT_EQ(i, 0u) << "node " << nodes[i]->id << " ran retention without the lease";
    auto report = retention[i]->RunOnce();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->deleted_segments, expired.size());
    EXPECT_EQ(report->deleted_rows, 3u * kLines);
    EXPECT_FALSE(report->held.empty()) << "the held segments were not even considered";
    for (const std::string& e : report->errors) ADD_FAILURE() << e;
  }
  EXPECT_EQ(rounds, 1);

  // Gone from the catalog and from the store; every other segment is still in both.
  {
    auto rows = nodes[1]->engine->catalog()->List();
    ASSERT_TRUE(rows.ok());
    std::set<uint64_t> left;
    for (const catalog::SegmentRow& row : *rows) left.insert(row.id);
    for (const auto& [id, path] : objects) {
      const bool exists = std::filesystem::exists(dir / "store" / path);
      if (expired.count(id) > 0) {
        EXPECT_EQ(left.count(id), 0u) << "segment " << id << " is still registered";
        EXPECT_FALSE(exists) << path << " of a deleted segment is still in the store";
      } else {
        EXPECT_EQ(left.count(id), 1u) << "segment " << id << " was deleted";
        EXPECT_TRUE(exists) << path << " of a kept segment left the store";
      }
    }
  }

  // Nodes a and b refresh; node c's view still names the deleted segments.
  ASSERT_TRUE(nodes[0]->refresh->RefreshNow().ok());
  ASSERT_TRUE(nodes[1]->refresh->RefreshNow().ok());
  {
    auto stale = nodes[2]->engine->GetSnapshot("default");
    size_t named = 0;
    for (const auto& h : stale->segments) named += expired.count(h.info.id);
    ASSERT_GT(named, 0u) << "node c's view is not stale: the test shows nothing";
  }
  const std::map<std::string, int64_t> want = {
      {"held", 3 * kLines}, {"fresh", 3 * kLines}, {"memtable", 3 * kInMemtables}};
  ASSERT_NE(c_catalog, nullptr);
  for (auto& node : nodes) {
    const int record_reads = c_catalog->calls("ListRetiredSegments");
    auto by_host = Search(node.get(), "* | count by host");
    ASSERT_TRUE(by_host.ok()) << by_host.status().ToString();
    EXPECT_FALSE(by_host->partial)
        << "on " << node->id << ": " << (by_host->warnings.empty() ? "" : by_host->warnings[0]);
    std::map<std::string, int64_t> got;
    for (const auto& row : by_host->rows) {
      got[std::get<std::string>(row.front().second)] = std::get<int64_t>(row.back().second);
    }
    EXPECT_EQ(got, want) << "on " << node->id;
    auto hits = Search(node.get(), "host=held OR host=expired", 10000);
    ASSERT_TRUE(hits.ok());
    EXPECT_FALSE(hits->partial) << "on " << node->id << ": "
                                << (hits->warnings.empty() ? "" : hits->warnings[0]);
    EXPECT_EQ(hits->hits.size(), static_cast<size_t>(3 * kLines)) << "on " << node->id;
    if (node->id == "node-c") {
      EXPECT_LE(c_catalog->calls("ListRetiredSegments") - record_reads, 2)
          << "node c read the retention record more than once per query";
    }
  }
  retention.clear();
  leases.clear();
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// ---- Outcomes lost after the commit (docs/cluster.md "Fenced flush", "Compaction and tier
// moves on cluster nodes"): node a's or b's engine catalog loses an answer after the commit and
// cannot read the outcome back for a while ----

// Two nodes on a real catalog whose node a loses answers on request: a flushes "first" (40
// lines), then "second" (40 lines), whose registration commits but whose answer is lost, so a
// does not know the outcome (for longer than query_timeout: shared_settle_ns is 0). "lost" is
// that segment's id. Fails the calling test (check HasFailure) when any step does. Its
// node_timeout is kLostFlushNodeTimeout: a node that left or was fenced has its segments merged
// that long (query_timeout being 0) after it went. The cluster is closed and its directory
// removed when this goes.
constexpr int64_t kLostFlushNodeTimeout = 4 * kNanosPerSecond;
struct TwoNodesWithALostFlush {
  TwoNodesWithALostFlush() {
    cluster = std::make_unique<Cluster>(
        dir, 2, 600 * kNanosPerSecond,
        [this](storage::EngineOptions* o) {
          o->shared_settle_ns = 0;
          o->compaction_min_inputs = 2;
          LoseOn("node-a", &losing)(o);
        },
        /*refresh_batch=*/10000, /*orphan_grace_ns=*/3600 * kNanosPerSecond, kLostFlushNodeTimeout);
    if (!cluster->ok() || losing == nullptr) {
      ADD_FAILURE() << "the cluster did not start";
      return;
    }
    a = cluster->nodes()[0].get();
    b = cluster->nodes()[1].get();
    catalog = b->engine->catalog();
    auto first = OneKeyLines("first", 40);
    EXPECT_TRUE(a->engine->Append("default", &first).ok());
    EXPECT_TRUE(a->engine->Flush().ok());
    auto second = OneKeyLines("second", 40);
    EXPECT_TRUE(a->engine->Append("default", &second).ok());
    losing->LoseNextRegistration();
    EXPECT_FALSE(a->engine->Flush().ok()) << "the outcome was known after all";
    lost = losing->lost_id();
    if (lost == 0) ADD_FAILURE() << "no registration was lost";
  }
  ~TwoNodesWithALostFlush() {
    cluster.reset();  // closed before its directory goes
    std::filesystem::remove_all(dir);
  }

  const std::filesystem::path dir = TestDir();
  LosingCatalog* losing = nullptr;
  uint64_t lost = 0;
  std::unique_ptr<Cluster> cluster;
  Node* a = nullptr;
  Node* b = nullptr;
  catalog::Catalog* catalog = nullptr;  // b's engine catalog
};

// Node a's second flush registered its segment, the answer was lost, and a cannot learn the
// outcome (for longer than query_timeout: shared_settle_ns is 0 here). It keeps the memtable,
// its answers hold the lines, and other nodes' cuts leave the segment out. Node b must not
// merge that segment meanwhile: its output has no origin, so every query would count the lines
// from the output and from a's memtable. Once a learns the outcome it publishes the segment and
// its heartbeat confirms it; b merges then. Each node counts every line once throughout.
TEST(SegmentView, AFlushWhoseOutcomeIsUnknownIsNotMergedUntilItsNodeConfirmsIt) {
  TwoNodesWithALostFlush two;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Node* a = two.a;
  Node* b = two.b;
  auto lost_row = two.catalog->Get(two.lost);
  ASSERT_TRUE(lost_row.ok() && lost_row->has_value()) << "the lost registration did not commit";
  ASSERT_EQ(CatalogIds(two.catalog).size(), 2u);

  // b knows both segments and a's heartbeats go on (every 200 ms); b's rounds merge nothing.
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    b->engine->CompactNow().IgnoreError();
  }
  EXPECT_EQ(b->engine->stats().compactions, 0u)
      << "b merged a segment whose node does not know yet that it is registered";
  for (Node* node : {a, b}) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    auto r = Search(node, "* | count");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->partial) << "on " << node->id;
    EXPECT_EQ(CountOf(*r), 80) << "on " << node->id << " (lines counted twice?)";
  }

  // a learns the outcome: registered. It publishes the segment, confirms it, and b merges.
  two.losing->Restore();
  ASSERT_TRUE(a->engine->Flush().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (b->engine->stats().compactions == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(b->refresh->RefreshNow().ok());
    b->engine->CompactNow().IgnoreError();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(b->engine->stats().compactions, 1u) << "the confirmed segments were never merged";
  EXPECT_EQ(CatalogIds(two.catalog).size(), 1u);
  for (Node* node : {a, b}) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    EXPECT_EQ(ViewIds(node), CatalogIds(two.catalog)) << "the view of " << node->id;
    auto r = Search(node, "* | count");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->partial) << "on " << node->id;
    EXPECT_EQ(CountOf(*r), 80) << "on " << node->id;
  }
}

// The same lost answer, but the segment is retired before node a learns the outcome: a's row
// is gone (a clean stop removes it first; a node without a row holds no memtables for anyone
// else), so node b merges it. When a learns that the registration committed, the segment is
// no longer registered: a drops the memtable as flushed (its lines are in b's output) and does
// not publish the segment next to the output. Every line is then in exactly one registered
// segment, no WAL object is left, and a's answers count each line once.
TEST(SegmentView, AFlushWhoseOutcomeTurnsOutRegisteredButRetiredIsNotPublished) {
  TwoNodesWithALostFlush two;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Node* a = two.a;
  Node* b = two.b;

  a->cluster->registry()->Stop(/*remove=*/true);
  ASSERT_TRUE(b->cluster->registry()->Beat().ok());  // b no longer asks a
  // b merges a's segments once no query that asked a can still run (query_timeout, 0 here, and
  // node_timeout after a left).
  ASSERT_TRUE(MergedWithin(b, std::chrono::seconds(20)));
  const std::set<uint64_t> merged = CatalogIds(two.catalog);
  ASSERT_EQ(merged.size(), 1u);
  ASSERT_EQ(merged.count(two.lost), 0u);
  // a's view sees the swap before a learns the outcome (its own segment's removal included).
  ASSERT_TRUE(a->refresh->RefreshNow().ok());

  two.losing->Restore();
  ASSERT_TRUE(a->engine->Flush().ok());
  ASSERT_TRUE(a->refresh->RefreshNow().ok());
  EXPECT_EQ(ViewIds(a), merged) << "a published a segment that was retired";
  auto snapshot = a->engine->GetSnapshot("default");
  for (const auto& m : snapshot->memtables) EXPECT_TRUE(m.chunks.empty()) << "a memtable kept";
  snapshot.reset();
  for (Node* node : {a, b}) {
    auto r = Search(node, "* | count");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    // a, long past its drain, is under its own memtable fence (its heartbeats stopped) and may
    // say its answer is partial; b's is whole.
    if (node == b) {
      EXPECT_FALSE(r->partial) << "on " << node->id;
    }
    EXPECT_EQ(CountOf(*r), 80) << "on " << node->id << " (lines counted twice?)";
    auto hits = Search(node, "*", 1000);
    ASSERT_TRUE(hits.ok());
    std::set<std::string> seen;
    for (const Record& hit : hits->hits) {
      EXPECT_TRUE(seen.insert(hit.message).second) << hit.message << " twice on " << node->id;
    }
    EXPECT_EQ(seen.size(), 80u) << "on " << node->id;
  }
  // Nothing of a's is left to replay: every WAL object went with its lines' segment.
  size_t wal_objects = 0;
  if (std::filesystem::exists(two.dir / "store" / "wal")) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(two.dir / "store" / "wal")) {
      wal_objects += e.is_regular_file() ? 1 : 0;
    }
  }
  EXPECT_EQ(wal_objects, 0u);
}

// ---- Nodes that answer nobody any more (docs/cluster.md "Compaction and tier moves on
// cluster nodes"): a node that left cleanly or was fenced out while dead has the segments it
// never confirmed merged only once no query that asked it can still run ----

// The node_gone row of "id" in "catalog", gone_ns 0 when there is none.
int64_t GoneAt(catalog::Catalog* catalog, const std::string& id) {
  auto gone = catalog->ListGoneNodes();
  EXPECT_TRUE(gone.ok()) << gone.status().ToString();
  if (!gone.ok()) return 0;
  for (const catalog::GoneNodeRow& row : *gone) {
    if (row.id == id) return row.gone_ns;
  }
  return 0;
}

// Every line once on "node": the count, and the 80 messages each once.
void ExpectEveryLineOnce(Node* node, const std::string& when) {
  auto r = Search(node, "* | count");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(CountOf(*r), 80) << "on " << node->id << " " << when;
  auto hits = Search(node, "*", 1000);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  std::set<std::string> seen;
  for (const Record& hit : hits->hits) {
    EXPECT_TRUE(seen.insert(hit.message).second)
        << hit.message << " twice on " << node->id << " " << when;
  }
  EXPECT_EQ(seen.size(), 80u) << "on " << node->id << " " << when;
}

// Node a's second flush registered its segment and lost the answer, and then a dies: no more
// heartbeats, while its process (paused, say) still holds that memtable and so never confirms
// the segment. Node b must not merge a's segments while that process could wake and answer
// from the memtable (the output, having no origin, would be counted beside it), and must merge
// them once it cannot: b's takeover round fences a (dead past node_timeout, every WAL object
// flushed, a segment held back), and query_timeout (0 here) + node_timeout later b merges.
// a, woken, is refused: its heartbeat, its memtables in its own answers. Every line is counted
// once on both nodes throughout. On the build before, a dead node's segments were merged only
// once its row was removed: never, here.
TEST(SegmentView, ADeadNodesUnconfirmedSegmentsAreMergedOnceItIsFencedOutAndNotBefore) {
  TwoNodesWithALostFlush two;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Node* a = two.a;
  Node* b = two.b;

  a->cluster->registry()->Stop(/*remove=*/false);  // a dies; its process and memtable stay
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  int rounds = 0;
  while (b->engine->stats().compactions == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(b->refresh->RefreshNow().ok());
    b->engine->CompactNow().IgnoreError();
    if (b->engine->stats().compactions > 0) {
      // Merged: only after the fence, and query_timeout + node_timeout after it.
      const int64_t now = Clock::Real()->NowNanos();
      const int64_t gone = GoneAt(two.catalog, "node-a");
      ASSERT_GT(gone, 0) << "b merged a's segments before a was fenced";
      EXPECT_GE(now, gone + kLostFlushNodeTimeout) << "b merged a's segments too early";
    }
    if (++rounds % 10 == 0) ExpectEveryLineOnce(b, "while a is dead");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(b->engine->stats().compactions, 1u) << "a's segments were never merged";
  EXPECT_EQ(CatalogIds(two.catalog).size(), 1u);
  EXPECT_EQ(CatalogIds(two.catalog).count(two.lost), 0u);

  // a wakes: the catalog refuses its heartbeat (a later incarnation of its id, the fence), so it
  // is dead to b and does not answer for its memtables, not even in its own queries.
  Status beat = a->cluster->registry()->Beat();
  EXPECT_EQ(beat.code(), StatusCode::kFailedPrecondition) << beat.ToString();
  // ... and its takeover rounds (every heartbeat interval, with no heartbeat of its own for
  // longer than node_timeout) have learnt that it was fenced: it takes no more writes.
  auto more = OneKeyLines("after the fence", 1);
  Status append = a->engine->Append("default", &more);
  EXPECT_EQ(append.code(), StatusCode::kUnavailable) << "the fenced a still takes writes";
  ASSERT_TRUE(b->cluster->registry()->Beat().ok());
  EXPECT_TRUE(b->cluster->registry()->Peers().empty()) << "b still asks the fenced a";
  ASSERT_TRUE(a->refresh->RefreshNow().ok());
  EXPECT_EQ(ViewIds(a), CatalogIds(two.catalog)) << "the view of node-a";
  for (Node* node : {a, b}) ExpectEveryLineOnce(node, "after the merge");
}

// Node a's second flush registered its segment and lost the answer; then a stops cleanly: its
// row goes first and it drains, still holding that memtable. A query a coordinates meanwhile
// (or one on b that asked a from a live list not yet refreshed) holds the lines from a's
// memtable and leaves the segment out; b must not merge it then, or the output is counted too.
// b merges query_timeout (0) + node_timeout after a left. On the build before, b merged at once
// and a's query counted 120 of 80 lines.
TEST(SegmentView, ACleanlyStoppedNodesUnconfirmedSegmentIsNotMergedWhileItDrains) {
  TwoNodesWithALostFlush two;
  ASSERT_FALSE(::testing::Test::HasFailure());
  Node* a = two.a;
  Node* b = two.b;

  const int64_t left = Clock::Real()->NowNanos();
  a->cluster->registry()->Stop(/*remove=*/true);  // a clean stop's first step
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  b->engine->CompactNow().IgnoreError();
  EXPECT_EQ(b->engine->stats().compactions, 0u) << "b merged a segment a may still answer for";
  ASSERT_TRUE(a->refresh->RefreshNow().ok());
  {
    auto r = Search(a, "* | count");  // a query a coordinates in its drain
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountOf(*r), 80) << "on node-a while it drains (lines counted twice?)";
  }
  ExpectEveryLineOnce(b, "while a drains");

  ASSERT_TRUE(MergedWithin(b, std::chrono::seconds(20))) << "a's segments were never merged";
  EXPECT_GE(Clock::Real()->NowNanos(), left + kLostFlushNodeTimeout) << "merged too early";
  ExpectEveryLineOnce(b, "after the merge");
}

// Node b's swap (a compaction, or a warm move) commits, its answer is lost, and b cannot read
// the outcome back; meanwhile b's view refreshed past the swap's changes, which it leaves to
// the swap while the output is pending. The swap then gives up, the output's object kept. b's
// view must still come to show the output and not the inputs (a full listing of the catalog):
// once the orphan sweep deletes the inputs' objects, a view still naming them would answer
// with their lines missing.
void SwapWhoseOutcomeIsUnknown(bool warm) {
  const auto dir = TestDir();
  LosingCatalog* losing = nullptr;
  auto cluster = std::make_unique<Cluster>(
      dir, 2, 600 * kNanosPerSecond,
      [&](storage::EngineOptions* o) {
        o->shared_settle_ns = 0;
        o->compaction_min_inputs = 2;
        LoseOn("node-b", &losing)(o);
      },
      /*refresh_batch=*/10000, /*orphan_grace_ns=*/0);
  ASSERT_TRUE(cluster->ok());
  ASSERT_NE(losing, nullptr);
  Node* a = cluster->nodes()[0].get();
  Node* b = cluster->nodes()[1].get();
  for (const char* prefix : {"first", "second"}) {
    auto lines = OneKeyLines(prefix, 40);
    ASSERT_TRUE(a->engine->Append("default", &lines).ok());
    ASSERT_TRUE(a->engine->Flush().ok());
  }
  WaitConfirmed(cluster->nodes());
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  ASSERT_EQ(ViewIds(b).size(), 2u);

  losing->LoseNextSwap([b] { EXPECT_TRUE(b->refresh->RefreshNow().ok()); });
  if (warm) {
    auto moved = b->engine->MoveTiers(0, "warm");
    EXPECT_TRUE(!moved.ok() || moved->failed > 0) << "the swap's outcome was known after all";
  } else {
    EXPECT_FALSE(b->engine->CompactNow().ok()) << "the swap's outcome was known after all";
  }
  const uint64_t output = losing->lost_id();
  ASSERT_NE(output, 0u);
  catalog::Catalog* catalog = a->engine->catalog();
  const std::set<uint64_t> now = CatalogIds(catalog);
  ASSERT_EQ(now.count(output), 1u) << "the lost swap did not commit";

  losing->Restore();
  ASSERT_TRUE(b->refresh->RefreshNow().ok());
  EXPECT_EQ(ViewIds(b), now) << "b's view after the swap whose answer was lost";
  ASSERT_TRUE(a->cluster->SweepSegmentsNow().ok());  // grace 0: the inputs' objects go
  for (Node* node : {a, b}) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    auto r = Search(node, "* | count");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->partial) << "on " << node->id << ": "
                             << (r->warnings.empty() ? "" : r->warnings[0]);
    EXPECT_EQ(CountOf(*r), 80) << "on " << node->id;
  }
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

TEST(SegmentView, ACompactionWhoseSwapCommittedUnseenLeavesTheViewWhole) {
  SwapWhoseOutcomeIsUnknown(/*warm=*/false);
}

TEST(SegmentView, AWarmMoveWhoseSwapCommittedUnseenLeavesTheViewWhole) {
  SwapWhoseOutcomeIsUnknown(/*warm=*/true);
}

// ---- Compaction claimed per partition (docs/cluster.md "Job leases as built") ----

// Wraps the engine catalog of node "node" with a OnceBeforeCatalog, set in "*out".
std::function<void(storage::EngineOptions*)> HookOn(const std::string& node,
                                                    catalog::OnceBeforeCatalog** out) {
  return [node, out](storage::EngineOptions* o) {
    o->shared_settle_ns = 0;  // no query outlives the test's flushes here
    o->compaction_min_inputs = 2;
    if (std::filesystem::path(o->data_dir).filename() != node) return;
    o->wrap_catalog = [out](std::unique_ptr<catalog::Catalog> real) {
      auto hooked = std::make_unique<catalog::OnceBeforeCatalog>(std::move(real));
      *out = hooked.get();
      return std::unique_ptr<catalog::Catalog>(std::move(hooked));
    };
  };
}

// Node a ingests lines of every partition in four flushes (four segments per partition), and
// every node's view holds them, confirmed: what each returns is the number of lines.
int64_t FourFlushesOfEveryPartition(std::vector<std::unique_ptr<Node>>& nodes) {
  int64_t total = 0;
  for (int flush = 0; flush < 4; ++flush) {
    std::vector<Record> batch;
    for (int i = 0; i < 120; ++i) batch.push_back(Line(i % 8, flush * 120 + i));
    EXPECT_TRUE(nodes[0]->engine->Append("default", &batch).ok());
    total += 120;
    EXPECT_TRUE(nodes[0]->engine->Flush().ok());
  }
  for (auto& node : nodes) EXPECT_TRUE(node->refresh->RefreshNow().ok());
  WaitConfirmed(nodes);
  return total;
}

// A JobLeases for each node (holder "<id>#1"), on "clock", claiming for "ttl_ns", with no
// background renewal: the test claims and lets them lapse by hand.
template <class Nodes>
std::vector<std::unique_ptr<JobLeases>> HandHeldLeases(const Nodes& nodes, Clock* clock,
                                                       int64_t ttl_ns) {
  std::vector<std::unique_ptr<JobLeases>> leases;
  for (auto& node : nodes) {
    JobLeaseOptions lease_options;
    lease_options.holder = node->id + "#1";
    lease_options.ttl_ns = ttl_ns;
    lease_options.clock = clock;
    lease_options.background = false;
    leases.push_back(std::make_unique<JobLeases>(node->engine->catalog(), lease_options));
  }
  return leases;
}

// The partitions of the segments the catalog names, by id.
std::map<uint64_t, uint32_t> PartitionsById(catalog::Catalog* catalog) {
  std::map<uint64_t, uint32_t> out;
  auto rows = catalog->List();
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok()) {
    for (const auto& row : *rows) out[row.id] = row.partition;
  }
  return out;
}

// The partitions of the segments "before" names and "after" does not.
std::set<uint32_t> MergedPartitions(const std::map<uint64_t, uint32_t>& before,
                                    const std::map<uint64_t, uint32_t>& after) {
  std::set<uint32_t> out;
  for (const auto& [id, partition] : before) {
    if (after.count(id) == 0) out.insert(partition);
  }
  return out;
}

// The segment objects in the shared store (a directory).
std::set<std::string> SegmentObjects(const std::filesystem::path& store) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(store)) {
    if (e.is_regular_file() && e.path().extension() == ".seg") out.insert(e.path().string());
  }
  return out;
}

// Every node counts "total" lines, not partial.
void EveryNodeCounts(std::vector<std::unique_ptr<Node>>& nodes, int64_t total) {
  for (auto& node : nodes) {
    ASSERT_TRUE(node->refresh->RefreshNow().ok());
    auto r = Search(node.get(), "* | count");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->partial) << "on " << node->id << ": "
                             << (r->warnings.empty() ? "" : r->warnings[0]);
    EXPECT_EQ(CountOf(*r), total) << "on " << node->id;
  }
}

// While node a merges one partition (its output written, paused just before its swap, holding
// the partition's lease), node b runs a whole compaction round of its own: it passes a's
// partition over (its first choice too: the same candidates) and merges another one, at the
// same time; then a's swap commits. Each partition is merged once, by one node, and every node
// counts every line once.
TEST(SegmentView, TwoNodesCompactDifferentPartitionsAtOnceAndNeverTheSameOne) {
  const auto dir = TestDir();
  catalog::OnceBeforeCatalog* a_catalog = nullptr;
  auto cluster =
      std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond, HookOn("node-a", &a_catalog));
  ASSERT_TRUE(cluster->ok());
  ASSERT_NE(a_catalog, nullptr);
  auto& nodes = cluster->nodes();
  const int64_t total = FourFlushesOfEveryPartition(nodes);
  catalog::Catalog* catalog = nodes[2]->engine->catalog();
  const std::map<uint64_t, uint32_t> before = PartitionsById(catalog);
  std::map<uint32_t, int> per_partition;
  for (const auto& [id, partition] : before) ++per_partition[partition];
  std::set<std::string> slots;
  for (const auto& [partition, n] : per_partition) {
    EXPECT_EQ(n, 4) << "partition " << partition;
    slots.insert(storage::PartitionJobLease("compaction", "default", partition));
  }
  ASSERT_GE(slots.size(), 2u) << "the test needs partitions of two lease slots";

  std::vector<std::unique_ptr<JobLeases>> leases;
  for (auto& node : nodes) {
    JobLeaseOptions lease_options;
    lease_options.holder = node->id + "#1";
    leases.push_back(std::make_unique<JobLeases>(node->engine->catalog(), lease_options));
  }
  std::set<uint32_t> merged_by_b;
  std::vector<std::string> held_by_a;
  Status b_status;
  a_catalog->Once("Replace", [&] {
    // a's swap is next; a holds its partition's lease. b's round runs now, on its own thread.
    auto all = catalog->ListLeases();
    ASSERT_TRUE(all.ok());
    for (const catalog::LeaseRow& l : *all) {
      if (l.holder == "node-a#1") held_by_a.push_back(l.name);
    }
    std::thread b([&] {
      storage::JobRound round("compaction", storage::JobRound::kPerPartition, leases[1].get());
      const auto b_before = PartitionsById(catalog);
      b_status = nodes[1]->engine->CompactNow();
      merged_by_b = MergedPartitions(b_before, PartitionsById(catalog));
    });
    b.join();
  });
  Status a_status;
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition, leases[0].get());
    a_status = nodes[0]->engine->CompactNow();
  }
  ASSERT_TRUE(a_status.ok()) << a_status.ToString();
  ASSERT_TRUE(b_status.ok()) << b_status.ToString();
  const std::map<uint64_t, uint32_t> after = PartitionsById(catalog);
  const std::set<uint32_t> merged = MergedPartitions(before, after);
  // a merged its first choice, the first partition (all have four candidates); b another.
  ASSERT_EQ(held_by_a.size(), 1u);
  const uint32_t first = per_partition.begin()->first;
  EXPECT_EQ(held_by_a[0], storage::PartitionJobLease("compaction", "default", first));
  ASSERT_EQ(merged_by_b.size(), 1u) << "b merged nothing while a held its partition";
  const uint32_t by_b = *merged_by_b.begin();
  EXPECT_NE(storage::PartitionJobLease("compaction", "default", by_b), held_by_a[0]);
  EXPECT_EQ(merged, (std::set<uint32_t>{first, by_b}));
  // One output per merged partition, in place of its four inputs.
  std::map<uint32_t, int> now;
  for (const auto& [id, partition] : after) ++now[partition];
  for (const auto& [partition, n] : per_partition) {
    EXPECT_EQ(now[partition], merged.count(partition) > 0 ? 1 : 4) << "partition " << partition;
  }
  // The leases were given up when the rounds ended.
  auto all = catalog->ListLeases();
  ASSERT_TRUE(all.ok());
  for (const catalog::LeaseRow& l : *all) EXPECT_EQ(l.holder, "") << l.name;
  EveryNodeCounts(nodes, total);
  for (auto& l : leases) l->Stop(/*release=*/true);
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// Node a's lease on the partition it merges is taken by node b after a's check and before a's
// swap (a stalled past the ttl from b's point of view: the check leaves a commit half a ttl, and
// a slow commit may take longer): the catalog refuses a's swap in the swap's own transaction,
// a's output is deleted, and b, holding the lease, merges the partition itself. On the build
// before (the lease checked only before the swap), a's swap committed under b's lease.
TEST(SegmentView, ASwapOfANodeWhoseLeaseWasTakenIsRefusedInItsTransaction) {
  const auto dir = TestDir();
  catalog::OnceBeforeCatalog* a_catalog = nullptr;
  auto cluster =
      std::make_unique<Cluster>(dir, 2, 600 * kNanosPerSecond, HookOn("node-a", &a_catalog));
  ASSERT_TRUE(cluster->ok());
  ASSERT_NE(a_catalog, nullptr);
  auto& nodes = cluster->nodes();
  const int64_t total = FourFlushesOfEveryPartition(nodes);
  catalog::Catalog* catalog = nodes[1]->engine->catalog();
  const std::map<uint64_t, uint32_t> before = PartitionsById(catalog);
  ManualClock lease_clock(1'000 * kNanosPerSecond);
  constexpr int64_t kTtl = 30 * kNanosPerSecond;
  std::vector<std::unique_ptr<JobLeases>> leases = HandHeldLeases(nodes, &lease_clock, kTtl);
  std::string taken;
  a_catalog->Once("Replace", [&] {
    auto all = catalog->ListLeases();
    ASSERT_TRUE(all.ok());
    for (const catalog::LeaseRow& l : *all) {
      if (l.holder == "node-a#1") taken = l.name;
    }
    lease_clock.Advance(kTtl + kNanosPerSecond);
    EXPECT_EQ(leases[1]->ClaimSome({taken}, 1), (std::vector<std::string>{taken}));
  });
  const std::set<std::string> objects_before = SegmentObjects(dir / "store");
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition, leases[0].get());
    Status s = nodes[0]->engine->CompactNow();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("is held by node-b#1"), std::string::npos) << s.ToString();
  }
  ASSERT_FALSE(taken.empty());
  EXPECT_EQ(PartitionsById(catalog), before) << "a's swap committed";
  // a's output is gone from the store: nothing was added.
  EXPECT_EQ(SegmentObjects(dir / "store"), objects_before);
  EveryNodeCounts(nodes, total);
  // b, holding the lease, merges that partition.
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition, leases[1].get());
    ASSERT_TRUE(nodes[1]->engine->CompactNow().ok());
  }
  const std::set<uint32_t> merged = MergedPartitions(before, PartitionsById(catalog));
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(storage::PartitionJobLease("compaction", "default", *merged.begin()), taken);
  EveryNodeCounts(nodes, total);
  for (auto& l : leases) l->Stop(/*release=*/true);
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// A compaction round runs every 2 s on every node; one with nothing it could merge (no partition
// with enough small segments) reads nothing from the catalog. Before, every round read the nodes'
// confirmed numbers (ListNodes and ListGoneNodes) first, idle or not.
TEST(SegmentView, AnIdleCompactionRoundReadsNothingFromTheCatalog) {
  const auto dir = TestDir();
  LosingCatalog* a_catalog = nullptr;
  auto cluster =
      std::make_unique<Cluster>(dir, 2, 600 * kNanosPerSecond, [&](storage::EngineOptions* o) {
        o->shared_settle_ns = 0;
        o->compaction_min_inputs = 2;
        LoseOn("node-a", &a_catalog)(o);
      });
  ASSERT_TRUE(cluster->ok());
  ASSERT_NE(a_catalog, nullptr);
  auto& nodes = cluster->nodes();
  auto reads = [&] { return a_catalog->calls("ListNodes") + a_catalog->calls("ListGoneNodes"); };
  // One segment per partition: nothing to merge.
  std::vector<Record> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(Line(i % 8, i));
  ASSERT_TRUE(nodes[0]->engine->Append("default", &batch).ok());
  ASSERT_TRUE(nodes[0]->engine->Flush().ok());
  const int before = reads();
  for (int round = 0; round < 10; ++round) ASSERT_TRUE(nodes[0]->engine->CompactNow().ok());
  EXPECT_EQ(reads(), before) << "idle rounds read the nodes' confirmed numbers";
  // With something to merge the round reads them (once per round) and merges.
  for (int flush = 0; flush < 3; ++flush) {
    batch.clear();
    for (int i = 0; i < 40; ++i) batch.push_back(Line(i % 8, 40 * (flush + 1) + i));
    ASSERT_TRUE(nodes[0]->engine->Append("default", &batch).ok());
    ASSERT_TRUE(nodes[0]->engine->Flush().ok());
  }
  WaitConfirmed(nodes);
  const int with_work = reads();
  ASSERT_TRUE(nodes[0]->engine->CompactNow().ok());
  EXPECT_EQ(reads(), with_work + 2);
  EXPECT_EQ(nodes[0]->engine->stats().compactions, 1u);
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// Node a's sweep passes its lease check and stalls; node b takes the lease (the ttl passed in
// its eyes). a's sweep is refused in the transaction that records what it deletes, and deletes
// nothing; b's sweep then deletes the orphan, and a registration naming it afterwards (an upload
// of a node stalled past the grace) is refused. On the build before, a's sweep deleted under b's
// lease (its last catalog read took no fence).
TEST(SegmentView, ASweepOfANodeWhoseLeaseWasTakenIsRefusedInItsTransaction) {
  const auto dir = TestDir();
  auto cluster = std::make_unique<Cluster>(dir, 2, 600 * kNanosPerSecond, nullptr, 10000,
                                           /*orphan_grace_ns=*/0);
  ASSERT_TRUE(cluster->ok());
  auto& nodes = cluster->nodes();
  const int64_t total = FourFlushesOfEveryPartition(nodes);
  catalog::Catalog* catalog = nodes[1]->engine->catalog();
  // An orphan beside the flushed segments: an object no row names (a compaction's output whose
  // node died before its swap).
  auto rows = catalog->List();
  ASSERT_TRUE(rows.ok() && !rows->empty());
  const std::string named_path = rows->front().path;
  const std::string orphan_path = named_path.substr(0, named_path.rfind('/') + 1) + "999999999.seg";
  std::string named_file;
  for (const std::string& f : SegmentObjects(dir / "store")) {
    if (f.ends_with("/" + named_path)) named_file = f;
  }
  ASSERT_FALSE(named_file.empty()) << named_path;
  const std::string orphan_file =
      named_file.substr(0, named_file.size() - named_path.size()) + orphan_path;
  std::filesystem::copy_file(named_file, orphan_file);
  const std::set<std::string> objects_before = SegmentObjects(dir / "store");

  ManualClock lease_clock(1'000 * kNanosPerSecond);
  constexpr int64_t kTtl = 30 * kNanosPerSecond;
  std::vector<std::unique_ptr<JobLeases>> leases = HandHeldLeases(nodes, &lease_clock, kTtl);
  JobLeases* sweeping = leases[0].get();
  bool taken = false;
  // As the server sets them, with a's check followed at once by b's takeover.
  storage::SetJobLeaseCheck([&](std::string_view job) {
    const bool held = sweeping->StillHeld(job);
    if (sweeping == leases[0].get()) {
      lease_clock.Advance(kTtl + kNanosPerSecond);
      taken = leases[1]->Claim(job);
    }
    return held;
  });
  storage::SetPartitionLeases([&]() -> storage::PartitionLeases* { return sweeping; });
  struct Unset {
    ~Unset() {
      storage::SetJobLeaseCheck(nullptr);
      storage::SetPartitionLeases(nullptr);
    }
  } unset;
  ASSERT_TRUE(leases[0]->Claim("segment_sweep"));
  {
    storage::JobRound round("segment_sweep");
    auto swept = nodes[0]->cluster->SweepSegmentsNow();
    EXPECT_TRUE(catalog::IsLeaseFenceRefusal(swept.status())) << swept.status().ToString();
    EXPECT_NE(swept.status().message().find("is held by node-b#1"), std::string::npos)
        << swept.status().ToString();
  }
  EXPECT_TRUE(taken);
  EXPECT_EQ(SegmentObjects(dir / "store"), objects_before) << "a swept under b's lease";

  // b, holding the lease, sweeps: the orphan goes, nothing the catalog names does.
  sweeping = leases[1].get();
  {
    storage::JobRound round("segment_sweep");
    auto swept = nodes[1]->cluster->SweepSegmentsNow();
    ASSERT_TRUE(swept.ok()) << swept.status().ToString();
    EXPECT_EQ(*swept, 1u);
  }
  std::set<std::string> want = objects_before;
  want.erase(orphan_file);
  EXPECT_EQ(SegmentObjects(dir / "store"), want);
  // An upload naming the swept object, registered late, is refused.
  catalog::SegmentRow late = rows->front();
  auto id = catalog->AllocateSegmentId();
  ASSERT_TRUE(id.ok());
  late.id = *id;
  late.path = orphan_path;
  Status s = catalog->Insert(late);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EveryNodeCounts(nodes, total);
  for (auto& l : leases) l->Stop(/*release=*/true);
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// ---- Context across nodes (docs/cluster.md "Context across nodes") ----

// Line k of the context tests: service "ctx", host "h2" for every third line and "h1" for the
// rest, taken in 1 ms after the one before it (ingest_ts as the pipeline stamps it).
Record ContextLine(int k) {
  Record r;
  r.service = "ctx";
  r.host = k % 3 == 2 ? "h2" : "h1";
  r.level = Level::kInfo;
  r.message = "ctx line " + std::to_string(k);
  r.ingest_ts = 1'800'000'000 * kNanosPerSecond + int64_t{k} * kNanosPerMilli;
  r.ts = r.ingest_ts;
  return r;
}

// Lines [from, to) as one batch.
std::vector<Record> ContextLines(int from, int to) {
  std::vector<Record> batch;
  for (int k = from; k < to; ++k) batch.push_back(ContextLine(k));
  return batch;
}

// The id of every line "engine" finds for service "ctx", by its message.
std::map<std::string, uint64_t> IdsByMessage(query::QueryEngine& engine) {
  std::map<std::string, uint64_t> out;
  auto all = SearchAllTime(engine, "service=ctx", 10000);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  if (all.ok()) {
    for (const Record& r : all->hits) out[r.message] = r.seq;
  }
  return out;
}

// A context as its messages, "before | hit | after".
std::string Shown(const query::ContextResponse& c) {
  std::string out;
  for (const Record& r : c.before) out += r.message + ", ";
  out += "| " + c.hit.message + " |";
  for (const Record& r : c.after) out += ", " + r.message;
  return out;
}

// Differential: the same lines, sent in the same order to three nodes (each batch to one of them,
// in turn) and to one server on its own; some flushed on every node, some on one node, the last
// in each node's memtables. The context of any line asked of any node is the one server's: the
// same lines before and after, in the same order. (Before the fan-out: a line in another node's
// memtables was "no record with id N", and the neighbours were the lines of the asked node's
// seq block, i.e. those sent to the same node.)
TEST(ClusterContext, ContextThroughEveryNodeIsTheOneServersContextOfTheSameLines) {
  const auto dir = TestDir();
  // The periodic refresh is rare: what finds other nodes' recent flushes is the catch-up.
  auto cluster = std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond);
  ASSERT_TRUE(cluster->ok());
  auto& nodes = cluster->nodes();
  storage::EngineOptions single_options;
  single_options.data_dir = (dir / "single").string();
  single_options.partitions = 4;
  single_options.background_threads = false;
  auto single = storage::Engine::Open(single_options);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  auto single_query = query::QueryEngine::Create(single->get(), query::QueryOptions{});

  constexpr int kBatch = 5, kBatchesPerRound = 12, kRounds = 3;
  int k = 0;
  for (int round = 0; round < kRounds; ++round) {
    for (int b = 0; b < kBatchesPerRound; ++b, k += kBatch) {
      auto to_node = ContextLines(k, k + kBatch);
      auto to_single = ContextLines(k, k + kBatch);
      ASSERT_TRUE(nodes[b % 3]->engine->Append("default", &to_node).ok());
      ASSERT_TRUE((*single)->Append("default", &to_single).ok());
    }
    // Round 0 flushed everywhere, round 1 on node a only, round 2 in memtables.
    if (round == 0) {
      for (auto& node : nodes) ASSERT_TRUE(node->engine->Flush().ok());
    }
    if (round == 1) {
      ASSERT_TRUE(nodes[0]->engine->Flush().ok());
    }
  }
  ASSERT_TRUE((*single)->Flush().ok());
  const int total = k;

  const auto single_ids = IdsByMessage(*single_query);
  ASSERT_EQ(single_ids.size(), static_cast<size_t>(total));
  int compared = 0;
  for (auto& node : nodes) {
    const auto ids = IdsByMessage(*node->query);
    ASSERT_EQ(ids.size(), static_cast<size_t>(total)) << "through " << node->id;
    for (int hit = 0; hit < total; hit += hit < 6 || hit >= total - 7 ? 1 : 7) {
      const std::string message = "ctx line " + std::to_string(hit);
      for (auto [before, after] : {std::pair<size_t, size_t>{4, 6}, {0, 3}, {1000, 1000}}) {
        auto want = single_query->Context("default", single_ids.at(message), before, after);
        ASSERT_TRUE(want.ok()) << want.status().ToString();
        auto got = node->query->Context("default", ids.at(message), before, after);
        ASSERT_TRUE(got.ok()) << message << " through " << node->id << ": "
                              << got.status().ToString();
        EXPECT_FALSE(got->partial) << got->warnings.size() << " warnings";
        EXPECT_EQ(Shown(*got), Shown(*want)) << message << " through " << node->id << ", " << before
                                             << " before and " << after << " after";
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 3 * 3 * 20);
  single_query.reset();
  EXPECT_TRUE((*single)->Close().ok());
  single->reset();
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

// A line still in node a's memtables, and one node c flushed a moment ago (not yet in b's view:
// its periodic refresh is 600 s off), asked through b: each found, with its neighbours from all
// three nodes' memtables and segments. An id no node has is "no record" (404), as on one node.
TEST(ClusterContext, AHitInAnotherNodesMemtableOrFreshSegmentIsFoundThroughAnyNode) {
  const auto dir = TestDir();
  auto cluster = std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond);
  ASSERT_TRUE(cluster->ok());
  Node* a = cluster->nodes()[0].get();
  Node* b = cluster->nodes()[1].get();
  Node* c = cluster->nodes()[2].get();
  // Lines 0..11 one at a time: k % 3 == 0 to a (kept in memtables), 1 to b and 2 to c (both
  // flushed). Host h1 holds every line but 2, 5, 8 and 11.
  for (int k = 0; k < 12; ++k) {
    auto line = ContextLines(k, k + 1);
    ASSERT_TRUE(cluster->nodes()[k % 3]->engine->Append("default", &line).ok());
  }
  ASSERT_TRUE(b->engine->Flush().ok());
  ASSERT_TRUE(c->engine->Flush().ok());
  ASSERT_TRUE(b->engine->GetSnapshot("default")->segments.size() == 1u)
      << "b's view holds its own segment only";
  auto ids = IdsByMessage(*a->query);
  ASSERT_EQ(ids.size(), 12u);

  // Line 6 (h1) is in a's memtables: before it 3, 4 (b's segment, a's memtables), after it 7, 9.
  auto in_memtable = b->query->Context("default", ids.at("ctx line 6"), 2, 2);
  ASSERT_TRUE(in_memtable.ok()) << in_memtable.status().ToString();
  EXPECT_EQ(Shown(*in_memtable), "ctx line 3, ctx line 4, | ctx line 6 |, ctx line 7, ctx line 9");
  EXPECT_FALSE(in_memtable->partial);
  // Line 5 (h2) is in c's segment, which b's view did not hold: its h2 neighbours 2 and 8.
  auto fresh = b->query->Context("default", ids.at("ctx line 5"), 5, 5);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(Shown(*fresh), "ctx line 2, | ctx line 5 |, ctx line 8, ctx line 11");
  EXPECT_FALSE(fresh->partial);
  // Through c, the line in a's memtables.
  auto through_c = c->query->Context("default", ids.at("ctx line 0"), 3, 3);
  ASSERT_TRUE(through_c.ok()) << through_c.status().ToString();
  EXPECT_EQ(Shown(*through_c), "| ctx line 0 |, ctx line 1, ctx line 3, ctx line 4");

  for (Node* node : {a, b, c}) {
    auto nowhere = node->query->Context("default", 999'999'999'999, 3, 3);
    ASSERT_FALSE(nowhere.ok());
    EXPECT_TRUE(nowhere.status().IsNotFound()) << nowhere.status().ToString();
    EXPECT_EQ(nowhere.status().message(), "no record with id 999999999999");
  }
  cluster.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::cluster
