// A node that loses a job's lease while its round runs (it stalled past the ttl and another node
// took the job, or a renewal failed) must not commit what the round did: the real storage engine
// (real files, a real SQLite catalog) with JobLeases behind storage/job_gate.h, as the server
// wires them. Each round claims its lease (compaction and tiers: the partition's), loses it to
// another node, and then tries to commit: compaction (the swap), tiers (the move's transaction)
// and retention (a deletion) are abandoned, logged and counted, and nothing they did shows,
// whether the check before the commit sees the loss or the catalog refuses the commit in its
// own transaction (the lease taken after the check); with the lease held the same round commits
// (so the lease is what stopped it). StillHeld's own rules are tested first.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "catalog/catalog.h"
#include "catalog/forwarding_catalog.h"
#include "catalog/sqlite_catalog.h"
#include "cluster/job_leases.h"
#include "common/metrics.h"
#include "storage/engine.h"
#include "storage/job_gate.h"
#include "storage/retention.h"
#include "storage/segment_files.h"

namespace sawmill::cluster {
namespace {

constexpr int64_t kTtl = 30 * kNanosPerSecond;
constexpr int64_t kDay = storage::kNanosPerDay;

JobLeaseOptions Options(const std::string& holder, ManualClock* clock) {
  JobLeaseOptions o;
  o.holder = holder;
  o.ttl_ns = kTtl;
  o.clock = clock;
  o.background = false;
  return o;
}

std::filesystem::path TestDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("sawmill_job_rounds_" + std::to_string(::getpid()) + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// sawmill_job_rounds_abandoned_total{job="job"}.
double Abandoned(const std::string& job) {
  for (const auto& family : MetricsRegistry().Collect()) {
    if (family.name != "sawmill_job_rounds_abandoned_total") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "job" && label.value == job) return metric.counter.value;
      }
    }
  }
  return 0;
}

