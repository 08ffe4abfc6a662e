#include "alert/alert_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog/sqlite_catalog.h"
#include "common/mutex.h"

namespace sawmill::alert {
namespace {

constexpr int64_t kS = kNanosPerSecond;
constexpr int64_t kStart = 1'800'000'000 * kS;  // 2027-01-15

// Records what the engine would have sent; delivery succeeds unless told otherwise.
class RecordingNotifier final : public Notifier {
 public:
  void Send(Notification n, std::function<void(bool)> done) override {
    {
      MutexLock lock(&mu_);
      sent_.push_back(n);
    }
    if (done) done(deliver_);
  }
  std::vector<Notification> Take() {
    MutexLock lock(&mu_);
    std::vector<Notification> out;
    out.swap(sent_);
    return out;
  }
  bool deliver_ = true;

 private:
  Mutex mu_;
  std::vector<Notification> sent_ GUARDED_BY(mu_);
};

Rule MakeRule(const std::string& yaml) {
  auto rules = ParseRules(yaml, "test", RuleLimits{}, true);
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? (*rules)[0] : Rule{};
}

Record Line(int64_t at, std::string service, Level level, std::string message,
            std::string host = "h1") {
  Record r;
  r.ts = at;
  r.ingest_ts = at;
  r.service = std::move(service);
  r.host = std::move(host);
  r.level = level;
  r.message = std::move(message);
  return r;
}

class AlertEngineTest : public ::testing::Test {
 protected:
  AlertEngineTest() : clock_(kStart) {
    options_.prime_from_storage = false;
    options_.eval_interval_ns = 10 * kS;
  }
  std::unique_ptr<AlertEngine> Make(catalog::Catalog* catalog = nullptr) {
    return std::make_unique<AlertEngine>(options_, &clock_, catalog, nullptr, &notifier_);
  }
  GroupStatus Group(AlertEngine& engine, const std::string& rule, const std::string& group = "",
                    const std::string& tenant = "default") {
    for (const auto& r : engine.Rules(tenant, rule)) {
      for (const auto& g : r.groups) {
        if (g.group == group) return g;
      }
    }
    return GroupStatus{};
  }
  void Send(AlertEngine& engine, int n, const std::string& service, Level level,
            const std::string& message = "boom", const std::string& tenant = "default",
            const std::string& host = "h1") {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i)
      batch.push_back(Line(clock_.NowNanos(), service, level, message, host));
    engine.OnBatch(tenant, batch);
  }

  ManualClock clock_;
  AlertOptions options_;
  RecordingNotifier notifier_;
};

TEST_F(AlertEngineTest, CountAboveThresholdFiresAndResolvesWhenTheWindowSlidesPast) {
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: errors, filter: 'service=payments level=ERROR', "
                "condition: count > 5, window: 1m}")});
  Send(*engine, 5, "payments", Level::kError);
  Send(*engine, 9, "payments", Level::kInfo);   // other level
  Send(*engine, 9, "checkout", Level::kError);  // other service
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "errors").state, AlertState::kInactive);
  EXPECT_EQ(Group(*engine, "errors").count, 5u);
  clock_.Advance(10 * kS);
  Send(*engine, 1, "payments", Level::kError);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "errors").state, AlertState::kFiring);
  auto sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(sent[0].resolved);
  EXPECT_EQ(sent[0].labels.at("alertname"), "errors");
  EXPECT_EQ(sent[0].count, 6u);
  EXPECT_THAT(sent[0].generator_url, ::testing::HasSubstr("/api/v1/search?q="));
  clock_.Advance(61 * kS);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "errors").state, AlertState::kInactive);
  sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].resolved);
}

TEST_F(AlertEngineTest, AbsenceFiresWhenNothingArrivesAndResolvesWhenALineDoes) {
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: silent, filter: service=checkout, condition: count == 0, "
                "window: 30s}")});
  Send(*engine, 1, "checkout", Level::kInfo);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "silent").state, AlertState::kInactive);
  clock_.Advance(31 * kS);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "silent").state, AlertState::kFiring);
  Send(*engine, 1, "checkout", Level::kInfo);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "silent").state, AlertState::kInactive);
}

TEST_F(AlertEngineTest, RateIsLinesPerSecondOverTheWindow) {
  auto engine = Make();
  engine->SetRules({MakeRule("{name: fast, filter: timeout, condition: rate > 2, window: 10s}")});
  Send(*engine, 20, "api", Level::kWarn, "upstream timeout");  // 2/s: not above
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "fast").state, AlertState::kInactive);
  EXPECT_DOUBLE_EQ(Group(*engine, "fast").value, 2.0);
  // Words match whatever their case in the line (the skip-by-required-word shortcut agrees).
  Send(*engine, 1, "api", Level::kWarn, "Upstream TIMEOUT");
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "fast").state, AlertState::kFiring);
  EXPECT_EQ(Group(*engine, "fast").count, 21u);
}

