// The WAL object writer (wal_object_writer.h) on a real directory store and a real SQLite
// catalog file: acknowledged means in the store and registered; replay after a crash; orphans;
// deletion after flush; takeover and fencing. (Cluster tests on PostgreSQL and S3:
// tests/e2e_cluster_write.py.)
#include "cluster/wal_object_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>
#include <vector>

#include "catalog/sqlite_catalog.h"
#include "objstore/forwarding_store.h"
#include "objstore/local_directory_store.h"
#include "wal/record_batch.h"

namespace sawmill::cluster {
namespace {

class WalObjectWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("walobj-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "store");
    auto c = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(*c);
    store_ =
        std::make_shared<objstore::LocalDirectoryStore>(Env::Default(), (dir_ / "store").string());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<WalObjectWriter> Open(const std::string& node, std::vector<uint64_t>* applied,
                                        int64_t incarnation = 1) {
    WalObjectOptions o;
    o.node = node;
    o.incarnation = incarnation;
    o.interval_ns = 20 * kNanosPerMilli;
    o.seq_block = 100;
    o.persist_deadline_ns = 2 * kNanosPerSecond;
    auto w = WalObjectWriter::Open(catalog_.get(), store_, Clock::Real(), o,
                                   [applied](wal::WalBatch& b) {
                                     std::vector<Record> records;
                                     wal::BatchHeader h;
                                     ASSERT_TRUE(wal::DecodeBatch(b.payload, &records, &h).ok());
                                     for (const Record& r : records) applied->push_back(r.seq);
                                   });
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return std::move(w).value();
  }

  static wal::WalBatch Batch(int lines) {
    std::vector<Record> records(static_cast<size_t>(lines));
    for (int i = 0; i < lines; ++i) {
      records[static_cast<size_t>(i)].message = "line " + std::to_string(i);
      records[static_cast<size_t>(i)].ts = records[static_cast<size_t>(i)].ingest_ts = 1000 + i;
    }
    wal::WalBatch b;
    wal::EncodeBatch("t1", records, &b.payload);
    b.count = static_cast<uint64_t>(lines);
    b.min_ingest_ts = 1000;
    b.max_ingest_ts = 1000 + lines;
    return b;
  }

  std::filesystem::path dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
  std::shared_ptr<objstore::LocalDirectoryStore> store_;
};

TEST_F(WalObjectWriterTest, AnAcknowledgedBatchIsInARegisteredObjectAndAppliedInSeqOrder) {
  std::vector<uint64_t> applied;
  auto w = Open("n1", &applied);
  ASSERT_TRUE(w->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        wal::WalBatch b = Batch(3);
        if (w->Commit(&b).ok()) {
          // Acknowledged: registered, and its object is in the store.
          auto rows = catalog_->ListWalObjects("n1");
          bool found = false;
          for (const auto& r : *rows) {
            if (r.first_seq <= b.base_seq && b.base_seq + 2 <= r.last_seq) {
              found = store_->Size(r.name).ok();
            }
          }
          EXPECT_TRUE(found) << b.base_seq;
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  ASSERT_EQ(applied.size(), 120u);
  for (size_t i = 1; i < applied.size(); ++i) EXPECT_LT(applied[i - 1], applied[i]);
  auto rows = catalog_->ListWalObjects("n1");
  ASSERT_TRUE(rows.ok());
  uint64_t batches = 0;
  for (const auto& r : *rows) {
    batches += r.batches;
    EXPECT_EQ(r.name, WalObjectName("n1", r.first_seq, r.last_seq));
    std::string data;
    ASSERT_TRUE(store_->GetRange(r.name, 0, *store_->Size(r.name), &data).ok());
    std::vector<wal::WalDamage> damage;
    EXPECT_EQ(ReadWalObjectRecords(r.name, data, &damage).size(), r.batches);
    EXPECT_TRUE(damage.empty());
  }
  EXPECT_EQ(batches, 40u);
  // Flushed up to everything: rows and objects go.
  EXPECT_EQ(w->DeleteObsoleteFiles(applied.back() + 1), static_cast<int>(rows->size()));
  EXPECT_TRUE(catalog_->ListWalObjects("")->empty());
  EXPECT_TRUE(store_->List("wal/")->empty());
  ASSERT_TRUE(w->Close().ok());
}

TEST_F(WalObjectWriterTest, BatchesThatTakeNoSeqDoNotReplaceEachOthersObject) {
  std::vector<uint64_t> applied;
  auto w = Open("n1", &applied);
  ASSERT_TRUE(w->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  for (int i = 0; i < 2; ++i) {
    wal::WalBatch b = Batch(0);  // count 0; each in an object of its own (Commit waits for it)
    ASSERT_TRUE(w->Commit(&b).ok());
  }
  auto rows = catalog_->ListWalObjects("n1");
  ASSERT_TRUE(rows.ok());
  size_t records = 0;
  for (const auto& r : *rows) {
    std::string data;
    ASSERT_TRUE(store_->GetRange(r.name, 0, *store_->Size(r.name), &data).ok());
    records += ReadWalObjectRecords(r.name, data, nullptr).size();
  }
  EXPECT_EQ(rows->size(), 2u);
  EXPECT_EQ(records, 2u);  // both acknowledged batches are still there to replay
}

TEST_F(WalObjectWriterTest, ARestartReplaysUnflushedObjectsDeletesOrphansAndTakesNewSeqs) {
  std::vector<uint64_t> applied;
  uint64_t last = 0;
  {
    auto w = Open("n1", &applied);
    ASSERT_TRUE(w->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
    for (int i = 0; i < 3; ++i) {
      wal::WalBatch b = Batch(2);
      ASSERT_TRUE(w->Commit(&b).ok());
      last = b.base_seq + 1;
    }
    ASSERT_TRUE(w->Close().ok());
  }
  // A PUT whose registration never happened: no row names it.
  ASSERT_TRUE(store_->Put(WalObjectName("n1", 900, 901), "never acknowledged").ok());
  std::vector<uint64_t> replayed_seqs;
  std::vector<uint64_t> applied2;
  auto w = Open("n1", &applied2);
  auto max = w->Replay([&](std::string_view payload, uint64_t* max_seq) {
    std::vector<Record> records;
    RETURN_IF_ERROR(wal::DecodeBatch(payload, &records));
    for (const Record& r : records) replayed_seqs.push_back(r.seq);
    *max_seq = records.back().seq;
    return Status::OK();
  });
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_EQ(*max, last);
  EXPECT_EQ(replayed_seqs, applied);
  EXPECT_FALSE(store_->Size(WalObjectName("n1", 900, 901)).ok());
  w->SetNextSeq(*max + 1);
  wal::WalBatch b = Batch(1);
  ASSERT_TRUE(w->Commit(&b).ok());
  EXPECT_GT(b.base_seq, last);
}

TEST_F(WalObjectWriterTest, ADeadNodesObjectsAreTakenOverOnceAndItsOwnerIsFencedOut) {
  std::vector<uint64_t> applied_a, applied_b;
  auto a = Open("a", &applied_a);
  ASSERT_TRUE(a->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  for (int i = 0; i < 4; ++i) {
    wal::WalBatch b = Batch(5);
    ASSERT_TRUE(a->Commit(&b).ok());
  }
  ASSERT_TRUE(catalog_->Heartbeat({"a", "http://a", 1, 100}).ok());
  auto b = Open("b", &applied_b);
  ASSERT_TRUE(b->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  // "a" beat at 100: alive for a claim that counts heartbeats from 50 on.
  EXPECT_EQ(*b->TakeOver({"a"}, 50, 100), 0u);
  auto taken = b->TakeOver({"a"}, 200, 100);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_GE(*taken, 1u);
  EXPECT_EQ(applied_b, applied_a);  // every line of a, once
  EXPECT_EQ(*b->TakeOver({"a"}, 200, 100), 0u);
  // a (not dead after all) cannot drop what b answers for now; b can.
  EXPECT_EQ(a->DeleteObsoleteFiles(UINT64_MAX), 0);
  EXPECT_EQ(catalog_->ListWalObjects("b")->size(), *taken);
  EXPECT_EQ(b->DeleteObsoleteFiles(UINT64_MAX), static_cast<int>(*taken));
  EXPECT_TRUE(store_->List("wal/a/")->empty());
}

// A segment row as a flush registers it, for the seqs "seqs".
catalog::SegmentRow SegmentOf(uint64_t id, const std::vector<uint64_t>& seqs) {
  catalog::SegmentRow r;
  r.id = id;
  r.tenant = "t1";
  r.min_seq = seqs.front();
  r.max_seq = seqs.back();
  r.rows = seqs.size();
  r.path = "t1/" + std::to_string(id) + ".seg";
  r.tier = std::string(catalog::kTierCold);
  r.store = std::string(catalog::kColdStore);
  return r;
}

// A flush's registration through the writer's fence, as the engine's flusher does it
// (Flusher::Register): the fence, the catalog's one registration, the fence told of a refusal.
Status RegisterFenced(WalObjectWriter* w, catalog::Catalog* catalog, const catalog::SegmentRow& row,
                      const std::vector<uint64_t>& seqs,
                      const std::function<uint64_t()>& min_unflushed_after) {
  catalog::Catalog::WalFence fence;
  RETURN_IF_ERROR(w->PrepareFence(seqs, min_unflushed_after, &fence));
  auto change = catalog->RegisterSegment(row, w->node(), &fence);
  if (change.status().code() == StatusCode::kFailedPrecondition) w->Fenced(catalog, fence);
  return change.status();
}

bool Covered(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t seq) {
  for (const auto& [first, last] : ranges) {
    if (first <= seq && seq <= last) return true;
  }
  return false;
}

TEST_F(WalObjectWriterTest, AFlushOfRecordsWhoseObjectsWereTakenOverIsFencedAndTheyAreLost) {
  std::vector<uint64_t> applied_a, applied_b;
  ASSERT_TRUE(catalog_->Heartbeat({"a", "http://a", 1, 100}).ok());
  auto a = Open("a", &applied_a, /*incarnation=*/1);
  ASSERT_TRUE(a->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  for (int i = 0; i < 3; ++i) {
    wal::WalBatch b = Batch(4);
    ASSERT_TRUE(a->Commit(&b).ok());
  }
  const std::vector<uint64_t> before = applied_a;
  // a stalls past node_timeout: b takes its objects over.
  auto b = Open("b", &applied_b);
  ASSERT_TRUE(b->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  ASSERT_GE(*b->TakeOver({"a"}, 200, 100), 1u);
  EXPECT_EQ(applied_b, before);
  // a wakes and writes on: a new object, its own.
  ASSERT_TRUE(catalog_->Heartbeat({"a", "http://a", 1, 300}).ok());
  wal::WalBatch late = Batch(2);
  ASSERT_TRUE(a->Commit(&late).ok());
  const std::vector<uint64_t> after(applied_a.begin() + static_cast<long>(before.size()),
                                    applied_a.end());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_TRUE(a->LostSeqs().empty());

  // Its flush of everything it holds is refused, registers nothing, and names what it lost.
  std::vector<uint64_t> all = applied_a;
  Status s = RegisterFenced(a.get(), catalog_.get(), SegmentOf(1, all), all, [] { return 1u; });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_FALSE(catalog_->Get(1)->has_value());
  const auto lost = a->LostSeqs();
  for (uint64_t seq : before) EXPECT_TRUE(Covered(lost, seq)) << seq;
  for (uint64_t seq : after) EXPECT_FALSE(Covered(lost, seq)) << seq;
  // Without the lost rows it goes through, and the object whose records are then all in
  // segments is marked flushed in the same transaction.
  s = RegisterFenced(a.get(), catalog_.get(), SegmentOf(2, after), after,
                     [&] { return after.back() + 1; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(catalog_->Get(2)->has_value());
  // Registered as any flush of node a: its origin and number are in the segment changes.
  auto changes = catalog_->ListSegmentChanges(0, 0);
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->segments.size(), 1u);
  EXPECT_EQ(changes->segments[0].node, "a");
  EXPECT_GT(changes->segments[0].registered, 0u);
  auto mine = catalog_->ListWalObjects("a");
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].state, catalog::kWalObjectFlushed);
  EXPECT_EQ(a->DeleteObsoleteFiles(after.back() + 1), 1);
  // b's objects were not touched.
  auto of_b = catalog_->ListWalObjects("b");
  ASSERT_TRUE(of_b.ok());
  for (const auto& w : *of_b) EXPECT_EQ(w.state, catalog::kWalObjectUnflushed);

  // A later incarnation of a starts (a's process was replaced): the old one is fenced out of
  // everything and takes no more writes.
  wal::WalBatch more = Batch(1);
  ASSERT_TRUE(a->Commit(&more).ok());
  ASSERT_TRUE(catalog_->Heartbeat({"a", "http://a", 2, 400}).ok());
  EXPECT_EQ(catalog_->Heartbeat({"a", "http://a", 1, 500}).code(), StatusCode::kFailedPrecondition);
  const std::vector<uint64_t> last = {more.base_seq};
  s = RegisterFenced(a.get(), catalog_.get(), SegmentOf(3, last), last, [] { return 1u; });
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(catalog_->Get(3)->has_value());
  EXPECT_TRUE(Covered(a->LostSeqs(), more.base_seq));
  wal::WalBatch refused = Batch(1);
  EXPECT_EQ(a->Commit(&refused).code(), StatusCode::kUnavailable);
}

// A store whose every Put fails after its own retry budget ("budget": the S3 client's 3 s for
// WAL objects), or by the deadline PutWithin gives it when that comes first; it notes each.
class FailingSlowStore final : public objstore::ForwardingObjectStore {
 public:
  FailingSlowStore(std::shared_ptr<objstore::ObjectStore> base, std::chrono::milliseconds budget)
      : ForwardingObjectStore(std::move(base)), budget_(budget) {}
  std::vector<int64_t> budgets;  // those PutWithin was given, in ns

  Status Put(std::string_view name, std::string_view) override {
    std::this_thread::sleep_for(budget_);
    return Status::IOError("PUT " + std::string(name) + ": HTTP 503 SlowDown (gave up)");
  }
  Status PutWithin(std::string_view name, std::string_view, int64_t budget_ns) override {
    budgets.push_back(budget_ns);
    std::this_thread::sleep_for(
        std::min<std::chrono::nanoseconds>(budget_, std::chrono::nanoseconds(budget_ns)));
    return Status::IOError("PUT " + std::string(name) + ": HTTP 503 SlowDown (gave up)");
  }

 private:
  std::chrono::milliseconds budget_;
};

// The writer's persist deadline bounds the whole object, its last PUT included: each Put is
// given what is left of it (ObjectStore::PutWithin), so a store that keeps failing refuses the
// batch by the deadline, not up to one PUT's retry budget later (before: 10 s + 3 s in a
// cluster; docs/cluster.md "Failure cases").
TEST_F(WalObjectWriterTest, AnObjectTheStoreKeepsRefusingFailsByTheDeadlineNotAPutsBudgetLater) {
  auto store = std::make_shared<FailingSlowStore>(store_, std::chrono::milliseconds(1500));
  WalObjectOptions o;
  o.node = "n1";
  o.incarnation = 1;
  o.interval_ns = 20 * kNanosPerMilli;
  o.seq_block = 100;
  o.persist_deadline_ns = 2 * kNanosPerSecond;
  auto w = WalObjectWriter::Open(catalog_.get(), store, Clock::Real(), o,
                                 [](wal::WalBatch&) { ADD_FAILURE() << "applied"; });
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Replay([](std::string_view, uint64_t*) { return Status::OK(); }).ok());
  wal::WalBatch b = Batch(3);
  const auto start = std::chrono::steady_clock::now();
  const Status s = (*w)->Commit(&b);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  // The deadline, the interval before the buffer is sealed and a margin for a loaded machine;
  // without the deadline passed on: 1.5 + 0.05 + 1.5 s.
  EXPECT_LT(seconds, 2.0 + 0.5) << "refused " << seconds << " s after the commit";
  ASSERT_FALSE(store->budgets.empty()) << "no Put was given the deadline";
  for (int64_t budget : store->budgets) EXPECT_LE(budget, o.persist_deadline_ns);
  EXPECT_LT(store->budgets.back(), store->budgets.front());
  ASSERT_TRUE((*w)->Close().ok());
}

}  // namespace
}  // namespace sawmill::cluster
