// Cluster nodes that stall past node_timeout and wake up (docs/cluster.md "Idempotency-Keys across
// nodes" and "Fenced flush"), nodes of one process with the real write path (WAL objects,
// ClusterNode, takeover) on one real PostgreSQL (ctest fixture pg_server) and one shared store
// (a directory). The stalled node's heartbeats are the test's (its registry has no heartbeat
// thread), so the stall is exact: the node writes no heartbeat until the test says it woke.
//
// - A node that claimed an Idempotency-Key and stalled before registering the WAL object of the
//   batch, while another node took the claim over and stored the batch, must not acknowledge
//   it when it wakes: the registration checks the claim in its transaction (its WAL catalog is
//   wrapped to hold the registration back until the test lets it go).
// - A node whose WAL objects were taken over while it stalled must not answer other nodes'
//   queries from the rows it lost (they are the taker's now): before the fence, a query counted
//   them twice, from its memtables and from the taker's segments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/pg_test_server.h"
#include "cluster/cluster_node.h"
#include "cluster/cluster_test_nodes.h"
#include "cluster/fanout.h"
#include "cluster/pg_cluster_test.h"
#include "cluster/segment_refresh.h"
#include "cluster/stalling_nodes_test.h"
#include "common/hash.h"
#include "common/mutex.h"
#include "objstore/local_directory_store.h"
#include "query/query_engine.h"
#include "segment/segment.h"
#include "storage/engine.h"

namespace sawmill::cluster {
namespace {

constexpr int64_t kHeartbeat = 200 * kNanosPerMilli;
constexpr int64_t kNodeTimeout = 3 * kNanosPerSecond;
// Longer than node_timeout: the others find the stalled node dead.
constexpr auto kStall = std::chrono::milliseconds(3600);

// A gate on calls: after Arm, the next Pass waits until Release (with "every", each Pass does);
// WaitHeld says when one does. Once released, no Pass waits.
class CallGate {
 public:
  void Arm(bool every = false) {
    MutexLock l(&mu_);
    armed_ = true;
    every_ = every;
  }
  // True once a call is held (within "timeout").
  bool WaitHeld(std::chrono::milliseconds timeout) {
    UniqueLock l(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!held_) {
      if (!cv_.WaitUntil(&l, deadline)) return held_;
    }
    return true;
  }
  void Release() {
    MutexLock l(&mu_);
    released_ = true;
    cv_.NotifyAll();
  }
  // True when the call waited.
  bool Pass() {
    UniqueLock l(&mu_);
    if (!armed_ || released_) return false;
    armed_ = every_;
    held_ = true;
    cv_.NotifyAll();
    while (!released_) cv_.Wait(&l);
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  bool armed_ GUARDED_BY(mu_) = false;
  bool every_ GUARDED_BY(mu_) = false;
  bool held_ GUARDED_BY(mu_) = false;
  bool released_ GUARDED_BY(mu_) = false;
};

// Forwards to the real catalog; after HoldNextRegistration, the next RegisterWalObject waits,
// before it reaches the catalog, until Release (the node stalls between its claim and the
// registration of the WAL object holding the claimed batch).
class StallingCatalog final : public KillableCatalog {
 public:
  using KillableCatalog::KillableCatalog;

  void HoldNextRegistration() { registration_.Arm(); }
  bool WaitHeld(std::chrono::milliseconds timeout) { return registration_.WaitHeld(timeout); }
  void Release() { registration_.Release(); }

  Status RegisterWalObject(const catalog::WalObjectRow& row,
                           const std::vector<catalog::IdempotencyClaimRow>& key_claims) override {
    registration_.Pass();
    if (Status s = Before("RegisterWalObject"); !s.ok()) return s;
    return target()->RegisterWalObject(row, key_claims);
  }

  // The same for the next claim of WAL objects (a takeover round between its check and its
  // claim).
  void HoldNextClaim() { claim_.Arm(); }
  bool WaitClaimHeld(std::chrono::milliseconds timeout) { return claim_.WaitHeld(timeout); }
  void ReleaseClaim() { claim_.Release(); }

  Result<std::vector<catalog::WalObjectRow>> ClaimWalObjects(
      const std::vector<std::string>& from, std::string_view to, size_t limit,
      int64_t alive_since_ns, std::optional<uint64_t> to_generation = std::nullopt) override {
    claim_.Pass();
    if (Status s = Before("ClaimWalObjects"); !s.ok()) return s;
    return target()->ClaimWalObjects(from, to, limit, alive_since_ns, to_generation);
  }

 private:
  CallGate registration_;
  CallGate claim_;
};

// Forwards to the real catalog; while Refuse(true), every RegisterSegment fails before it reaches
// the catalog (a node whose flushes cannot be registered).
class RefusingCatalog final : public catalog::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;

  void Refuse(bool refuse) { refuse_.store(refuse); }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (refuse_.load()) return Status::IOError("test: segment registrations are refused");
    return target()->RegisterSegment(row, node, fence);
  }

 private:
  std::atomic<bool> refuse_{false};
};

// A node's engine catalog that counts the segment registrations running at once (each held
// back a moment, so that two flushes overlap when two threads flush), and fails every call
// once the node is killed (Die).
class FlushWatchingCatalog final : public KillableCatalog {
 public:
  using KillableCatalog::KillableCatalog;