TEST(JobLeases, StillHeldOnlyWithoutABreakSinceTheClaim) {
  const auto dir = TestDir();
  auto opened = catalog::OpenSqliteCatalog((dir / "catalog.db").string());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<catalog::Catalog> catalog = std::move(*opened);
  ManualClock clock(1'000 * kNanosPerSecond);
  JobLeases a(catalog.get(), Options("a#1", &clock));
  JobLeases b(catalog.get(), Options("b#1", &clock));

  EXPECT_FALSE(a.StillHeld("compaction"));  // never claimed: no round to commit
  ASSERT_TRUE(a.Claim("compaction"));
  EXPECT_TRUE(a.StillHeld("compaction"));
  // Renewed by the check once half the ttl has passed: b cannot take it 20 s after that.
  clock.Advance(20 * kNanosPerSecond);
  EXPECT_TRUE(a.StillHeld("compaction"));
  clock.Advance(20 * kNanosPerSecond);
  EXPECT_FALSE(b.Claim("compaction"));
  EXPECT_TRUE(a.StillHeld("compaction"));

  // A renewal that fails in the catalog is a break, even once the catalog works again.
  clock.Advance(20 * kNanosPerSecond);
  catalog->SetCommitHook([] { return Status::IOError("catalog unreachable (injected)"); });
  EXPECT_FALSE(a.StillHeld("compaction"));
  catalog->SetCommitHook(nullptr);
  EXPECT_FALSE(a.StillHeld("compaction"));
  ASSERT_TRUE(a.Claim("compaction"));  // the next round claims anew
  EXPECT_TRUE(a.StillHeld("compaction"));

  // Taken by another node after a stall past the ttl.
  clock.Advance(kTtl + kNanosPerSecond);
  ASSERT_TRUE(b.Claim("compaction"));
  EXPECT_FALSE(a.StillHeld("compaction"));
  EXPECT_TRUE(b.StillHeld("compaction"));

  // A node that stops (giving its leases up) commits nothing more.
  b.Stop(/*release=*/true);
  EXPECT_FALSE(b.StillHeld("compaction"));
  std::filesystem::remove_all(dir);
}

TEST(JobLeases, ABackgroundRenewalThatFailsIsABreak) {
  const auto dir = TestDir();
  auto opened = catalog::OpenSqliteCatalog((dir / "catalog.db").string());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<catalog::Catalog> catalog = std::move(*opened);
  JobLeaseOptions o;
  o.holder = "a#1";
  o.ttl_ns = 2 * kNanosPerSecond;  // renewed every ~667 ms
  JobLeases a(catalog.get(), o);
  ASSERT_TRUE(a.Claim("tiers"));
  catalog->SetCommitHook([] { return Status::IOError("catalog unreachable (injected)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // at least one renewal fails
  catalog->SetCommitHook(nullptr);
  EXPECT_FALSE(a.StillHeld("tiers"));
  a.Stop(/*release=*/true);
  std::filesystem::remove_all(dir);
}

// The engine and two nodes' leases on its catalog; node "a" is the one whose rounds run here.
class LostLeaseRound : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    options_.wrap_catalog = [this](std::unique_ptr<catalog::Catalog> real) {
      auto hooked = std::make_unique<catalog::OnceBeforeCatalog>(std::move(real));
      hooked_ = hooked.get();
      return std::unique_ptr<catalog::Catalog>(std::move(hooked));
    };
    options_.data_dir = (dir_ / "data").string();
    options_.clock = &clock_;
    options_.background_threads = false;
    options_.partitions = 1;
    options_.compaction_min_inputs = 2;
    options_.warm_after_ns = 3 * kDay;
    options_.cold_after_ns = 0;
    auto e = storage::Engine::Open(options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    a_ = std::make_unique<JobLeases>(engine_->catalog(), Options("a#1", &lease_clock_));
    b_ = std::make_unique<JobLeases>(engine_->catalog(), Options("b#1", &lease_clock_));
    // As the server sets them (src/http/server_app.cc).
    storage::SetJobGate([this](std::string_view job) { return a_->Claim(job); });
    storage::SetJobLeaseCheck([this](std::string_view job) { return a_->StillHeld(job); });
    storage::SetPartitionLeases([this]() -> storage::PartitionLeases* { return a_.get(); });
  }
  void TearDown() override {
    storage::SetJobGate(nullptr);
    storage::SetJobLeaseCheck(nullptr);
    storage::SetPartitionLeases(nullptr);
    a_.reset();
    b_.reset();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  // One flushed segment of "n" lines written "age" ago.
  void Ingest(int n, int64_t age_ns) {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i) {
      Record r;
      r.service = "api";
      r.host = "h1";
      r.level = Level::kInfo;
      r.ts = clock_.NowNanos() - age_ns + i;
      r.message = "line " + std::to_string(lines_++);
      batch.push_back(std::move(r));
    }
    ASSERT_TRUE(engine_->Append("acme", &batch).ok());
    ASSERT_TRUE(engine_->Flush().ok());
  }
  // The catalog's segments by tier, and every line a search sees.
  std::map<std::string, int> Tiers() {
    std::map<std::string, int> out;
    auto segments = engine_->ListSegments();
    EXPECT_TRUE(segments.ok());
    for (const auto& s : segments.value_or({})) ++out[s.tier];
    return out;
  }
  int Lines() {
    int n = 0;
    auto snap = engine_->GetSnapshot("acme");
    for (const storage::SegmentHandle& h : snap->segments) {
      auto reader = h.open();
      EXPECT_TRUE(reader.ok()) << reader.status().ToString();
      if (reader.ok()) n += static_cast<int>((*reader)->info().rows);
    }
    return n;
  }
  size_t SegmentFiles() {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "data")) {
      n += e.is_regular_file() && e.path().extension() == ".seg";
    }
    return n;
  }
  // Node a stalls past the ttl and node b takes "job": a's round in progress has lost it.
  void LoseTheLease(const std::string& job) {
    lease_clock_.Advance(kTtl + kNanosPerSecond);
    ASSERT_TRUE(b_->Claim(job));
  }
  // The lease of "job" on the engine's one partition of tenant acme.
  static std::string Lease(const std::string& job) {
    return storage::PartitionJobLease(job, "acme", 0);
  }
  // Node a stalls past the ttl and node b takes the partition lease of "job", the next time a's
  // round calls the catalog's "call": after its claim, before its commit.
  void LoseTheLeaseAt(const std::string& call, const std::string& job) {
    hooked_->Once(call, [this, job] {
      lease_clock_.Advance(kTtl + kNanosPerSecond);
      EXPECT_EQ(b_->ClaimSome({Lease(job)}, 1).size(), 1u);
    });
  }
  // The same for the whole-job lease "job" (retention).
  void LoseTheWholeLeaseAt(const std::string& call, const std::string& job) {
    hooked_->Once(call, [this, job] {
      lease_clock_.Advance(kTtl + kNanosPerSecond);
      EXPECT_TRUE(b_->Claim(job));
    });
  }
  // A retention of one day, run by the test (RunOnce), and two segments of 50 lines each that
  // the clock has moved two days past.
  void StartRetentionPastTwoSegments(std::unique_ptr<storage::Retention>* retention) {
    storage::RetentionOptions o;
    o.engine = engine_.get();
    o.clock = &clock_;
    o.config.defaults.retention_ns = kDay;
    o.interval_ns = 0;
    auto started = storage::Retention::Start(std::move(o));
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    *retention = std::move(*started);
    Ingest(50, 0);
    Ingest(50, 0);
    clock_.Advance(2 * kDay);
  }
  // The retention round was abandoned once more than "abandoned" and deleted nothing: both
  // segments, their files and their lines are there.
  void ExpectAbandonedDeletingNothing(double abandoned) {
    EXPECT_EQ(Abandoned("retention"), abandoned + 1);
    EXPECT_EQ(Tiers()["hot"], 2);
    EXPECT_EQ(SegmentFiles(), 2u);  // nothing the catalog names is deleted
    EXPECT_EQ(Lines(), 100);
  }
  // b hands the lease back: a's next round deletes both segments. Stops "retention".
  void HandBackAndDeleteBoth(storage::Retention* retention) {
    HandBack();
    {
      ASSERT_TRUE(storage::MayRunJob("retention"));
      storage::JobRound round("retention");
      auto report = retention->RunOnce();
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      EXPECT_EQ(report->deleted_segments, 2u);
    }
    EXPECT_EQ(Lines(), 0);
    retention->Stop();
  }
  // b hands the jobs back (a clean stop), so a's next claim succeeds.
  void HandBack() { b_->Stop(/*release=*/true); }

  std::filesystem::path dir_;
  ManualClock clock_{1767225600LL * kNanosPerSecond};
  ManualClock lease_clock_{1'000 * kNanosPerSecond};
  storage::EngineOptions options_;
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<JobLeases> a_, b_;
  catalog::OnceBeforeCatalog* hooked_ = nullptr;
  int lines_ = 0;
};

// The loss seen by the check before the swap (b took the lease while a merged).
TEST_F(LostLeaseRound, CompactionDoesNotSwapAfterThePartitionLeaseIsLost) {
  for (int i = 0; i < 4; ++i) Ingest(50, 0);
  ASSERT_EQ(Tiers()["hot"], 4);
  const double abandoned = Abandoned("compaction");
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition);
    LoseTheLeaseAt("AllocateSegmentId", "compaction");  // after the claim, before the merge
    Status s = engine_->CompactNow();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("compaction round lost its lease " + Lease("compaction")),
              std::string::npos)
        << s.message();
  }
  EXPECT_EQ(Abandoned("compaction"), abandoned + 1);
  EXPECT_EQ(Tiers()["hot"], 4);   // no swap
  EXPECT_EQ(SegmentFiles(), 4u);  // the merged output is deleted
  EXPECT_EQ(Lines(), 200);
  {
    // b holds the partition now: a's next round leaves it alone.
    storage::JobRound round("compaction", storage::JobRound::kPerPartition);
    ASSERT_TRUE(engine_->CompactNow().ok());
    EXPECT_EQ(Tiers()["hot"], 4);
  }

  HandBack();
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition);
    ASSERT_TRUE(engine_->CompactNow().ok());
  }
  EXPECT_EQ(Tiers()["hot"], 1);
  EXPECT_EQ(Lines(), 200);
  EXPECT_EQ(Abandoned("compaction"), abandoned + 1);
}

