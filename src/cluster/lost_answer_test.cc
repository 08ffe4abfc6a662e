// A cluster node's flush whose registration answer is lost (docs/cluster.md "Fenced flush"): the
// catalog commits the segment's registration and the node sees a connection error, and the
// catalog then stays unreachable for a while. The node must not register the same rows a second
// time before it knows whether the first registration committed.
//
// The node runs on a real PostgreSQL (ctest fixture pg_server) with the real write path (WAL
// objects, ClusterNode); its engine's catalog is wrapped by LosingCatalog, which forwards every
// call to the real catalog and only loses answers: RegisterSegment commits (or, in one test, is
// not sent) and then answers Unavailable, and every call after it answers Unavailable for a
// time or a number of calls (the catalog "down"). What is in the catalog and the store is read
// with a connection of the test's own.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
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
#include "common/mutex.h"
#include "objstore/local_directory_store.h"
#include "segment/segment.h"
#include "storage/engine.h"
#include "storage/job_gate.h"
#include "storage/shared_keys.h"

namespace sawmill::cluster {
namespace {

// Forwards to the real catalog; LoseNext makes the next RegisterSegment lose its answer.
class LosingCatalog final : public catalog::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;

  // The next RegisterSegment is forwarded (committed) when "commit", else not sent at all, and
  // answers Unavailable either way; then every call answers Unavailable for "down" (steady
  // time) and for "down_calls" more calls.
  void LoseNext(bool commit, std::chrono::milliseconds down, int down_calls) {
    MutexLock l(&mu_);
    armed_ = true;
    commit_ = commit;
    down_ = down;
    down_calls_ = down_calls;
  }
  // The id of the segment whose registration answer was lost (0: none yet), and whether the
  // real catalog took it.
  uint64_t lost_id() const {
    MutexLock l(&mu_);
    return lost_id_;
  }
  int refused() const {
    MutexLock l(&mu_);
    return refused_;
  }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    bool lose = false, commit = false;
    {
      MutexLock l(&mu_);
      lose = armed_;
      commit = commit_;
      armed_ = false;
    }
    if (!lose) return target()->RegisterSegment(row, node, fence);
    if (commit) {
      auto committed = target()->RegisterSegment(row, node, fence);
      EXPECT_TRUE(committed.ok()) << committed.status().ToString();
    }
    MutexLock l(&mu_);
    lost_id_ = row.id;
    down_until_ = std::chrono::steady_clock::now() + down_;
    down_calls_left_ = down_calls_;
    return Status::Unavailable("test: the connection broke during the commit");
  }

 protected:
  Status Before(std::string_view call) const override {
    MutexLock l(&mu_);
    if (down_calls_left_ > 0 || std::chrono::steady_clock::now() < down_until_) {
      if (down_calls_left_ > 0) --down_calls_left_;
      ++refused_;
      return Status::Unavailable("test: the catalog cannot be reached (" + std::string(call) + ")");
    }
    return Status::OK();
  }

 private:
  mutable Mutex mu_;
  bool armed_ GUARDED_BY(mu_) = false;
  bool commit_ GUARDED_BY(mu_) = false;
  std::chrono::milliseconds down_ GUARDED_BY(mu_){0};
  int down_calls_ GUARDED_BY(mu_) = 0;
  uint64_t lost_id_ GUARDED_BY(mu_) = 0;
  mutable std::chrono::steady_clock::time_point down_until_ GUARDED_BY(mu_);
  mutable int down_calls_left_ GUARDED_BY(mu_) = 0;
  mutable int refused_ GUARDED_BY(mu_) = 0;
};

class LostAnswerTest : public PgClusterTest {
 protected:
  LostAnswerTest() : PgClusterTest("lost_answer", "la") {}