  // The node dies right after the "n"th registration or a later one commits while another
  // registration runs (so that one fails: killed between the two flushes' commits);
  // "on_death" runs then (the node's other catalogs die with it).
  void DieMidFlushAfter(int n, std::function<void()> on_death) {
    die_after_ = n;
    on_death_ = std::move(on_death);
  }
  int most_at_once() const { return most_.load(); }
  int registered() const { return registered_.load(); }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    const int now = ++running_;
    int most = most_.load();
    while (now > most && !most_.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    auto change = dead() ? Result<uint64_t>(Status::IOError("test: node killed"))
                         : target()->RegisterSegment(row, node, fence);
    if (change.ok() && ++registered_ >= die_after_ && running_.load() >= 2 && !dead()) {
      Die();
      if (on_death_) on_death_();
    }
    --running_;
    return change;
  }

 private:
  std::atomic<int> running_{0}, most_{0}, registered_{0};
  int die_after_ = INT32_MAX;  // set before the node flushes
  std::function<void()> on_death_;
};

// A node's engine catalog on which two flushes' segment registrations meet: each is held at a
// gate before it reaches the catalog (its fence, and with it the WAL objects it marks flushed,
// made by then), the one of partition "first" at first(), the other at second(). The node is
// killed the moment the first commits: from then on every call fails (a registration let go
// after that too), and "on_death" kills the node's other catalogs.
class TwoRegistrationsCatalog final : public KillableCatalog {
 public:
  TwoRegistrationsCatalog(std::unique_ptr<catalog::Catalog> target, uint32_t first,
                          std::function<void()> on_death)
      : KillableCatalog(std::move(target)), first_(first), on_death_(std::move(on_death)) {
    first_gate_.Arm();
    second_gate_.Arm();
  }

  CallGate& first() { return first_gate_; }
  CallGate& second() { return second_gate_; }
  // The WAL objects the first registration marked flushed as it committed.
  std::vector<std::string> marked() const {
    MutexLock l(&mu_);
    return marked_;
  }

  Result<uint64_t> RegisterSegment(const catalog::SegmentRow& row, std::string_view node,
                                   WalFence* fence) override {
    const bool first = row.partition == first_;
    (first ? first_gate_ : second_gate_).Pass();
    if (Status s = Before("RegisterSegment"); !s.ok()) return s;
    auto change = target()->RegisterSegment(row, node, fence);
    if (first && change.ok()) {
      {
        MutexLock l(&mu_);
        if (fence != nullptr) marked_ = fence->mark_flushed;
      }
      Die();
      on_death_();
    }
    return change;
  }

 private:
  const uint32_t first_;
  const std::function<void()> on_death_;
  CallGate first_gate_, second_gate_;
  mutable Mutex mu_;
  std::vector<std::string> marked_ GUARDED_BY(mu_);
};

// A node's own catalog connection whose reads of the takeover generations fail while told to,
// and whose heartbeats wait, before they reach the catalog, while held (a restart whose first
// heartbeat is slow: its incarnation is taken before the wait, e.g. a slow connection).
class UnreadableTakeoversCatalog final : public catalog::ForwardingCatalog {
 public:
  using ForwardingCatalog::ForwardingCatalog;

  void Fail(bool fail) { fail_.store(fail); }
  void HoldHeartbeats() { heartbeats_.Arm(/*every=*/true); }
  // True once a heartbeat waits (within "timeout").
  bool WaitHeartbeatHeld(std::chrono::milliseconds timeout) {
    return heartbeats_.WaitHeld(timeout);
  }
  void ReleaseHeartbeats() { heartbeats_.Release(); }

  // A held heartbeat is written with the time it is let go at: the process started (took its
  // incarnation) before the wait, and its first heartbeat is as fresh as a slow one can be.
  Status Heartbeat(const catalog::NodeRow& node) override {
    catalog::NodeRow row = node;
    if (heartbeats_.Pass()) row.heartbeat_ns = Clock::Real()->NowNanos();
    return ForwardingCatalog::Heartbeat(row);
  }

 protected:
  Status Before(std::string_view call) const override {
    if (fail_.load() && call == "ReadWalTakeovers") {
      return Status::IOError("test: the takeover generations cannot be read");
    }
    return Status::OK();
  }

 private:
  std::atomic<bool> fail_{false};
  CallGate heartbeats_;
};

struct Node : InProcessNode {
  StallingCatalog* wal_catalog = nullptr;  // owned by the cluster node
};

class StalledNodeTest : public StallingNodesTest<Node> {
 protected:
  StalledNodeTest() : StallingNodesTest("stalled", "st", kHeartbeat, kNodeTimeout) {}

  // A node; "stalls": its heartbeats are the test's (Beat), and it runs no takeover rounds.
  // "tune" adjusts its engine's options after ClusterNode::Configure (null: none).
  void TakeBackObjectsLost(bool unreadable);
  void StallWithUnconfirmedSegment(Node* a);
  int64_t WaitFenced(int64_t incarnation);
  void TakeOverAndExpectStoredOnce(Node* taker, const std::vector<std::string>& acknowledged);
  void KillBetweenTwoFlushes(bool oldest_first);

  // Two hosts whose lines (of service "svc") fall in two partitions of 4.
  static std::vector<std::string> HostsOfTwoPartitions() {
    std::vector<std::string> hosts;
    for (int h = 0; hosts.size() < 2; ++h) {
      const std::string host = "host" + std::to_string(h);
      if (hosts.empty() || PartitionOf("svc", host, 4) != PartitionOf("svc", hosts[0], 4)) {
        hosts.push_back(host);
      }
    }
    return hosts;
  }

