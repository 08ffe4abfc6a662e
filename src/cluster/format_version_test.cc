// The segment format version in a rolling upgrade (docs/cluster.md "Format version in a rolling
// upgrade"): nodes of a previous build (EngineOptions::newest_format_version one below this
// build's) and of this build on one store. Every node writes the store's recorded version, which
// is raised once every live node reads the newer one; a node that cannot read the store's
// version is refused at start; a segment newer than a node reads is skipped with a warning
// naming it, never marked corrupt.
//
// Nodes of one process on a real PostgreSQL (ctest fixture pg_server) with the real write path
// (WAL objects, ClusterNode and its rounds), one local directory as the shared store, each node
// with its own segment view and query engine (no fan-out: every line is flushed first).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/pg_cluster_test.h"
#include "cluster/segment_refresh.h"
#include "query/query_engine.h"
#include "segment/segment_file_reader.h"
#include "storage/engine.h"

namespace sawmill::cluster {
namespace {

constexpr int64_t kHeartbeat = 200 * kNanosPerMilli;
constexpr int64_t kNodeTimeout = 3 * kNanosPerSecond;
constexpr uint32_t kNew = segment::kFormatVersion;
constexpr uint32_t kOld = segment::kFormatVersion - 1;  // the previous build's

struct Node {
  std::string id;
  std::unique_ptr<ClusterNode> cluster;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<query::QueryEngine> query;
  std::unique_ptr<SegmentRefresh> refresh;
};

// What a node's own query engine answers for every line of the store.
struct Found {
  std::map<std::string, int> lines;  // message -> times found
  bool partial = false;
  std::vector<std::string> warnings;
};

class FormatVersionTest : public PgClusterTest {
 protected:
  FormatVersionTest() : PgClusterTest("formats", "fv") {}

  void TearDown() override {
    for (auto& node : nodes_) Stop(node.get());
    nodes_.clear();
    DropStore();
  }

  // Node "id" of a build reading and writing formats up to "newest", heartbeating and running
  // its rounds (takeover, format raise). "*opened": the engine's Open; null when refused.
  Node* Add(const std::string& id, uint32_t newest, Status* opened) {
    auto node = std::make_unique<Node>();
    node->id = id;
    Node* raw = node.get();
    nodes_.push_back(std::move(node));
    ClusterNodeOptions options = NodeOptions(id, kHeartbeat, kNodeTimeout);
    options.wal.interval_ns = 5 * kNanosPerMilli;
    options.segment_sweep_interval_ns = 0;
    auto cluster = ClusterNode::Open(std::move(options));
    *opened = cluster.status();
    if (!cluster.ok()) return nullptr;
    raw->cluster = std::move(*cluster);
    storage::EngineOptions engine_options;
    engine_options.data_dir = (dir_ / id).string();
    engine_options.background_threads = false;  // the test flushes
    engine_options.flush_threads = 1;
    raw->cluster->Configure(&engine_options, store_);
    engine_options.partitions = 4;
    engine_options.newest_format_version = newest;
    auto engine = storage::Engine::Open(engine_options);
    *opened = engine.status();
    if (!engine.ok()) return nullptr;
    raw->engine = std::move(*engine);
    raw->cluster->Start(raw->engine.get());
    query::QueryOptions query_options;
    query_options.worker_threads = 2;
    raw->query = query::QueryEngine::Create(raw->engine.get(), query_options);
    SegmentRefreshOptions refresh;
    refresh.interval_ns = 0;  // RefreshNow
    raw->refresh =
        std::make_unique<SegmentRefresh>(raw->engine->catalog(), raw->engine.get(), refresh);
    return raw;
  }

  // A clean stop, as `sawmill server` on SIGTERM: the node's row goes, its memtables flush.
  static void Stop(Node* node) {
    if (node->cluster) node->cluster->Stop();
    node->refresh.reset();
    node->query.reset();
    if (node->engine) node->engine->Close().IgnoreError();
    if (node->cluster) node->cluster->registry()->Stop(/*remove=*/true);
    node->engine.reset();
    node->cluster.reset();
  }

  static Status Ingest(Node* node, const std::string& prefix, int n) {
    std::vector<Record> lines(n);
    for (int i = 0; i < n; ++i) {
      lines[i].service = "svc";
      lines[i].host = "host" + std::to_string(i % 12);
      lines[i].level = Level::kInfo;
      lines[i].message = prefix + " line " + std::to_string(i);
    }
    RETURN_IF_ERROR(node->engine->Append("default", &lines));
    return node->engine->Flush();
  }