  void SetUp() override {
    PgClusterTest::SetUp();
    if (HasFatalFailure()) return;
    ClusterNodeOptions options;
    options.catalog_url = url_;
    options.registry.id = "node-a";
    options.registry.url = "http://node-a.invalid";
    options.registry.heartbeat_interval_ns = 200 * kNanosPerMilli;
    options.registry.node_timeout_ns = 30 * kNanosPerSecond;
    options.wal_store = store_;
    options.wal.interval_ns = 5 * kNanosPerMilli;
    options.segment_sweep_interval_ns = 0;
    auto node = ClusterNode::Open(std::move(options));
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    node_ = std::move(*node);
    storage::EngineOptions engine_options;
    engine_options.data_dir = (dir_ / "node-a").string();
    engine_options.partitions = 1;              // one memtable: one segment per flush
    engine_options.background_threads = false;  // the test flushes
    engine_options.wrap_catalog = [this](std::unique_ptr<catalog::Catalog> real) {
      auto losing = std::make_unique<LosingCatalog>(std::move(real));
      losing_ = losing.get();
      return std::unique_ptr<catalog::Catalog>(std::move(losing));
    };
    node_->Configure(&engine_options, store_);
    auto engine = storage::Engine::Open(engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    node_->Start(engine_.get());
    ASSERT_NE(losing_, nullptr);
  }

  void TearDown() override {
    if (node_ != nullptr) node_->Stop();
    if (engine_ != nullptr) engine_->Close().IgnoreError();
    if (node_ != nullptr) node_->registry()->Stop(/*remove=*/true);
    engine_.reset();
    node_.reset();
    DropStore();
  }

  // Appends "batches" batches of "lines" lines; every one must be acknowledged. Returns how
  // many lines were.
  int Ingest(int batches, int lines) {
    int acked = 0;
    for (int b = 0; b < batches; ++b) {
      std::vector<Record> batch;
      for (int i = 0; i < lines; ++i) {
        Record r;
        r.service = "svc";
        r.host = "host";
        r.level = Level::kInfo;
        r.message = "line " + std::to_string(next_line_++);
        batch.push_back(std::move(r));
      }
      Status s = engine_->Append("default", &batch);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (s.ok()) acked += lines;
    }
    return acked;
  }

  // Flushes until a flush succeeds (at most "limit"); returns how many failed first.
  int FlushUntilOk(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int failed = 0;
    while (true) {
      Status s = engine_->Flush();
      if (s.ok()) return failed;
      ++failed;
      if (std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "the flush still fails: " << s.ToString();
        return failed;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }

  // Segment objects in the store (under the tenant's directory).
  std::vector<std::string> SegmentObjects() {
    std::vector<std::string> out;
    auto listed = store_->List("default/");
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (listed.ok()) out = *listed;
    return out;
  }

  size_t WalObjectsInStore() {
    auto listed = store_->List("wal/");
    return listed.ok() ? listed->size() : 0;
  }

  // Every acknowledged line (0 .. acked-1) is in exactly one registered segment.
  void ExpectEachLineOnce(int acked) {
    std::map<std::string, int> seen = LinesInSegments(nullptr);
    int missing = 0, twice = 0;
    for (int i = 0; i < acked; ++i) {
      auto it = seen.find("line " + std::to_string(i));
      if (it == seen.end()) {
        ++missing;
      } else if (it->second > 1) {
        ++twice;
      }
    }
    EXPECT_EQ(missing, 0) << "acknowledged lines in no segment";
    EXPECT_EQ(twice, 0) << "acknowledged lines in more than one segment";
    EXPECT_EQ(seen.size(), static_cast<size_t>(acked)) << "lines never acknowledged";
  }

  std::unique_ptr<ClusterNode> node_;
  std::unique_ptr<storage::Engine> engine_;
  LosingCatalog* losing_ = nullptr;
  int next_line_ = 0;
};

// The registration committed, its answer was lost, and the catalog stays unreachable for 4 s,
// twice as long as the node's read-back tries: the node keeps its memtable and WAL objects,
// writes nothing again, and once the catalog answers, finds its segment registered and
// publishes it. Every line is in exactly one segment.
TEST_F(LostAnswerTest, ACommittedRegistrationIsNotWrittenAgainWhileTheCatalogStaysDown) {
  int acked = Ingest(4, 50);
  ASSERT_EQ(acked, 200);
  losing_->LoseNext(/*commit=*/true, std::chrono::milliseconds(4000), 0);
  Status first = engine_->Flush();
  EXPECT_FALSE(first.ok()) << "the flush succeeded although the catalog was down";
  ASSERT_NE(losing_->lost_id(), 0u);
  // The lost commit happened: the segment is registered, and its WAL objects are still in the
  // store (nothing was released while the outcome was unknown).
  auto registered = reader_->Get(losing_->lost_id());
  ASSERT_TRUE(registered.ok());
  EXPECT_TRUE(registered->has_value());
  EXPECT_GT(WalObjectsInStore(), 0u);
  const int failed = FlushUntilOk(std::chrono::seconds(30));
  EXPECT_GE(failed, 1) << "no flush was refused while the catalog was down";
  EXPECT_GT(losing_->refused(), 0);
  ExpectEachLineOnce(acked);
  // The segment published is the one whose answer was lost; no other object was written.
  std::vector<std::string> named;
  LinesInSegments(&named);
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0], "default/" + std::to_string(losing_->lost_id()) + ".seg");
  EXPECT_EQ(SegmentObjects().size(), 1u);
  // More lines after it: flushed as usual, still each once.
  acked += Ingest(2, 25);
  ASSERT_TRUE(engine_->Flush().ok());
  ExpectEachLineOnce(acked);
  EXPECT_EQ(WalObjectsInStore(), 0u) << "WAL objects left after every line is in segments";
}

// The same with the catalog refusing the next 40 calls instead of a time: more than every
// read-back try of several flushes.
TEST_F(LostAnswerTest, ACommittedRegistrationIsNotWrittenAgainWhileTheCatalogRefusesCalls) {
  const int acked = Ingest(3, 40);
  losing_->LoseNext(/*commit=*/true, std::chrono::milliseconds(0), 40);
  EXPECT_FALSE(engine_->Flush().ok());
  ASSERT_NE(losing_->lost_id(), 0u);
  FlushUntilOk(std::chrono::seconds(60));
  EXPECT_EQ(losing_->refused(), 40);
  ExpectEachLineOnce(acked);
  EXPECT_EQ(SegmentObjects().size(), 1u);
}

// The registration never reached the catalog (its answer lost all the same) and the catalog
// stays down: once it answers, the node learns the segment is not registered, deletes its
// object, and writes the rows again. Every line once, no object left that no row names.
TEST_F(LostAnswerTest, ARegistrationThatNeverCommittedIsWrittenAgainOnceKnown) {
  const int acked = Ingest(3, 40);
  losing_->LoseNext(/*commit=*/false, std::chrono::milliseconds(3000), 0);
  EXPECT_FALSE(engine_->Flush().ok());
  const uint64_t lost = losing_->lost_id();
  ASSERT_NE(lost, 0u);
  auto registered = reader_->Get(lost);
  ASSERT_TRUE(registered.ok());
  EXPECT_FALSE(registered->has_value());
  FlushUntilOk(std::chrono::seconds(30));
  ExpectEachLineOnce(acked);
  std::vector<std::string> named;
  LinesInSegments(&named);
  EXPECT_EQ(SegmentObjects(), named) << "a segment object no catalog row names was left";
}

// ---- Idempotency-Key claims of a cluster node (docs/cluster.md "Idempotency-Keys across
// nodes"), on the same node and PostgreSQL ----

catalog::IdempotencyClaimRow PendingClaim(const std::string& node, int64_t started,
                                          const std::string& key, int64_t at) {
  catalog::IdempotencyClaimRow c;
  c.tenant = "default";
  c.key = key;
  c.body_hash = 7;
  c.node = node;
  c.node_started_ns = started;
  c.state = std::string(catalog::kIdempotencyPending);
  c.created_ns = at;
  return c;
}

// A node that died holding a claim is gone once the registry says so (its heartbeat older than
// node_timeout, here 30 s) and none of its WAL objects is unreplayed: a batch under the key is
// then stored at once, not refused for the fixed minute the claim was kept before.
TEST_F(LostAnswerTest, AClaimOfANodeGoneForTheRegistryIsTakenAfterNodeTimeout) {
  const int64_t now = Clock::Real()->NowNanos();
  const int64_t dead_since = now - 35 * kNanosPerSecond;  // past node_timeout, within a minute
  ASSERT_TRUE(reader_->Heartbeat({"ghost", "http://ghost.invalid", 1, dead_since}).ok());
  const catalog::IdempotencyClaimRow ghost = PendingClaim("ghost", 1, "k-ghost", dead_since);
  ASSERT_EQ(*reader_->ClaimIdempotencyKey(ghost, 0, dead_since), ghost);
  std::vector<Record> batch(3);
  for (Record& r : batch) {
    r.service = "svc";
    r.message = "keyed";
  }
  storage::IdempotencyKey key{"k-ghost", 7, "3 lines", 0, 0, 0};
  const auto start = std::chrono::steady_clock::now();
  Status s = engine_->AppendIdempotent("default", &batch, key);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LT(waited, std::chrono::seconds(5)) << "the gone node's claim was waited for";
  auto row = reader_->GetIdempotencyKey("default", "k-ghost");
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->node, "node-a");
  EXPECT_EQ((*row)->state, catalog::kIdempotencyDone);
}

