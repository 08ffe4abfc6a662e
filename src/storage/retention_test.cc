// Retention on the real engine: real files (PosixEnv), a real SQLite catalog, and a ManualClock
// so that a year of lifecycle runs in seconds. What a user notices: lines past their retention
// disappear from snapshots (searches) and their files from the disk; held lines, compliance
// services and lines of tenants without a retention stay; the record says who, what and why.
#include "storage/retention.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "catalog/catalog.h"
#include "common/glob.h"
#include "storage/engine.h"

namespace sawmill::storage {
namespace {

constexpr int64_t kDay = kNanosPerDay;
constexpr int64_t kStart = 1767225600LL * 1'000'000'000;  // 2026-01-01T00:00:00Z

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_retention_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::remove_all(dir_);
    options_.data_dir = dir_.string();
    options_.clock = &clock_;
    options_.background_threads = false;
    options_.partitions = 4;
    Open();
  }
  void TearDown() override {
    retention_.reset();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open(RetentionConfig config = {}) {
    retention_.reset();
    engine_.reset();
    auto e = Engine::Open(options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    StartRetention(std::move(config));
  }
  void StartRetention(RetentionConfig config) {
    retention_.reset();
    RetentionOptions o;
    o.engine = engine_.get();
    o.clock = &clock_;
    o.config = std::move(config);
    o.interval_ns = 0;
    // A matcher that prunes on the service index alone (the query layer's is tested through
    // the server: tests/e2e/e2e_retention_test.py).
    o.matcher.may_match = [](std::string_view q,
                             const segment::SegmentReader& reader) -> Result<bool> {
      const std::string prefix = "service=";
      if (q.substr(0, prefix.size()) != prefix) return true;
      ASSIGN_OR_RETURN(auto rows, reader.Postings("service", q.substr(prefix.size())));
      return !rows.has_value() || !rows->isEmpty();
    };
    auto r = Retention::Start(std::move(o));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    retention_ = std::move(*r);
  }
  // "n" lines of "service" for "tenant" received now, flushed to a segment.
  void Ingest(const std::string& tenant, const std::string& service, int n,
              const std::string& host = "h1") {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i) {
      Record r;
      r.service = service;
      r.host = host;
      r.level = Level::kInfo;
      r.message = service + " line " + std::to_string(line_++);
      batch.push_back(std::move(r));
    }
    ASSERT_TRUE(engine_->Append(tenant, &batch).ok());
    ASSERT_TRUE(engine_->Flush().ok());
  }
  // Messages of "tenant" a search sees now, by service.
  std::map<std::string, int> Visible(const std::string& tenant) {
    std::map<std::string, int> out;
    auto snap = engine_->GetSnapshot(tenant);
    for (const SegmentHandle& h : snap->segments) {
      auto reader = h.open();
      EXPECT_TRUE(reader.ok()) << reader.status().ToString();
      if (!reader.ok()) continue;
      for (uint32_t b = 0; b < (*reader)->blocks().size(); ++b) {
        std::vector<Record> rows;
        EXPECT_TRUE((*reader)->ReadBlock(b, segment::kColAll, &rows, nullptr).ok());
        for (const Record& r : rows) ++out[r.service];
      }
    }
    return out;
  }
  size_t SegmentFiles() {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "segments")) {
      n += e.is_regular_file() && e.path().extension() == ".seg";
    }
    return n;
  }
  RetentionReport Round() {
    auto r = retention_->RunOnce();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RetentionReport{};
  }
  catalog::Catalog* cat() { return engine_->catalog(); }

  std::filesystem::path dir_;
  ManualClock clock_{kStart};
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Retention> retention_;
  int line_ = 0;
};