  Node* Add(const std::string& id, bool stalls,
            const std::function<void(storage::EngineOptions*)>& tune = nullptr,
            UnreadableTakeoversCatalog** node_catalog = nullptr) {
    NodeSetup<Node> setup;
    setup.stalls = stalls;
    setup.cluster = [node_catalog, hold = hold_first_heartbeat_](Node* node,
                                                                 ClusterNodeOptions* options) {
      options->wrap_wal_catalog = [node](std::unique_ptr<catalog::Catalog> real) {
        auto stalling = std::make_unique<StallingCatalog>(std::move(real));
        node->wal_catalog = stalling.get();
        return std::unique_ptr<catalog::Catalog>(std::move(stalling));
      };
      if (node_catalog != nullptr) {
        options->wrap_node_catalog = [node_catalog, hold](std::unique_ptr<catalog::Catalog> real) {
          auto wrapped = std::make_unique<UnreadableTakeoversCatalog>(std::move(real));
          if (hold) wrapped->HoldHeartbeats();
          *node_catalog = wrapped.get();
          return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
        };
      }
    };
    if (tune) setup.engine = [tune](Node*, storage::EngineOptions* options) { tune(options); };
    return Open(id, std::move(setup));
  }

  // The next Add's node catalog holds its heartbeats from the first on (Add's "node_catalog").
  bool hold_first_heartbeat_ = false;
};

// Node a claims a key and stalls before the WAL object holding the batch is registered; b finds
// a dead after node_timeout, takes the claim over for the client's retry and stores the batch.
// When a wakes, its registration is refused: the batch is not acknowledged on a (Unavailable,
// retryable), its object is deleted, a retry on a gets b's first answer, and the lines are
// stored once. Before the check, a registered and acknowledged the batch too: every line twice.
TEST_F(StalledNodeTest, AKeyedBatchWhoseClaimWasTakenWhileItsNodeStalledIsNotAcknowledged) {
  Node* a = Add("node-a", /*stalls=*/true);
  Node* b = Add("node-b", /*stalls=*/false);
  ASSERT_TRUE(a != nullptr && b != nullptr && a->wal_catalog != nullptr);
  BeatAll();
  const storage::IdempotencyKey key{"k-stall", 42, "5 lines", 0, 0, 0};
  a->wal_catalog->HoldNextRegistration();
  Status a_status;
  std::thread client([&] {
    std::vector<Record> batch;
    for (int i = 0; i < 5; ++i) batch.push_back(Line("keyed", i));
    a_status = a->engine->AppendIdempotent("default", &batch, key);
  });
  ASSERT_TRUE(a->wal_catalog->WaitHeld(std::chrono::seconds(10)));
  auto claim = reader_->GetIdempotencyKey("default", "k-stall");
  ASSERT_TRUE(claim.ok() && claim->has_value());
  EXPECT_EQ((*claim)->node, "node-a");
  EXPECT_EQ((*claim)->state, catalog::kIdempotencyPending);

  // a writes no heartbeat while it stalls: past node_timeout it is dead to b.
  std::this_thread::sleep_for(kStall);
  std::vector<Record> retry;
  for (int i = 0; i < 5; ++i) retry.push_back(Line("keyed", i));
  Status b_status = b->engine->AppendIdempotent("default", &retry, key);
  ASSERT_TRUE(b_status.ok()) << b_status.ToString();
  claim = reader_->GetIdempotencyKey("default", "k-stall");
  ASSERT_TRUE(claim.ok() && claim->has_value());
  EXPECT_EQ((*claim)->node, "node-b");
  EXPECT_EQ((*claim)->state, catalog::kIdempotencyDone);

  // a wakes.
  a->wal_catalog->Release();
  client.join();
  EXPECT_FALSE(a_status.ok()) << "node a acknowledged a batch whose claim node b had taken";
  EXPECT_EQ(a_status.code(), StatusCode::kUnavailable) << a_status.ToString();
  EXPECT_EQ(WalObjectsWrittenBy("node-a"), 0u) << "node a registered the batch's WAL object";
  auto left = store_->List("wal/node-a/");
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << "the refused WAL object was left in the store";
  // The client's next retry, on a, gets the first answer (b's).
  auto found = a->engine->FindIdempotencyKey("default", "k-stall");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->answer, "5 lines");
  EXPECT_EQ(found->count, 5u);