// The shared claims are trimmed by a periodic round on the node holding the job lease
// "idempotency_claims": rows past the window, and done rows past idempotency_max_keys; a node
// without the lease trims nothing.
TEST_F(LostAnswerTest, TheClaimsAreTrimmedByTheRoundOfTheLeaseHolder) {
  const int64_t now = Clock::Real()->NowNanos();
  const int64_t hour = 3600 * kNanosPerSecond;
  // Two past the window of an hour, five done inside it.
  for (int i = 0; i < 7; ++i) {
    const catalog::IdempotencyClaimRow row =
        PendingClaim("node-a", 1, "k" + std::to_string(i), i < 2 ? now - 2 * hour : now - i);
    ASSERT_EQ(*reader_->ClaimIdempotencyKey(row, 0, 0), row);
    ASSERT_TRUE(reader_->CompleteIdempotencyKey(row, false, 0).ok());
  }
  auto count = [&] {
    int n = 0;
    for (int i = 0; i < 7; ++i) {
      n += reader_->GetIdempotencyKey("default", "k" + std::to_string(i))->has_value() ? 1 : 0;
    }
    return n;
  };
  storage::SharedKeysOptions options;
  options.node = "node-a";
  options.incarnation = 1;
  options.window_ns = hour;
  options.max_done = 3;
  options.trim_interval_ns = 50 * kNanosPerMilli;
  std::atomic<bool> holder{false};
  storage::SetJobGate([&](std::string_view job) { return job == "idempotency_claims" && holder; });
  {
    storage::SharedIdempotencyKeys keys(reader_.get(), Clock::Real(), options);
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    EXPECT_EQ(count(), 7) << "trimmed without the lease";
    holder = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (count() != 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  storage::SetJobGate(nullptr);
  EXPECT_EQ(count(), 3);
  // The newest three done rows are the ones kept.
  for (int i = 2; i < 7; ++i) {
    EXPECT_EQ(reader_->GetIdempotencyKey("default", "k" + std::to_string(i))->has_value(), i < 5)
        << i;
  }
}

}  // namespace
}  // namespace sawmill::cluster