TEST(RetentionValues, DurationsLimitsAndPatterns) {
  EXPECT_EQ(*ParseRetentionDuration("30d"), 30 * kDay);
  EXPECT_EQ(*ParseRetentionDuration("7y"), 7 * 365 * kDay);
  EXPECT_EQ(*ParseRetentionDuration("2w"), 14 * kDay);
  EXPECT_EQ(*ParseRetentionDuration("36h"), 36 * 3600 * 1'000'000'000LL);
  EXPECT_EQ(*ParseRetentionDuration("forever"), 0);
  EXPECT_FALSE(ParseRetentionDuration("30 days").ok());
  EXPECT_FALSE(ParseRetentionDuration("-1d").ok());
  EXPECT_EQ(FormatRetentionDuration(30 * kDay), "30d");
  EXPECT_EQ(FormatRetentionDuration(7 * 365 * kDay), "7y");
  catalog::RetentionPolicyRow row;
  row.retention_ns = 396 * kDay;
  EXPECT_TRUE(ValidatePolicy(row, "").ok());
  row.retention_ns = 2 * 365 * kDay;  // 2y without a compliance tag: refused, saying how
  Status s = ValidatePolicy(row, "tenant acme");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("13 months"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("compliance"), std::string::npos) << s.message();
  catalog::ComplianceRuleRow rule;
  rule.service = "payments*";
  rule.retention_ns = 7 * 365 * kDay;
  EXPECT_TRUE(ValidateComplianceRule(rule, "").ok());
  rule.retention_ns = 11 * 365 * kDay;
  EXPECT_FALSE(ValidateComplianceRule(rule, "").ok());
  // Service patterns: GlobMatch(service, pattern) of common/glob.h.
  EXPECT_TRUE(GlobMatch("payments-ledger", "payments*"));
  EXPECT_TRUE(GlobMatch("x-payments", "*pay*"));
  EXPECT_FALSE(GlobMatch("web", "payments*"));
  EXPECT_TRUE(GlobMatch("web", "web"));
}

TEST_F(RetentionTest, NoRetentionConfiguredDeletesNothingEvenAfterYears) {
  Ingest("acme", "web", 5);
  clock_.Advance(5 * 365 * kDay);
  RetentionReport report = Round();
  EXPECT_EQ(report.deleted_segments, 0u);
  EXPECT_EQ(Visible("acme")["web"], 5);
  EXPECT_EQ(SegmentFiles(), 1u);
}

// A year of daily ingestion with a 30-day retention, a compliance service kept 7 years, and a
// tenant without a retention: after each simulated day, only what is proven expired is gone.
TEST_F(RetentionTest, AYearOfTimeTravel) {
  RetentionConfig config;
  config.tenants["acme"].tenant = "acme";
  config.tenants["acme"].retention_ns = 30 * kDay;
  catalog::ComplianceRuleRow rule;
  rule.service = "payments*";
  rule.retention_ns = 7 * 365 * kDay;
  rule.reason = "financial transactions";
  config.compliance.push_back(rule);
  Open(config);
  const int kDays = 365;
  for (int day = 0; day < kDays; day += 5) {
    Ingest("acme", "web", 3, "w" + std::to_string(day % 2));
    Ingest("acme", "payments-ledger", 2, "p1");
    Ingest("other", "web", 1);
    Round();
    clock_.Advance(5 * kDay);
  }
  Round();
  const int batches = (kDays + 4) / 5;
  auto acme = Visible("acme");
  // web: only the batches of the last 30 days (received at days 335..360, now = day 365).
  int expected_web = 0;
  for (int day = 0; day < kDays; day += 5) {
    if (kStart + day * kDay >= clock_.NowNanos() - 30 * kDay) expected_web += 3;
  }
  EXPECT_EQ(acme["web"], expected_web);
  EXPECT_EQ(acme["payments-ledger"], 2 * batches);  // compliance: 7 years
  EXPECT_EQ(Visible("other")["web"], batches);      // no retention: everything
  // Every deletion is on disk too, and recorded.
  auto deletions = cat()->ListRetentionEvents({"segment_delete", "", 0, 100000});
  ASSERT_TRUE(deletions.ok());
  EXPECT_EQ(deletions->size(), static_cast<size_t>(batches - expected_web / 3));
  for (const auto& e : *deletions) {
    EXPECT_EQ(e.actor, "retention");
    EXPECT_EQ(e.tenant, "acme");
    EXPECT_NE(e.reason.find("expired"), std::string::npos) << e.reason;
    EXPECT_NE(e.detail.find("\"rule\":\"retention 30d of tenant acme (config)\""),
              std::string::npos)
        << e.detail;
  }
  EXPECT_EQ(SegmentFiles(), static_cast<size_t>(batches * 3) - deletions->size());
  // Two more years: payments are still within 7 years; web is all gone.
  clock_.Advance(2 * 365 * kDay);
  Round();
  acme = Visible("acme");
  EXPECT_EQ(acme["web"], 0);
  EXPECT_EQ(acme["payments-ledger"], 2 * batches);
  // Seven years after the last: the payments go too.
  clock_.Advance(5 * 365 * kDay);
  Round();
  EXPECT_EQ(Visible("acme")["payments-ledger"], 0);
  EXPECT_EQ(Visible("other")["web"], batches);
}

// One partition: a segment holds both services, and is kept whole for the longest retention.
TEST_F(RetentionTest, MixedSegmentIsKeptForItsLongestRule) {
  // A new store: a store's partition count is fixed at its first open.
  retention_.reset();
  engine_.reset();
  std::filesystem::remove_all(dir_);
  options_.partitions = 1;
  RetentionConfig config;
  config.defaults.retention_ns = 30 * kDay;
  Open(config);
  catalog::ComplianceRuleRow rule;
  rule.service = "payments";
  rule.retention_ns = 365 * kDay;
  ASSERT_TRUE(retention_->AddComplianceRule(rule, "alice").ok());
  std::vector<Record> batch(2);
  batch[0].service = "web";
  batch[0].message = "w";
  batch[1].service = "payments";
  batch[1].message = "p";
  ASSERT_TRUE(engine_->Append("acme", &batch).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  Ingest("acme", "web", 1);  // a web-only segment beside it
  clock_.Advance(60 * kDay);
  EXPECT_EQ(Round().deleted_segments, 1u);
  auto visible = Visible("acme");
  EXPECT_EQ(visible["web"], 1);  // the mixed segment's web line stays with its payments line
  EXPECT_EQ(visible["payments"], 1);
  clock_.Advance(365 * kDay);
  EXPECT_EQ(Round().deleted_segments, 1u);
  EXPECT_TRUE(Visible("acme").empty());
}

TEST_F(RetentionTest, HeldDataStaysIncludingPartialOverlapAndGoesAfterRelease) {
  RetentionConfig config;
  config.defaults.retention_ns = 7 * kDay;
  Open(config);
  Ingest("acme", "web", 2);  // day 0
  const int64_t day0 = clock_.NowNanos();
  clock_.Advance(kDay);
  Ingest("acme", "web", 3);  // day 1
  clock_.Advance(kDay);
  Ingest("acme", "payments", 4, "p1");  // day 2
  Ingest("beta", "web", 1);
  // A one-minute hold that meets only the first segment's range (partial overlap).
  HoldRequest h;
  h.tenant = "acme";
  h.from_ns = day0 - 30'000'000'000;
  h.to_ns = day0 + 30'000'000'000;
  h.reason = "INC-4211";
  auto hold = retention_->AddHold(h, "alice (127.0.0.1)");
  ASSERT_TRUE(hold.ok()) << hold.status().ToString();
  // A query hold over everything that only payments segments match.
  HoldRequest q;
  q.tenant = "acme";
  q.from_ns = day0 - kDay;
  q.to_ns = day0 + 10 * kDay;
  q.query = "service=payments";
  q.reason = "INC-4212";
  auto qhold = retention_->AddHold(q, "bob");
  ASSERT_TRUE(qhold.ok());
  clock_.Advance(30 * kDay);
  RetentionReport report = Round();
  EXPECT_EQ(report.deleted_segments, 2u);  // day 1's web segment and beta's
  EXPECT_EQ(report.held.size(), 2u);
  auto visible = Visible("acme");
  EXPECT_EQ(visible["web"], 2);       // day 0: held by INC-4211
  EXPECT_EQ(visible["payments"], 4);  // held by the query hold
  EXPECT_TRUE(Visible("beta").empty());
  // Releasing: the next round deletes what they kept.
  ASSERT_TRUE(retention_->ReleaseHold(hold->id, "alice", "INC-4211 closed").ok());
  EXPECT_EQ(retention_->ReleaseHold(hold->id, "alice", "again").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(Round().deleted_segments, 1u);
  EXPECT_EQ(Visible("acme")["web"], 0);
  EXPECT_EQ(Visible("acme")["payments"], 4);
  ASSERT_TRUE(retention_->ReleaseHold(qhold->id, "bob", "done").ok());
  EXPECT_EQ(Round().deleted_segments, 1u);
  EXPECT_TRUE(Visible("acme").empty());
  EXPECT_EQ(SegmentFiles(), 0u);
  // The record: who, when, what, why, newest first.
  auto events = retention_->Events({});
  ASSERT_TRUE(events.ok());
  std::vector<std::string> actions;
  for (auto it = events->rbegin(); it != events->rend(); ++it) actions.push_back(it->action);
  EXPECT_EQ(actions, (std::vector<std::string>{"hold_add", "hold_add", "segment_delete",
                                               "segment_delete", "hold_release", "segment_delete",
                                               "hold_release", "segment_delete"}));
  const auto& added = events->back();
  EXPECT_EQ(added.actor, "alice (127.0.0.1)");
  EXPECT_EQ(added.reason, "INC-4211");
  EXPECT_EQ(added.hold_id, hold->id);
  EXPECT_EQ(added.at_ns, kStart + 2 * kDay);
}

TEST_F(RetentionTest, AHoldAddedAfterTheDecisionWinsOverTheDeletion) {
  RetentionConfig config;
  config.defaults.retention_ns = kDay;
  Open(config);
  Ingest("acme", "web", 2);
  clock_.Advance(3 * kDay);
  auto before = cat()->LastRetentionEventId();
  ASSERT_TRUE(before.ok());
  // A hold recorded between a round's decision and its deletion: the catalog refuses it.
  HoldRequest h;
  h.tenant = "acme";
  h.from_ns = 0;
  h.to_ns = clock_.NowNanos();
  h.reason = "legal";
  ASSERT_TRUE(retention_->AddHold(h, "carol").ok());
  auto segments = engine_->ListSegments();
  ASSERT_TRUE(segments.ok());
  ASSERT_EQ(segments->size(), 1u);
  catalog::RetiredSegmentRow row;
  row.id = (*segments)[0].id;
  Status s = cat()->RetireSegments({row}, {}, *before);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(Round().deleted_segments, 0u);
  EXPECT_EQ(Visible("acme")["web"], 2);
}

// A crash after the catalog retired a segment but before its file was deleted: start-up
// deletes the file instead of registering it again.
TEST_F(RetentionTest, FileLeftByACrashAfterRetirementIsDeletedAtStart) {
  RetentionConfig config;
  config.defaults.retention_ns = kDay;
  Open(config);
  Ingest("acme", "web", 3);
  auto segments = engine_->ListSegments();
  ASSERT_TRUE(segments.ok() && segments->size() == 1);
  const std::filesystem::path file = dir_ / (*segments)[0].path;
  const std::filesystem::path copy = dir_ / "kept.seg.copy";
  clock_.Advance(2 * kDay);
  {
    auto held_by_a_query = engine_->GetSnapshot("acme");  // the file stays while it lives
    EXPECT_EQ(Round().deleted_segments, 1u);
    std::filesystem::copy_file(file, copy);
  }
  EXPECT_FALSE(std::filesystem::exists(file));  // the last holder deleted it
  retention_.reset();
  engine_.reset();
  std::filesystem::rename(copy, file);  // as if the crash came before the delete
  Open(config);
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_TRUE(Visible("acme").empty());
  EXPECT_EQ(engine_->ListSegments()->size(), 0u);
  // New lines still get seqs above the retired ones and are kept.
  Ingest("acme", "web", 1);
  EXPECT_EQ(Visible("acme")["web"], 1);
}

TEST_F(RetentionTest, AdminPolicyWinsOverTheFileAndIsRecorded) {
  RetentionConfig config;
  config.defaults.retention_ns = 90 * kDay;
  Open(config);
  Ingest("acme", "web", 1);
  clock_.Advance(40 * kDay);
  EXPECT_EQ(Round().deleted_segments, 0u);
  catalog::RetentionPolicyRow row;
  row.tenant = "acme";
  row.retention_ns = 30 * kDay;
  ASSERT_TRUE(retention_->SetPolicy(row, false, "dave", "cost").ok());
  auto policy = retention_->Policy("acme");
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ(policy->retention_ns, 30 * kDay);
  EXPECT_EQ(policy->source, "admin");
  row.retention_ns = 500 * kDay;
  EXPECT_EQ(retention_->SetPolicy(row, false, "dave", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Round().deleted_segments, 1u);
  auto events = retention_->Events({"policy_set", "", 0, 10});
  ASSERT_TRUE(events.ok() && events->size() == 1);
  EXPECT_EQ((*events)[0].actor, "dave");
  EXPECT_EQ((*events)[0].reason, "cost");
  EXPECT_NE((*events)[0].detail.find("\"retention\":\"30d\""), std::string::npos);
  // Clearing returns to the file's 90 days.
  ASSERT_TRUE(retention_->SetPolicy(row, true, "dave", "back").ok());
  EXPECT_EQ(retention_->Policy("acme")->retention_ns, 90 * kDay);
}

}  // namespace
}  // namespace sawmill::storage
