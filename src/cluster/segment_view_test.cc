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
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/pg_catalog.h"
#include "cluster/cluster_node.h"
#include "cluster/fanout.h"
#include "cluster/job_leases.h"
#include "cluster/part_codec.h"
#include "cluster/segment_refresh.h"
#include "objstore/local_directory_store.h"
#include "query/query_engine.h"
#include "storage/engine.h"
#include "storage/retention.h"

namespace sawmill::cluster {
namespace {

std::string PgUrl() {
  std::ifstream in(std::string(SAWMILL_PG_TEST_DIR) + "/url");
  std::string url;
  std::getline(in, url);
  EXPECT_FALSE(url.empty()) << "no PostgreSQL URL in " << SAWMILL_PG_TEST_DIR
                            << "/url: run through ctest (fixture pg_server)";
  return url;
}

void PgSql(const std::string& sql) {
  PGconn* conn = PQconnectdb(PgUrl().c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, sql.c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
}

std::filesystem::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("sawmill_segment_view_" + std::to_string(::getpid()) + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// One node of the cluster.
struct Node {
  std::string id;
  std::unique_ptr<ClusterNode> cluster;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<query::QueryEngine> local;
  std::unique_ptr<SegmentRefresh> refresh;
  std::unique_ptr<Fanout> fanout;
  std::unique_ptr<FanoutQueryEngine> query;
};

class Cluster {
 public:
  Cluster(const std::filesystem::path& dir, int nodes, int64_t refresh_interval_ns) {
    schema_ = "v" + std::to_string(std::hash<std::string>{}(dir.string()) % 1000000007);
    PgSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
    PgSql("CREATE SCHEMA " + schema_);
    const std::string url = PgUrl() + (PgUrl().find('?') == std::string::npos ? "?" : "&") +
                            "options=-csearch_path%3D" + schema_;
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
      options.registry.node_timeout_ns = 30 * kNanosPerSecond;
      options.wal_store = store;
      options.wal.interval_ns = 5 * kNanosPerMilli;
      auto opened = ClusterNode::Open(std::move(options));
      EXPECT_TRUE(opened.ok()) << opened.status().ToString();
      if (!opened.ok()) return;
      node->cluster = std::move(*opened);
      storage::EngineOptions engine_options;
      engine_options.data_dir = (dir / node->id).string();
      engine_options.partitions = 4;
      engine_options.background_threads = false;  // the test flushes, all the time
      node->cluster->Configure(&engine_options, store);
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
      node->refresh = std::make_unique<SegmentRefresh>(node->engine->catalog(), node->engine.get(),
                                                       refresh_options);
      node->refresh->Start();
      NodeRegistry* registry = node->cluster->registry();
      // A peer is asked by calling its query engine, through the wire codec both ways.
      node->fanout = std::make_unique<Fanout>(
          [registry] { return registry->Peers(); }, FanoutOptions{},
          [this](const catalog::NodeRow& peer, const std::string& body, int64_t) {
            query::PartAnswer failed;
            failed.partial = true;
            auto request = DecodePartRequest(body);
            Node* asked = Find(peer.id);
            if (!request.ok() || asked == nullptr) return failed;
            auto part = asked->local->SearchMemtables(*request);
            if (!part.ok()) return failed;
            auto back = DecodePartAnswer(EncodePartAnswer(*part));
            return back.ok() ? *back : failed;
          });
      SegmentRefresh* refresh = node->refresh.get();
      node->query = std::make_unique<FanoutQueryEngine>(
          node->local.get(), node->fanout.get(),
          [refresh](uint64_t at_least, int64_t timeout_ns, std::string* error) {
            return refresh->CatchUp(at_least, timeout_ns, error);
          });
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
    PgSql("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  bool ok() const { return !nodes_.empty(); }
  Node* Find(const std::string& id) {
    for (auto& node : nodes_) {
      if (node->id == id) return node.get();
    }
    return nullptr;
  }
  std::vector<std::unique_ptr<Node>>& nodes() { return nodes_; }

 private:
  std::string schema_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

Result<query::SearchResponse> Search(Node* node, const std::string& q, size_t limit = 100) {
  query::SearchRequest r;
  r.q = q;
  r.all_time = true;
  r.limit = limit;
  r.use_cache = false;
  return node->query->Search(r);
}

int64_t CountOf(const query::SearchResponse& response) {
  if (response.rows.size() != 1) return -1;
  for (const auto& [name, value] : response.rows[0]) {
    if (name == "count") return std::get<int64_t>(value);
  }
  return -1;
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

// While every node ingests and flushes all the time, every query on every node counts each line
// acknowledged before it started, and none twice nor one never acknowledged; once the writers
// stop, every node answers exactly what was acknowledged.
TEST(SegmentView, QueriesOnEveryNodeCountEachAcknowledgedLineOnceWhilePeersFlush) {
  const auto dir = TestDir();
  // The periodic refresh is rare here: what keeps the answers whole is the refresh on demand.
  auto cluster = std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond);
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

// Retention of shared segments (docs/cluster.md "Retention of shared segments"): three nodes
// each flush lines received 3 days ago (expired under a 1-day retention), 5 days ago (expired,
// but under a hold) and now, and hold more in memtables. The retention round runs on the node
// holding the "retention" lease only; it deletes every node's expired segments, whose objects
// leave the store, and keeps the held ones. Every node's answer then drops exactly the expired
// lines, also node c, whose view still names the deleted segments (not refreshed since): it
// skips them without calling its answer partial.
TEST(SegmentView, RetentionOnTheLeaseHolderDeletesExpiredSharedSegmentsForEveryNode) {
  const auto dir = TestDir();
  auto cluster = std::make_unique<Cluster>(dir, 3, 600 * kNanosPerSecond);
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
  for (auto& node : nodes) {
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
  }
  retention.clear();
  leases.clear();
  cluster.reset();  // closed before its directory goes
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::cluster