  // Stored once: in b's segment, nothing of it on a.
  ASSERT_TRUE(a->engine->Flush().ok());
  ASSERT_TRUE(b->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  for (int i = 0; i < 5; ++i) {
    auto it = seen.find("keyed line " + std::to_string(i));
    ASSERT_NE(it, seen.end()) << "keyed line " << i << " is in no segment";
    EXPECT_EQ(it->second, 1) << "keyed line " << i << " is stored " << it->second << " times";
  }
  EXPECT_EQ(seen.size(), 5u);
}

// Node a holds acknowledged lines in its memtables and stalls past node_timeout; b or c takes
// its WAL objects over and flushes them. When a wakes and heartbeats again, queries fan out to
// it again: it must not answer from the rows it lost (they are in the taker's segments), so the
// answer counts each line once; it is partial, naming a, while a holds them (lines a takes
// after waking are in its memtables only), and whole again once a's flush has dropped them.
// Before the fence, a answered from its memtables and every lost line was counted twice.
TEST_F(StalledNodeTest, ANodeThatWokeAfterItsWalObjectsWereTakenOverDoesNotAnswerForThem) {
  Node* a = Add("node-a", /*stalls=*/true);
  Node* b = Add("node-b", /*stalls=*/false);
  Node* c = Add("node-c", /*stalls=*/false);
  ASSERT_TRUE(a != nullptr && b != nullptr && c != nullptr);
  BeatAll();
  Ingest(a, "a", 100);
  Ingest(b, "b", 50);
  Ingest(c, "c", 30);
  BeatAll();
  auto before = Count(c);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(CountOf(*before), 180);
  EXPECT_FALSE(before->partial) << Warnings(*before);

  // a stalls (no heartbeat); a taker claims its objects, replays and flushes them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (WalObjectsWrittenBy("node-a") > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(WalObjectsWrittenBy("node-a"), 0u) << "node a's WAL objects were not taken over";
  const std::map<std::string, int> stored = LinesInSegments();
  ASSERT_EQ(stored.count("a line 0"), 1u) << "the taker did not flush node a's lines";

  // a wakes: it heartbeats, and the others ask it again.
  BeatAll();
  ASSERT_EQ(c->cluster->registry()->Peers().size(), 2u) << "node c does not see node a live";
  auto woke = Count(c);
  ASSERT_TRUE(woke.ok()) << woke.status().ToString();
  EXPECT_EQ(CountOf(*woke), 180) << "node a answered for lines node b or c took over";
  EXPECT_TRUE(woke->partial);
  EXPECT_NE(Warnings(*woke).find("node-a"), std::string::npos) << Warnings(*woke);
  // a takes 10 more lines: acknowledged, in its memtables only, so the answers stay partial.
  Ingest(a, "a-after", 10);
  BeatAll();
  // Through a itself too: its own memtables are under the same fence as its part for others.
  for (Node* asking : {a, b, c}) {
    auto r = Count(asking);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountOf(*r), 180) << "on " << asking->id;
    EXPECT_TRUE(r->partial) << "on " << asking->id;
  }

  // a's flush drops the rows it lost and stores its own: every answer whole and exact.
  ASSERT_TRUE(a->engine->Flush().ok());
  BeatAll();
  for (Node* asking : {a, b, c}) {
    auto r = Count(asking);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountOf(*r), 190) << "on " << asking->id;
    EXPECT_FALSE(r->partial) << "on " << asking->id << ": " << Warnings(*r);
  }
  // And stored once: every line in one segment once all have flushed.
  for (Node* node : {b, c}) ASSERT_TRUE(node->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 190u);
  for (const auto& [message, n] : seen) EXPECT_EQ(n, 1) << message;
}