TEST_F(AlertEngineTest, ForKeepsTheGroupPendingUntilTheConditionHeldLongEnough) {
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: oom, filter: OutOfMemoryError, condition: count > 0, "
                "window: 5m, for: 30s}")});
  Send(*engine, 1, "jvm", Level::kError, "java.lang.OutOfMemoryError: heap");
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "oom").state, AlertState::kPending);
  clock_.Advance(20 * kS);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "oom").state, AlertState::kPending);
  EXPECT_TRUE(notifier_.Take().empty());
  clock_.Advance(10 * kS);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "oom").state, AlertState::kFiring);
  EXPECT_EQ(notifier_.Take().size(), 1u);
}

TEST_F(AlertEngineTest, CooldownSpacesRepeatedNotificationsAndFailedDeliveriesAreRetried) {
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: e, filter: level=ERROR, condition: count > 0, window: 1h, "
                "cooldown: 5m}")});
  notifier_.deliver_ = false;
  Send(*engine, 1, "a", Level::kError);
  engine->Evaluate();
  EXPECT_EQ(notifier_.Take().size(), 1u);
  clock_.Advance(10 * kS);
  engine->Evaluate();  // not delivered: sent again at the next evaluation
  EXPECT_EQ(notifier_.Take().size(), 1u);
  notifier_.deliver_ = true;
  clock_.Advance(10 * kS);
  engine->Evaluate();
  EXPECT_EQ(notifier_.Take().size(), 1u);
  EXPECT_EQ(Group(*engine, "e").last_notified_ns, clock_.NowNanos());
  for (int i = 0; i < 20; ++i) {  // 200 s < cooldown
    clock_.Advance(10 * kS);
    engine->Evaluate();
  }
  EXPECT_TRUE(notifier_.Take().empty());
  clock_.Advance(100 * kS);
  engine->Evaluate();
  EXPECT_EQ(notifier_.Take().size(), 1u);
}

TEST_F(AlertEngineTest, TenantARulesNeverSeeTenantBLines) {
  auto engine = Make();
  auto a = MakeRule("{name: errors, filter: level=ERROR, condition: count > 0, window: 1m}");
  a.tenant = "a";
  auto b = a;
  b.tenant = "b";
  engine->SetRules({a, b});
  Send(*engine, 3, "x", Level::kError, "boom", "b");
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "errors", "", "a").state, AlertState::kInactive);
  EXPECT_EQ(Group(*engine, "errors", "", "a").count, 0u);
  EXPECT_EQ(Group(*engine, "errors", "", "b").state, AlertState::kFiring);
  EXPECT_EQ(Group(*engine, "errors", "", "b").count, 3u);
  // A tenant with no rules at all.
  Send(*engine, 3, "x", Level::kError, "boom", "c");
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "errors", "", "a").count, 0u);
}

TEST_F(AlertEngineTest, AThousandGroupsOfOneRuleAndTheCap) {
  options_.max_groups = 1000;
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: per-host, filter: level=ERROR, condition: count >= 2, "
                "window: 1m, group_by: host}")});
  std::vector<Record> batch;
  for (int host = 0; host < 1000; ++host) {
    for (int i = 0; i < 1 + host % 2; ++i) {
      batch.push_back(Line(clock_.NowNanos(), "s", Level::kError, "x", "h" + std::to_string(host)));
    }
  }
  batch.push_back(Line(clock_.NowNanos(), "s", Level::kError, "x", "one-too-many"));
  engine->OnBatch("default", batch);
  engine->Evaluate();
  auto rules = engine->Rules("default", "per-host");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].groups.size(), 1000u);
  EXPECT_EQ(rules[0].groups_refused, 1u);
  size_t firing = 0;
  for (const auto& g : rules[0].groups) firing += g.state == AlertState::kFiring;
  EXPECT_EQ(firing, 500u);
  EXPECT_EQ(Group(*engine, "per-host", "host=h1").state, AlertState::kFiring);
  EXPECT_EQ(Group(*engine, "per-host", "host=h2").state, AlertState::kInactive);
  auto sent = notifier_.Take();
  ASSERT_EQ(sent.size(), 500u);
  EXPECT_FALSE(sent[0].labels.at("host").empty());
}

TEST_F(AlertEngineTest, RulesSharingAFilterCountTheSameLines) {
  auto engine = Make();
  engine->SetRules({MakeRule("{name: a, filter: 'level>=WARN', condition: count > 2, window: 1m}"),
                    MakeRule("{name: b, filter: 'level >= WARN', condition: count > 4, window: "
                             "1m, group_by: service}")});
  Send(*engine, 3, "x", Level::kWarn);
  Send(*engine, 5, "y", Level::kError);
  Send(*engine, 7, "y", Level::kDebug);
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "a").count, 8u);
  EXPECT_EQ(Group(*engine, "b", "service=y").state, AlertState::kFiring);
  EXPECT_EQ(Group(*engine, "b", "service=x").state, AlertState::kInactive);
}