// The lease taken after the check, just before the swap: the catalog refuses the swap in its own
// transaction (a node's check passing half a ttl before a slow commit is no fence). Before the
// fence was in the transaction, this swap committed under b's lease.
TEST_F(LostLeaseRound, ACompactionWhoseLeaseIsTakenAfterItsCheckIsRefusedInTheSwap) {
  for (int i = 0; i < 4; ++i) Ingest(50, 0);
  const double abandoned = Abandoned("compaction");
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition);
    LoseTheLeaseAt("Replace", "compaction");
    Status s = engine_->CompactNow();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("is held by b#1"), std::string::npos) << s.message();
  }
  EXPECT_EQ(Abandoned("compaction"), abandoned + 1);
  EXPECT_EQ(Tiers()["hot"], 4);   // no swap
  EXPECT_EQ(SegmentFiles(), 4u);  // the merged output is deleted
  EXPECT_EQ(Lines(), 200);
  HandBack();
  {
    storage::JobRound round("compaction", storage::JobRound::kPerPartition);
    ASSERT_TRUE(engine_->CompactNow().ok());
  }
  EXPECT_EQ(Tiers()["hot"], 1);
  EXPECT_EQ(Lines(), 200);
}

TEST_F(LostLeaseRound, ATierRoundMovesNothingAfterThePartitionLeaseIsLost) {
  Ingest(50, 5 * kDay);
  Ingest(50, 4 * kDay);
  const double abandoned = Abandoned("tiers");
  {
    storage::JobRound round("tiers", storage::JobRound::kPerPartition);
    LoseTheLeaseAt("Replace", "tiers");  // the first move's transaction
    Status s = engine_->RunTiersNow();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("is held by b#1"), std::string::npos) << s.message();
  }
  EXPECT_EQ(Abandoned("tiers"), abandoned + 1);
  EXPECT_EQ(Tiers(), (std::map<std::string, int>{{"hot", 2}}));
  EXPECT_EQ(SegmentFiles(), 2u);  // the warm copy is deleted
  EXPECT_EQ(Lines(), 100);
  {
    // b holds the partition now: a's next round leaves it alone.
    storage::JobRound round("tiers", storage::JobRound::kPerPartition);
    ASSERT_TRUE(engine_->RunTiersNow().ok());
  }
  EXPECT_EQ(Tiers(), (std::map<std::string, int>{{"hot", 2}}));

  HandBack();
  {
    storage::JobRound round("tiers", storage::JobRound::kPerPartition);
    ASSERT_TRUE(engine_->RunTiersNow().ok());
  }
  EXPECT_EQ(Tiers(), (std::map<std::string, int>{{"warm", 2}}));
  EXPECT_EQ(Lines(), 100);
  EXPECT_EQ(Abandoned("tiers"), abandoned + 1);

  // Outside a round (an operator's move, disk pressure) no lease is asked for.
  storage::SetPartitionLeases([]() -> storage::PartitionLeases* { return nullptr; });
  Ingest(50, 6 * kDay);
  auto moved = engine_->MoveTiers(3 * kDay, "warm");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->to_warm, 1u);
}