  // Every line through "node"'s own query engine, after its view caught up with the catalog.
  static Found Search(Node* node) {
    Found found;
    EXPECT_TRUE(node->refresh->RefreshNow().ok());
    query::SearchRequest request;
    request.q = "*";
    request.all_time = true;
    request.limit = 10000;
    request.use_cache = false;
    auto answer = node->query->Search(request);
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    if (!answer.ok()) return found;
    for (const Record& hit : answer->hits) ++found.lines[hit.message];
    found.partial = answer->partial;
    found.warnings = answer->warnings;
    return found;
  }

  // The format version of every segment the catalog names, by id, and how many are not active.
  std::map<uint64_t, uint32_t> SegmentFormats(int* not_active) {
    std::map<uint64_t, uint32_t> formats;
    *not_active = 0;
    auto rows = reader_->List();
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return formats;
    for (const catalog::SegmentRow& row : *rows) {
      if (row.state != catalog::kStateActive) ++*not_active;
      auto reader = segment::SegmentFileReader::OpenObject(store_, row.path);
      EXPECT_TRUE(reader.ok()) << row.path << ": " << reader.status().ToString();
      if (reader.ok()) formats[row.id] = (*reader)->format_version();
    }
    return formats;
  }

  uint64_t StoreVersion() { return reader_->ReadSetting("format_version")->value_or(0); }

  // Waits a few heartbeat rounds (each node's round may raise the store's version).
  static void Rounds() { std::this_thread::sleep_for(std::chrono::nanoseconds(4 * kHeartbeat)); }

  static void ExpectEveryLineOnce(const Found& found, int old_lines, int new_lines,
                                  const std::string& who) {
    EXPECT_FALSE(found.partial) << who;
    EXPECT_TRUE(found.warnings.empty()) << who << ": " << found.warnings[0];
    EXPECT_EQ(found.lines.size(), static_cast<size_t>(old_lines + new_lines)) << who;
    for (const auto& [prefix, n] : {std::pair{"old", old_lines}, std::pair{"new", new_lines}}) {
      for (int i = 0; i < n; ++i) {
        const std::string line = std::string(prefix) + " line " + std::to_string(i);
        auto it = found.lines.find(line);
        EXPECT_TRUE(it != found.lines.end() && it->second == 1)
            << who << ": " << line << " found " << (it == found.lines.end() ? 0 : it->second)
            << " times";
      }
    }
  }