TEST_F(AlertEngineTest, PhrasesAndWordsAreRequiredWhateverTheirCase) {
  auto engine = Make();
  engine->SetRules(
      {MakeRule("{name: p, filter: '\"connection reset\" peer', condition: count > "
                "0, window: 1m}")});
  Send(*engine, 1, "s", Level::kError, "Connection RESET by Peer");
  Send(*engine, 1, "s", Level::kError, "connection was reset by peer");  // not the phrase
  Send(*engine, 1, "s", Level::kError, "connection reset");              // no "peer"
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "p").count, 1u);
}

TEST_F(AlertEngineTest, LateLinesCountAtTheirIngestTime) {
  auto engine = Make();
  engine->SetRules({MakeRule("{name: a, filter: boom, condition: count > 0, window: 1m}")});
  Record late = Line(clock_.NowNanos(), "s", Level::kError, "boom");
  late.ts = clock_.NowNanos() - 3600 * kS;  // the source says an hour ago
  engine->OnBatch("default", {late});
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "a").state, AlertState::kFiring);
}

TEST_F(AlertEngineTest, StatesSurviveARestartThroughTheCatalog) {
  const std::string dir = ::testing::TempDir() + "/alert_state_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/catalog.db";
  std::filesystem::remove(path);
  const auto rules = std::vector<Rule>{
      MakeRule("{name: slow, filter: boom, condition: count > 0, window: 1h, for: 1m}"),
      MakeRule("{name: fired, filter: bang, condition: count > 0, window: 1h, cooldown: 1h}")};
  int64_t pending_since = 0;
  {
    auto catalog = catalog::OpenSqliteCatalog(path);
    ASSERT_TRUE(catalog.ok());
    auto engine = Make(catalog->get());
    ASSERT_TRUE(engine->LoadState().ok());
    engine->SetRules(rules);
    Send(*engine, 1, "s", Level::kError, "boom");
    Send(*engine, 1, "s", Level::kError, "bang");
    engine->Evaluate();
    EXPECT_EQ(notifier_.Take().size(), 1u);
    pending_since = Group(*engine, "slow").active_since_ns;
    EXPECT_EQ(Group(*engine, "slow").state, AlertState::kPending);
    ASSERT_TRUE(engine->SaveState().ok());
  }
  clock_.Advance(30 * kS);
  auto catalog = catalog::OpenSqliteCatalog(path);
  ASSERT_TRUE(catalog.ok());
  auto engine = Make(catalog->get());
  ASSERT_TRUE(engine->LoadState().ok());
  engine->SetRules(rules);
  // The window's lines are rebuilt from storage in the server; here, the same lines again.
  Send(*engine, 1, "s", Level::kError, "boom");
  Send(*engine, 1, "s", Level::kError, "bang");
  EXPECT_EQ(Group(*engine, "slow").state, AlertState::kPending);
  EXPECT_EQ(Group(*engine, "slow").active_since_ns, pending_since);
  EXPECT_EQ(Group(*engine, "fired").state, AlertState::kFiring);
  engine->Evaluate();
  EXPECT_TRUE(notifier_.Take().empty());  // fired within its cooldown: not again
  clock_.Advance(30 * kS);                // 60 s since pending began
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "slow").state, AlertState::kFiring);
  EXPECT_EQ(notifier_.Take().size(), 1u);
  auto history = (*catalog)->ListAlertTransitions("default", "", 0, 100);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);  // slow: inactive->pending->firing; fired: inactive->firing
  EXPECT_EQ((*history)[0].to_state, "firing");
  EXPECT_EQ((*history)[0].rule, "slow");
  std::filesystem::remove_all(dir);
}

TEST_F(AlertEngineTest, ReloadKeepsCountsUnlessTheCountingChanges) {
  auto engine = Make();
  engine->SetRules({MakeRule("{name: a, filter: boom, condition: count > 2, window: 1m}")});
  Send(*engine, 3, "s", Level::kError, "boom");
  engine->SetRules(
      {MakeRule("{name: a, filter: boom, condition: count > 1, window: 1m, "
                "labels: {team: x}}")});
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "a").count, 3u);
  EXPECT_EQ(Group(*engine, "a").state, AlertState::kFiring);
  engine->SetRules({MakeRule("{name: a, filter: boom, condition: count > 1, window: 2m}")});
  engine->Evaluate();
  EXPECT_EQ(Group(*engine, "a").count, 0u);  // new window, no storage to prime from
  EXPECT_EQ(engine->Rules("").size(), 1u);
  notifier_.Take();
  engine->SetRules({});
  EXPECT_EQ(engine->rule_count(), 0u);
}

TEST(AlertBucketWidth, AtMostSixtyBuckets) {
  EXPECT_EQ(AlertEngine::BucketWidth(30 * kS), 1 * kS);
  EXPECT_EQ(AlertEngine::BucketWidth(60 * kS), 1 * kS);
  EXPECT_EQ(AlertEngine::BucketWidth(5 * 60 * kS), 5 * kS);
  EXPECT_EQ(AlertEngine::BucketWidth(3600 * kS), 60 * kS);
  EXPECT_EQ(FormatDuration(5 * 60 * kS), "5m");
  EXPECT_EQ(FormatDuration(5400 * kS), "1h30m");
}

}  // namespace
}  // namespace sawmill::alert