TEST_F(LostLeaseRound, RetentionDeletesNothingAfterTheLeaseIsLost) {
  std::unique_ptr<storage::Retention> retention;
  ASSERT_NO_FATAL_FAILURE(StartRetentionPastTwoSegments(&retention));
  const double abandoned = Abandoned("retention");
  {
    ASSERT_TRUE(storage::MayRunJob("retention"));
    storage::JobRound round("retention");
    LoseTheLease("retention");
    auto report = retention->RunOnce();
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(report.status().message().find("retention round lost its lease"), std::string::npos)
        << report.status().message();
  }
  ExpectAbandonedDeletingNothing(abandoned);

  ASSERT_NO_FATAL_FAILURE(HandBackAndDeleteBoth(retention.get()));
}

// The lease taken after the round's check, just before a deletion's transaction: the catalog
// refuses the deletion in that transaction and the round ends. Before the fence was in the
// transaction, both segments were deleted under b's lease.
TEST_F(LostLeaseRound, ARetentionDeletionWhoseLeaseIsTakenAfterItsCheckIsRefusedInItsTransaction) {
  std::unique_ptr<storage::Retention> retention;
  ASSERT_NO_FATAL_FAILURE(StartRetentionPastTwoSegments(&retention));
  const double abandoned = Abandoned("retention");
  {
    ASSERT_TRUE(storage::MayRunJob("retention"));
    storage::JobRound round("retention");
    LoseTheWholeLeaseAt("RetireSegments", "retention");
    auto report = retention->RunOnce();
    ASSERT_FALSE(report.ok());
    EXPECT_TRUE(catalog::IsLeaseFenceRefusal(report.status())) << report.status().ToString();
    EXPECT_NE(report.status().message().find("is held by b#1"), std::string::npos)
        << report.status().message();
  }
  ExpectAbandonedDeletingNothing(abandoned);
  auto retired = engine_->catalog()->ListRetiredSegments();
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->empty());

  ASSERT_NO_FATAL_FAILURE(HandBackAndDeleteBoth(retention.get()));
}