  std::vector<std::unique_ptr<Node>> nodes_;
};

// A node of the previous build started the store; a node of this build joins. Both write the
// store's version (the old one's), so each finds every line of both once, and nothing is marked
// corrupt; this build's node does not raise the version while the old one is live. Once the old
// node stops, the next round raises it and this build's segments are written in its version;
// the previous build is then refused at start, naming both versions. Without the cap on the
// version written (checked: SegmentRegistry::Writer ignoring write_format), node-new writes its
// own version and node-old's answer is partial, its 60 lines missing.
TEST_F(FormatVersionTest, OldAndNewNodesWriteTheStoresVersionUntilTheOldOneIsGone) {
  Status opened;
  Node* old_node = Add("node-old", kOld, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  EXPECT_EQ(StoreVersion(), kOld) << "a new store takes the version of its first node";
  Node* new_node = Add("node-new", kNew, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();

  ASSERT_TRUE(Ingest(old_node, "old", 60).ok());
  ASSERT_TRUE(Ingest(new_node, "new", 60).ok());
  Rounds();
  EXPECT_EQ(*new_node->engine->RaiseWriteFormat(), kOld) << "raised while node-old is live";
  EXPECT_EQ(StoreVersion(), kOld);
  int not_active = 0;
  auto formats = SegmentFormats(&not_active);
  ASSERT_FALSE(formats.empty());
  for (const auto& [id, version] : formats) EXPECT_EQ(version, kOld) << "segment " << id;
  ExpectEveryLineOnce(Search(old_node), 60, 60, "node-old");
  ExpectEveryLineOnce(Search(new_node), 60, 60, "node-new");
  EXPECT_EQ(not_active, 0) << "segments marked corrupt (or missing)";

  Stop(old_node);
  Rounds();
  EXPECT_EQ(StoreVersion(), kNew) << "not raised once node-old was gone";
  EXPECT_EQ(*new_node->engine->RaiseWriteFormat(), kNew);
  ASSERT_TRUE(Ingest(new_node, "later", 30).ok());
  formats = SegmentFormats(&not_active);
  int newest = 0;
  for (const auto& [id, version] : formats) newest += version == kNew ? 1 : 0;
  EXPECT_GT(newest, 0) << "no segment written in the raised version";
  EXPECT_EQ(not_active, 0);

  EXPECT_EQ(Add("node-old-again", kOld, &opened), nullptr);
  EXPECT_EQ(opened.code(), StatusCode::kFailedPrecondition) << opened.ToString();
  EXPECT_NE(opened.ToString().find("format version " + std::to_string(kNew)), std::string::npos)
      << opened.ToString();
  EXPECT_NE(opened.ToString().find("up to " + std::to_string(kOld)), std::string::npos)
      << opened.ToString();
  EXPECT_NE(opened.ToString().find(schema_), std::string::npos) << opened.ToString();
}

// A store of a build before the version was recorded (its row removed here) while a node of
// that build still runs: this build's node records the version of the newest segment, not its
// own, and writes it; the old node's live row (no record of what it reads, as that build
// writes none) holds the raise back.
TEST_F(FormatVersionTest, AStoreOfABuildBeforeTheRecordTakesItsNewestSegmentsVersion) {
  Status opened;
  Node* old_node = Add("node-old", kOld, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  ASSERT_TRUE(Ingest(old_node, "old", 60).ok());
  catalog::PgTestSql("DELETE FROM " + schema_ +
                     ".meta WHERE key IN ('setting.format_version', 'node_format.node-old')");
  Node* new_node = Add("node-new", kNew, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  EXPECT_EQ(StoreVersion(), kOld);
  ASSERT_TRUE(Ingest(new_node, "new", 60).ok());
  Rounds();
  EXPECT_EQ(StoreVersion(), kOld) << "raised while a node that never said what it reads is live";
  int not_active = 0;
  for (const auto& [id, version] : SegmentFormats(&not_active)) {
    EXPECT_EQ(version, kOld) << "segment " << id;
  }
  ExpectEveryLineOnce(Search(old_node), 60, 60, "node-old");
  EXPECT_EQ(not_active, 0);
}

// A node of the previous build that meets a segment of the newer version (the version was
// raised while it looked dead, say paused past node_timeout): its answer is partial with a
// warning naming the segment, the segment stays active (not marked corrupt, not deleted), and
// a node of this build finds every line. Before, the reader answered DataLoss for a newer
// version and the segment was marked corrupt in the shared catalog for good.
TEST_F(FormatVersionTest, ASegmentNewerThanANodeReadsIsSkippedWithAWarningNotMarkedCorrupt) {
  Status opened;
  Node* old_node = Add("node-old", kOld, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  Node* new_node = Add("node-new", kNew, &opened);
  ASSERT_TRUE(opened.ok()) << opened.ToString();
  ASSERT_TRUE(Ingest(old_node, "old", 60).ok());
  ASSERT_EQ(*reader_->RaiseFormatVersion(kNew, INT64_MAX), kNew);  // as if node-old looked dead
  EXPECT_EQ(*new_node->engine->RaiseWriteFormat(), kNew);
  ASSERT_TRUE(Ingest(new_node, "new", 60).ok());
  EXPECT_EQ(*old_node->engine->RaiseWriteFormat(), kOld) << "node-old writes what it reads";

  const Found found = Search(old_node);
  EXPECT_TRUE(found.partial);
  ASSERT_FALSE(found.warnings.empty());
  bool named = false;
  for (const std::string& w : found.warnings) {
    named |= w.find("format version " + std::to_string(kNew) + " is not readable by this build") !=
             std::string::npos;
  }
  EXPECT_TRUE(named) << found.warnings[0];
  for (int i = 0; i < 60; ++i) EXPECT_EQ(found.lines.count("old line " + std::to_string(i)), 1u);
  int not_active = 0;
  const auto formats = SegmentFormats(&not_active);
  EXPECT_EQ(not_active, 0) << "a newer segment was marked corrupt";
  ExpectEveryLineOnce(Search(new_node), 60, 60, "node-new");
  // Asked again: still not marked (a mark would have been made at the first read).
  Search(old_node);
  SegmentFormats(&not_active);
  EXPECT_EQ(not_active, 0);
}

}  // namespace
}  // namespace sawmill::cluster