// Node a stalls holding acknowledged lines; b takes its WAL objects over but cannot flush them
// (its catalog refuses every segment registration) and then dies too, still holding them. a
// wakes and, b being dead, takes the same objects back (docs/cluster.md "Fenced flush"). It must
// not hold their lines twice, its old rows and the replayed ones: a node takes nothing over
// until it knows which of its objects were taken while it stalled and its flush has dropped
// their rows. Before, a's first takeover claimed them at once, and a counted and stored each of
// those lines twice.
// Node a stalls, b takes its objects over and dies before flushing them, a wakes and takes
// them back: its memtables must hold each line once. "unreadable": a's reads of the takeover
// generations fail from its wake until after its first takeover round.
void StalledNodeTest::TakeBackObjectsLost(bool unreadable) {
  RefusingCatalog* refusing = nullptr;
  UnreadableTakeoversCatalog* a_catalog = nullptr;
  Node* a = Add("node-a", /*stalls=*/true, nullptr, &a_catalog);
  ASSERT_TRUE(a_catalog != nullptr);
  Node* b = Add("node-b", /*stalls=*/false, [&](storage::EngineOptions* o) {
    o->wrap_catalog = [&](std::unique_ptr<catalog::Catalog> real) {
      auto wrapped = std::make_unique<RefusingCatalog>(std::move(real));
      refusing = wrapped.get();
      return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
    };
  });
  ASSERT_TRUE(a != nullptr && b != nullptr && refusing != nullptr);
  BeatAll();
  Ingest(a, "a", 60);
  BeatAll();
  // a answers a query before it stalls: it has confirmed its takeover generation once.
  auto before = Count(a);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_EQ(CountOf(*before), 60);
  refusing->Refuse(true);

  // a stalls (no heartbeat): b takes its objects over and cannot flush them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto owned_by = [&](const std::string& owner) {
    auto rows = reader_->ListWalObjects(owner);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->size() : size_t{0};
  };
  while (owned_by("node-a") > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(owned_by("node-a"), 0u) << "node a's WAL objects were not taken over";
  ASSERT_GT(owned_by("node-b"), 0u);
  // b dies, holding them in its memtables and unflushed.
  b->cluster->Stop();
  b->cluster->registry()->Stop(/*remove=*/false);

  // a wakes: it heartbeats again, and once b is dead (node_timeout), it runs takeover rounds.
  std::atomic<bool> awake{true};
  std::thread beats([&] {
    while (awake.load()) {
      a->cluster->registry()->Beat().IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(kStall);
  a_catalog->Fail(unreadable);
  a->cluster->Start(a->engine.get());  // its first round one heartbeat from now
  // A takeover right away (as a round may run before anything else since it woke).
  auto taken = a->cluster->TakeOverNow();
  a_catalog->Fail(false);
  if (unreadable) {
    EXPECT_FALSE(taken.ok()) << "a took " << *taken
                             << " objects over without knowing which of its own it had lost";
  }
  // Then its rounds: every object back with a, replayed, flushed and gone.
  while ((owned_by("node-b") > 0 || WalObjectsWrittenBy("node-a") > 0) &&
         std::chrono::steady_clock::now() < deadline + std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(owned_by("node-b"), 0u) << "a did not take its objects back";
  EXPECT_EQ(WalObjectsWrittenBy("node-a"), 0u) << "a did not flush them";
  auto counted = Count(a);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(CountOf(*counted), 60)
      << "node a holds lines twice (first takeover: "
      << (taken.ok() ? std::to_string(*taken) + " objects" : taken.status().ToString()) << ")";
  ASSERT_TRUE(a->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 60u);
  for (const auto& [message, n] : seen) EXPECT_EQ(n, 1) << message << " stored " << n << " times";
  awake = false;
  beats.join();
}

// Node a is dead: "taker" takes its unflushed WAL objects over, replays and flushes them. Every
// line of "acknowledged" is then in exactly one registered segment, and no other line is.
void StalledNodeTest::TakeOverAndExpectStoredOnce(Node* taker,
                                                  const std::vector<std::string>& acknowledged) {
  auto unflushed_of_a = [&] {
    auto rows = reader_->ListWalObjects("");
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    size_t n = 0;
    for (const auto& row : rows.ok() ? *rows : std::vector<catalog::WalObjectRow>{}) {
      n += row.node == "node-a" && row.state == catalog::kWalObjectUnflushed ? 1 : 0;
    }
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (unflushed_of_a() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(unflushed_of_a(), 0u) << "node a's WAL objects were not taken over and flushed";
  ASSERT_TRUE(taker->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  size_t missing = 0;
  for (const std::string& message : acknowledged) {
    auto it = seen.find(message);
    if (it == seen.end()) {
      if (++missing <= 5) ADD_FAILURE() << message << " was acknowledged and is in no segment";
      continue;
    }
    EXPECT_EQ(it->second, 1) << message << " stored " << it->second << " times";
  }
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged lines";
  EXPECT_EQ(seen.size(), acknowledged.size());
  if (::testing::Test::HasFailure()) {
    // Which segments hold the lines stored twice, and who registered them.
    auto views = reader_->ListSegmentChanges(0, 100000);
    ASSERT_TRUE(views.ok());
    std::map<uint64_t, std::string> origin;
    for (const auto& v : views->segments) origin[v.row.id] = v.node;
    int shown = 0;
    auto rows = reader_->List();
    ASSERT_TRUE(rows.ok());
    for (const catalog::SegmentRow& row : *rows) {
      auto segment = segment::SegmentReader::Open(store_, row.path);
      if (!segment.ok()) continue;
      for (uint32_t blk = 0; blk < (*segment)->blocks().size(); ++blk) {
        std::vector<Record> records;
        if (!(*segment)
                 ->ReadBlock(blk, segment::kColMessage | segment::kColSeq, &records, nullptr)
                 .ok()) {
          continue;
        }
        for (const Record& r : records) {
          if (seen.at(r.message) > 1 && shown++ < 12) {
            ADD_FAILURE() << r.message << " seq " << r.seq << " in segment " << row.id
                          << " (partition " << row.partition << ", seqs " << row.min_seq << "-"
                          << row.max_seq << ", node " << origin[row.id] << ")";
          }
        }
      }
    }
  }
}

// A cluster node flushing two memtables at once (flush_threads 2; docs/cluster.md "Exactly once
// across nodes"): while it ingests lines of two partitions and flushes all the time, its
// registrations mark WAL objects flushed (each holding lines of every partition) and its WAL
// trims delete them. It is killed mid-flush (every catalog call of its process fails from that
// moment), and another node takes its WAL objects over. Every acknowledged line is then in
// exactly one segment: an object marked flushed or deleted while one of its lines was only in
// a memtable (the other flush's, say) would have lost that line, and a line replayed although
// a segment held it would be there twice.
TEST_F(StalledNodeTest, TwoFlushThreadsLoseNoLineAndStoreNoneTwiceWhenTheNodeIsKilled) {
  FlushWatchingCatalog* watching = nullptr;
  Node* a = Add("node-a", /*stalls=*/true, [&](storage::EngineOptions* o) {
    o->partitions = 4;
    o->flush_threads = 2;
    o->wrap_catalog = [&](std::unique_ptr<catalog::Catalog> real) {
      auto wrapped = std::make_unique<FlushWatchingCatalog>(std::move(real));
      watching = wrapped.get();
      return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
    };
  });
  // The same partitions as a: a taker files the lines it replays under its own partition count,
  // and skips those a registered segment of that partition holds.
  Node* b = Add("node-b", /*stalls=*/false, [](storage::EngineOptions* o) { o->partitions = 4; });
  ASSERT_TRUE(a != nullptr && b != nullptr && watching != nullptr);
  watching->DieMidFlushAfter(40, [a] { a->wal_catalog->Die(); });
  BeatAll();

  // Two hosts of two partitions: the two flushes of a round hold every line not yet in a
  // segment, so a marking that left the other flush's memtable out would mark objects whose
  // lines only that memtable holds (an active memtable of another partition would hide it).
  const std::vector<std::string> hosts = HostsOfTwoPartitions();
  std::atomic<bool> running{true};
  std::vector<std::string> acknowledged;
  std::thread beats([&] {
    while (running.load()) {
      a->cluster->registry()->Beat().IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::thread writer([&] {
    for (int batch = 0; running.load(); ++batch) {
      std::vector<Record> lines;
      std::vector<std::string> messages;
      for (int i = 0; i < 16; ++i) {
        Record r = Line("b" + std::to_string(batch), i);
        r.host = hosts[i % 2];  // both partitions in each batch
        messages.push_back(r.message);
        lines.push_back(std::move(r));
      }
      if (a->engine->Append("default", &lines).ok()) {
        acknowledged.insert(acknowledged.end(), messages.begin(), messages.end());
      }
    }
  });
  std::thread flusher([&] {
    while (running.load()) a->engine->Flush().IgnoreError();
  });
  // Flushes run (two at once) until the kill, between the commits of two flushes running at
  // once: the one still running fails.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!watching->dead() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(watching->dead()) << "no two registrations ran at once after the 40th";
  watching->Die();
  a->wal_catalog->Die();
  running = false;
  writer.join();
  flusher.join();
  beats.join();
  EXPECT_GE(watching->registered(), 40);
  EXPECT_GE(watching->most_at_once(), 2) << "the two flush threads never registered at once";
  ASSERT_GT(acknowledged.size(), 0u);

  TakeOverAndExpectStoredOnce(b, acknowledged);
}

// A cluster node flushing two memtables at once is killed exactly between the commit of one
// flush's registration (which marks WAL objects flushed in its transaction) and the other's
// (which then fails); node b takes over what a left unflushed. Node a's first batch is of one
// partition only (the "old" one), its next two of both, so the old partition's memtable holds
// the oldest lines. Both flushes have frozen their memtables and made their fences (the
// objects they mark) before either registration reaches the catalog (the test's gates).
// - "oldest_first": the old partition's flush commits first. It may mark only the objects below
//   the other memtable's smallest seq: the first batch's (asserted: at least one). b replays
//   the rest and skips the lines of the committed segment.
// - otherwise the other flush commits first, and may mark nothing: every object holds a line of
//   the old partition's memtable (asserted: none). b replays every object and skips the lines
//   of the committed segment.
// Either way every acknowledged line is in exactly one segment. With the marking deliberately
// broken (MinUnflushedSeqWithout leaving every frozen memtable out), the first registration
// marks every object and the failed flush's lines are lost: 16 or 32 of 48 in no segment.
void StalledNodeTest::KillBetweenTwoFlushes(bool oldest_first) {
  const std::vector<std::string> hosts = HostsOfTwoPartitions();
  const uint32_t old_partition = PartitionOf("svc", hosts[0], 4);
  const uint32_t first = oldest_first ? old_partition : PartitionOf("svc", hosts[1], 4);
  TwoRegistrationsCatalog* gates = nullptr;
  Node* a = nullptr;
  a = Add("node-a", /*stalls=*/true, [&](storage::EngineOptions* o) {
    o->partitions = 4;
    o->flush_threads = 2;
    o->wrap_catalog = [&](std::unique_ptr<catalog::Catalog> real) {
      auto wrapped = std::make_unique<TwoRegistrationsCatalog>(std::move(real), first,
                                                               [&a] { a->wal_catalog->Die(); });
      gates = wrapped.get();
      return std::unique_ptr<catalog::Catalog>(std::move(wrapped));
    };
  });
  Node* b = Add("node-b", /*stalls=*/false, [](storage::EngineOptions* o) { o->partitions = 4; });
  ASSERT_TRUE(a != nullptr && b != nullptr && gates != nullptr);
  BeatAll();
  // a is alive until it is killed: its heartbeats go on until then (or the test's end).
  std::thread beats([&] {
    while (!gates->dead()) {
      a->cluster->registry()->Beat().IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct StopBeats {
    TwoRegistrationsCatalog* gates;
    std::thread* beats;
    ~StopBeats() {
      gates->Die();
      beats->join();
    }
  } stop_beats{gates, &beats};

  std::vector<std::string> acknowledged;
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<Record> lines;
    for (int i = 0; i < 16; ++i) {
      Record r = Line("b" + std::to_string(batch), i);
      r.host = hosts[batch == 0 ? 0 : i % 2];
      acknowledged.push_back(r.message);
      lines.push_back(std::move(r));
    }
    Status s = a->engine->Append("default", &lines);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const size_t objects = WalObjectsWrittenBy("node-a");
  ASSERT_GE(objects, 2u);

  Status flushed;
  std::thread flush([&] { flushed = a->engine->Flush(); });
  const bool both = gates->first().WaitHeld(std::chrono::seconds(30)) &&
                    gates->second().WaitHeld(std::chrono::seconds(30));
  // The first commits and the node dies with it; then the second goes on, and fails.
  gates->first().Release();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (both && !gates->dead() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  gates->second().Release();
  flush.join();
  const bool killed = gates->dead();
  ASSERT_TRUE(both) << "the two flushes never registered at once";
  ASSERT_TRUE(killed) << "the first registration did not commit";
  EXPECT_FALSE(flushed.ok()) << "the second flush registered after the node was killed";
  // What the committed registration marked: the first batch's objects, or nothing.
  const size_t marked = gates->marked().size();
  if (oldest_first) {
    EXPECT_GE(marked, 1u) << "the first batch's objects were not marked flushed";
    EXPECT_LT(marked, objects) << "objects holding lines of the other flush were marked";
  } else {
    EXPECT_EQ(marked, 0u) << "objects holding lines of the other flush were marked";
  }

  TakeOverAndExpectStoredOnce(b, acknowledged);
}

TEST_F(StalledNodeTest, ANodeKilledBetweenTwoFlushCommitsLosesNoLineWhenTheOldestCommitsFirst) {
  KillBetweenTwoFlushes(/*oldest_first=*/true);
}

TEST_F(StalledNodeTest, ANodeKilledBetweenTwoFlushCommitsLosesNoLineWhenTheNewestCommitsFirst) {
  KillBetweenTwoFlushes(/*oldest_first=*/false);
}

TEST_F(StalledNodeTest, ANodeThatTakesBackObjectsItLostHoldsTheirLinesOnce) {
  TakeBackObjectsLost(/*unreadable=*/false);
}

TEST_F(StalledNodeTest, ANodeThatCannotReadWhatItLostTakesNothingBack) {
  TakeBackObjectsLost(/*unreadable=*/true);
}

// Node a holds 30 acknowledged lines and its takeover round passes its check (it has read its
// takeover generation since its last gap, and holds no rows it lost) when it stalls again,
// between that check and its claim (the test's hook holds the claim): past node_timeout, node b
// takes a's objects over and dies in turn (b's claim is made on the catalog directly, b's row
// dead throughout). a wakes and its claim, decided before, goes on over b's objects: they are
// a's own, whose rows its memtables still hold. The claim compares a's generation in its
// transaction and takes nothing; a's next round learns what it lost, flushes it out, and takes
// the objects back once: every line once. Before, the claim took them back beside their old
// rows: 60 of 30 lines, every line stored twice.
TEST_F(StalledNodeTest, ANodeThatStallsBetweenItsTakeoverCheckAndItsClaimTakesNothingBackTwice) {
  Node* a = Add("node-a", /*stalls=*/true);
  ASSERT_TRUE(a != nullptr && a->wal_catalog != nullptr);
  // A dead node whose objects a's rounds claim (none yet): its heartbeat is long past.
  ASSERT_TRUE(reader_->Heartbeat({"node-b", "http://node-b.invalid", 1, 2}).ok());
  Ingest(a, "a", 30);
  // a's heartbeats, every 100 ms while "awake", until the end of the test.
  std::atomic<bool> awake{true}, done{false};
  std::thread beats([&] {
    while (!done.load()) {
      if (awake.load()) a->cluster->registry()->Beat().IgnoreError();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  struct Join {
    std::atomic<bool>* done;
    std::thread* thread;
    ~Join() {
      done->store(true);
      thread->join();
    }
  } join{&done, &beats};
  a->wal_catalog->HoldNextClaim();
  a->cluster->Start(a->engine.get());
  // Once a's heartbeats are steady for node_timeout, its round passes the check and claims.
  const bool held = a->wal_catalog->WaitClaimHeld(std::chrono::seconds(30));
  if (held) {
    // The second stall: no heartbeat; b finds a dead, takes its objects, and dies.
    awake = false;
    std::this_thread::sleep_for(kStall);
    auto taken = reader_->ClaimWalObjects({"node-a"}, "node-b", 64,
                                          Clock::Real()->NowNanos() - kNodeTimeout);
    EXPECT_TRUE(taken.ok() && !taken->empty()) << "node b took nothing of node a";
    awake = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a beats again
  }
  a->wal_catalog->ReleaseClaim();
  ASSERT_TRUE(held) << "node a's takeover round never claimed";

  // a's rounds: every object back with a, replayed, flushed and gone.
  auto owned_by = [&](const std::string& owner) {
    auto rows = reader_->ListWalObjects(owner);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->size() : size_t{0};
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((owned_by("node-b") > 0 || WalObjectsWrittenBy("node-a") > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(owned_by("node-b"), 0u) << "a did not take its objects back";
  EXPECT_EQ(WalObjectsWrittenBy("node-a"), 0u) << "a did not flush them";
  auto counted = Count(a);
  ASSERT_TRUE(counted.ok()) << counted.status().ToString();
  EXPECT_EQ(CountOf(*counted), 30) << "node a holds lines twice";
  ASSERT_TRUE(a->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 30u);
  for (const auto& [message, n] : seen) EXPECT_EQ(n, 1) << message << " stored " << n << " times";
}

// Node a flushes 40 lines (a segment its heartbeat never confirms: it has no engine-fed
// confirmation, as a node whose flush answer came back just before it died) and then stops
// heartbeating; b's takeover round fences it once it is dead (docs/cluster.md "Gone nodes").
// Returns once a is dead to b; "a" stays as the paused old process.
void StalledNodeTest::StallWithUnconfirmedSegment(Node* a) {
  Ingest(a, "a", 40);
  ASSERT_TRUE(a->engine->Flush().ok());
  ASSERT_EQ(WalObjectsWrittenBy("node-a"), 0u);
  ASSERT_EQ(LinesInSegments().size(), 40u);
}

// Waits (up to 30 s) for a fence of node-a: the row's incarnation above "incarnation". Returns
// the fence's time (the row's incarnation then), 0 when none came.
int64_t StalledNodeTest::WaitFenced(int64_t incarnation) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    auto gone = reader_->ListGoneNodes();
    auto rows = reader_->ListNodes();
    if (gone.ok() && rows.ok() && !gone->empty()) {
      for (const catalog::NodeRow& row : *rows) {
        if (row.id == "node-a" && row.started_ns > incarnation) return row.started_ns;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return 0;
}

// Node a dies (its process paused, never to be resumed as this id's process) holding a segment
// it never confirmed; it is restarted, and its restart's first heartbeat is slow: node b's
// takeover round fences the dead incarnation between the restart's start (its incarnation) and
// that heartbeat, so the fence's time is above the restart's incarnation. The restart must
// register all the same (the fence was aimed at the incarnation before it), ingest and answer;
// the old process, woken, stays refused. Before, the catalog refused the restart's first
// heartbeat like the fenced process's and the restart failed ("registered by a later
// incarnation"), needing another restart.
TEST_F(StalledNodeTest, ARestartWhoseFirstHeartbeatRacesAFenceOfItsEarlierIncarnationRegisters) {
  Node* a = Add("node-a", /*stalls=*/true);
  Node* b = Add("node-b", /*stalls=*/false);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  BeatAll();
  StallWithUnconfirmedSegment(a);
  const int64_t old_incarnation = a->cluster->registry()->incarnation();

  // The restart (its own data directory: a node's disk holds nothing durable) takes its
  // incarnation now and waits in its first heartbeat.
  UnreadableTakeoversCatalog* restart_catalog = nullptr;
  hold_first_heartbeat_ = true;
  Node* a2 = nullptr;
  std::thread restart([&] {
    a2 = Add(
        "node-a", /*stalls=*/false,
        [&](storage::EngineOptions* o) { o->data_dir = (dir_ / "node-a-restarted").string(); },
        &restart_catalog);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (restart_catalog == nullptr && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(restart_catalog != nullptr);
  ASSERT_TRUE(restart_catalog->WaitHeartbeatHeld(std::chrono::seconds(30)));
  // b finds the old incarnation dead and fences it (its rounds run every heartbeat).
  const int64_t fenced_at = WaitFenced(old_incarnation);
  restart_catalog->ReleaseHeartbeats();
  restart.join();
  hold_first_heartbeat_ = false;
  ASSERT_NE(fenced_at, 0) << "node b did not fence node a";
  ASSERT_TRUE(a2 != nullptr) << "the restart of node a was refused";
  // The race as meant: the fence's time is above the restart's incarnation.
  EXPECT_LT(a2->cluster->registry()->incarnation(), fenced_at)
      << "old " << old_incarnation << ", restart " << a2->cluster->registry()->incarnation();
  // The test's in-process fan-out finds a node by id: node-a is the restart now.
  a->id = "node-a-paused";

  // The restart ingests and answers, through itself and through b, every line once.
  Ingest(a2, "a2", 10);
  ASSERT_TRUE(a2->cluster->registry()->Beat().ok());
  ASSERT_TRUE(b->cluster->registry()->Beat().ok());
  ASSERT_EQ(b->cluster->registry()->Peers().size(), 1u) << "node b does not see node a live";
  for (Node* asking : {a2, b}) {
    auto r = Count(asking);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(CountOf(*r), 50) << "on " << asking->id;
    EXPECT_FALSE(r->partial) << "on " << asking->id << ": " << Warnings(*r);
  }
  // The old process wakes: refused, and the restart keeps its row.
  Status woken = a->cluster->registry()->Beat();
  EXPECT_EQ(woken.code(), StatusCode::kFailedPrecondition) << woken.ToString();
  auto rows = reader_->ListNodes();
  ASSERT_TRUE(rows.ok());
  for (const catalog::NodeRow& row : *rows) {
    if (row.id == "node-a") {
      EXPECT_EQ(row.started_ns, a2->cluster->registry()->incarnation());
    }
  }
  ASSERT_TRUE(a2->engine->Flush().ok());
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 50u);
  for (const auto& [message, n] : seen) EXPECT_EQ(n, 1) << message << " stored " << n << " times";
}

// The fenced process itself wakes (paused, not restarted): its heartbeat is refused, saying it
// was fenced out, its flush registers nothing, and no node asks it; a restart afterwards
// registers. Holds on the build before too: the restart rule must not let the old process in.
TEST_F(StalledNodeTest, AFencedProcessThatWakesStaysRefused) {
  Node* a = Add("node-a", /*stalls=*/true);
  Node* b = Add("node-b", /*stalls=*/false);
  ASSERT_TRUE(a != nullptr && b != nullptr);
  BeatAll();
  StallWithUnconfirmedSegment(a);
  Ingest(a, "a-late", 5);  // acknowledged before the stall ends, in an object b takes over
  const int64_t old_incarnation = a->cluster->registry()->incarnation();
  ASSERT_NE(WaitFenced(old_incarnation), 0) << "node b did not fence node a";

  Status woken = a->cluster->registry()->Beat();
  EXPECT_EQ(woken.code(), StatusCode::kFailedPrecondition) << woken.ToString();
  EXPECT_FALSE(a->engine->Flush().ok() && LinesInSegments().count("a-late line 0") > 1)
      << "the fenced process stored lines its taker holds";
  ASSERT_TRUE(b->cluster->registry()->Beat().ok());
  EXPECT_TRUE(b->cluster->registry()->Peers().empty()) << "node b asks the fenced process";
  ASSERT_TRUE(b->engine->Flush().ok());
  auto r = Count(b);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(CountOf(*r), 45);

  // A restart after the fence registers as ever; the old process stays out.
  a->id = "node-a-paused";  // the in-process fan-out finds a node by id
  Node* a2 = Add("node-a", /*stalls=*/false, [&](storage::EngineOptions* o) {
    o->data_dir = (dir_ / "node-a-restarted").string();
  });
  ASSERT_TRUE(a2 != nullptr);
  EXPECT_EQ(a->cluster->registry()->Beat().code(), StatusCode::kFailedPrecondition);
  const std::map<std::string, int> seen = LinesInSegments();
  EXPECT_EQ(seen.size(), 45u);
  for (const auto& [message, n] : seen) EXPECT_EQ(n, 1) << message << " stored " << n << " times";
}

}  // namespace
}  // namespace sawmill::cluster