// A cold move whose partition lease is taken after its check, by a node that moves the same
// segment (its update names the cold object of the same name): a's update is refused in its
// transaction, and a deletes nothing the row names. Before the fence, a's update committed under
// b's lease; before the read-back, a refused move deleted the cold copy b's row names.
TEST_F(LostLeaseRound, AColdMoveWhoseLeaseIsTakenAfterItsCheckIsRefusedAndKeepsWhatTheRowNames) {
  Ingest(50, 5 * kDay);
  // Warm first (a cold move copies a warm segment's bytes), outside a round: no lease asked.
  auto warm = engine_->MoveTiers(0, "warm");
  ASSERT_TRUE(warm.ok() && warm->to_warm == 1u);
  auto before = engine_->catalog()->List();
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 1u);
  const catalog::SegmentRow source = before->front();
  const std::string cold_name = storage::SharedSegmentName(source.tenant, source.id);
  hooked_->Once("Update", [&] {
    lease_clock_.Advance(kTtl + kNanosPerSecond);
    ASSERT_EQ(b_->ClaimSome({Lease("tiers")}, 1).size(), 1u);
    // b's move of the same segment: the same bytes under the same name, committed under its
    // lease.
    catalog::SegmentRow moved = source;
    moved.tier = std::string(catalog::kTierCold);
    moved.store = std::string(catalog::kColdStore);
    moved.path = cold_name;
    const std::optional<catalog::LeaseFence> fence = b_->Fence(Lease("tiers"));
    ASSERT_TRUE(fence.has_value());
    ASSERT_TRUE(engine_->catalog()->Update({moved}, &*fence).ok());
  });
  const double abandoned = Abandoned("tiers");
  {
    storage::JobRound round("tiers", storage::JobRound::kPerPartition);
    auto moved = engine_->MoveTiers(0, "cold");
    ASSERT_TRUE(moved.ok()) << moved.status().ToString();
    EXPECT_EQ(moved->to_cold, 0u);
    EXPECT_EQ(moved->failed, 1u);
    EXPECT_NE(moved->error.find("is held by b#1"), std::string::npos) << moved->error;
  }
  EXPECT_EQ(Abandoned("tiers"), abandoned + 1);
  auto row = engine_->catalog()->Get(source.id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->path, cold_name);  // b's move
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "cold" / cold_name))
      << "the cold object the catalog names was deleted";
}

}  // namespace
}  // namespace sawmill::cluster
