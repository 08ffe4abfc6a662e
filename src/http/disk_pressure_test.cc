// Disk pressure and holds through a real HTTP server (in process) on a storage engine whose disk
// is simulated (FaultInjectionEnv with a capacity: every byte the engine writes fills it, and
// another program's bytes are added with SetOtherUsedBytes), with a ManualClock for time
// travel. What a user sees: past the shed watermark DEBUG and then INFO batches are refused with
// 429 and Retry-After while WARN and above are stored; past the cold watermark a tenant over
// its max_bytes loses its oldest unheld segments and never held ones (said in a metric and a
// log line instead); a hold's query keeps only the segments its index may match.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <string>

#include "common/fault_env.h"
#include "common/time_format.h"
#include "http/admin_retention_routes.h"
#include "http/admin_tier_routes.h"
#include "http/api_routes.h"
#include "http/api_test_fixture.h"
#include "http/http_server.h"
#include "objstore/local_directory_store.h"
#include "storage/disk_watch.h"
#include "storage/retention.h"

namespace sawmill::http {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;  // 2026-11-30T12:00:00Z
constexpr int64_t kDay = storage::kNanosPerDay;
constexpr uint64_t kDisk = 1ull << 30;  // the simulated volume: 1 GiB

using test_server::Answer;

class DiskPressure : public ::testing::Test {
 protected:
  // True: the engine has a cold store off the simulated volume (as an S3 store is), and the
  // watch moves warm segments there past the cold watermark.
  virtual bool WithColdStore() const { return false; }

  void SetUp() override {
    env_.SetDiskCapacity(kDisk);
    storage::EngineOptions options;
    options.data_dir = "/data";
    options.env = &env_;  // its catalog is an in-memory SQLite database
    options.clock = &clock_;
    options.background_threads = false;
    if (WithColdStore()) {
      // Another simulated machine's disk: its bytes do not fill the data volume.
      options.cold_store = std::make_shared<objstore::LocalDirectoryStore>(&cold_env_, "/cold");
    }
    auto engine = storage::Engine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    query_ = query::QueryEngine::Create(engine_.get(), query::QueryOptions{});
    state_.clock = &clock_;
    RegisterApiRoutes(&router_, &state_);
    RegisterRetentionRoutes(&router_, &retention_ptr_);
    RegisterAdminTierRoutes(&router_, &state_);
    state_.pipeline.AddAdmitHook(
        [this](const ingest::BatchInfo& batch, std::vector<Record>* records) -> Status {
          return watch_ != nullptr ? watch_->Admit(batch.tenant, *records) : Status::OK();
        });
    test_server::ServeEngine(&state_, engine_.get(), query_.get());

    storage::RetentionOptions r;
    r.engine = engine_.get();
    r.clock = &clock_;
    r.interval_ns = 0;
    r.matcher = QueryHoldMatcher();
    auto config = ParseRetentionConfig("{tenants: {acme: {retention: 7d}, big: {max_bytes: 1}}}");
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    r.config = std::move(*config);
    auto retention = storage::Retention::Start(std::move(r));
    ASSERT_TRUE(retention.ok()) << retention.status().ToString();
    retention_ = std::move(*retention);
    retention_ptr_.store(retention_.get());

    storage::DiskWatchOptions w;
    w.engine = engine_.get();
    w.retention = retention_.get();
    w.clock = &clock_;
    w.interval_ns = 0;  // the test checks when it wants
    w.move_to_cold = WithColdStore();
    auto watch = storage::DiskWatch::Start(std::move(w));
    ASSERT_TRUE(watch.ok()) << watch.status().ToString();
    watch_ = std::move(*watch);

    server_ = test_server::StartServer(&router_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    watch_.reset();
    retention_.reset();
    if (engine_) {
      EXPECT_TRUE(engine_->Close().ok());
    }
  }

  Answer Send(const std::string& method, const std::string& target, const std::string& tenant,
              const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers = {{"X-Sawmill-User", "tester"}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/x-ndjson");
    return test_server::Send(server_->port(), method, target, tenant, body, headers);
  }
  Answer Ingest(const std::string& tenant, const std::vector<std::string>& levels,
                const std::string& service = "web") {
    std::string body;
    for (size_t i = 0; i < levels.size(); ++i) {
      body += "{\"service\":\"" + service + "\",\"level\":\"" + levels[i] + "\",\"msg\":\"line " +
              std::to_string(lines_++) + "\"}\n";
    }
    return Send("POST", "/api/v1/ingest", tenant, body);
  }
  // Lines of "tenant" that search finds, by level.
  std::map<std::string, int> Stored(const std::string& tenant) {
    Answer a = Send("GET", "/api/v1/search?all_time=true&q=*%20%7C%20count%20by%20level", tenant);
    EXPECT_EQ(a.status, 200) << a.body;
    std::map<std::string, int> out;
    if (a.status != 200) return out;
    const json::value parsed = json::parse(a.body);
    for (const json::value& row : parsed.at("rows").as_array()) {
      out[std::string(row.at("level").as_string())] =
          static_cast<int>(row.at("count").to_number<int64_t>());
    }
    return out;
  }
  // Fills the simulated disk to "fraction" with another program's bytes and checks.
  void FillDiskTo(double fraction) {
    env_.SetOtherUsedBytes(0);
    auto usage = engine_->DataDiskUsage();
    ASSERT_TRUE(usage.ok());
    const uint64_t ours = usage->total_bytes - usage->free_bytes;
    env_.SetOtherUsedBytes(static_cast<uint64_t>(fraction * kDisk) - ours);
    Status s = watch_->CheckNow();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  double Metric(const std::string& name, const std::string& label) {
    Answer a = Send("GET", "/metrics", "default");
    double total = 0;
    size_t at = 0;
    while (at < a.body.size()) {
      size_t end = a.body.find('\n', at);
      if (end == std::string::npos) end = a.body.size();
      const std::string line = a.body.substr(at, end - at);
      at = end + 1;
      if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
      if (!label.empty() && line.find(label) == std::string::npos) continue;
      total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return total;
  }
  // Segments per tier from GET /api/v1/admin/tiers (every tenant).
  std::map<std::string, int64_t> Tiers() {
    Answer a = Send("GET", "/api/v1/admin/tiers", "default");
    EXPECT_EQ(a.status, 200) << a.body;
    std::map<std::string, int64_t> out;
    if (a.status != 200) return out;
    const json::value parsed = json::parse(a.body);
    for (const json::value& row : parsed.at("tiers").as_array()) {
      if (!row.as_object().contains("tenant") || row.at("tenant").as_string().empty()) {
        out[std::string(row.at("tier").as_string())] = row.at("segments").to_number<int64_t>();
      }
    }
    return out;
  }
  // Four days of "big" (max_bytes 1: the whole tenant is over it), one segment a day, then one
  // segment of "small" (no max_bytes: never touched); the first day of "big" is held.
  void FourDaysOfBigTheFirstHeld() {
    for (int day = 0; day < 4; ++day) {
      ASSERT_EQ(Ingest("big", {"info", "warn"}).status, 200);
      ASSERT_TRUE(engine_->Flush().ok());
      clock_.Advance(kDay);
    }
    ASSERT_EQ(Ingest("small", {"info"}).status, 200);
    ASSERT_TRUE(engine_->Flush().ok());
    const std::string from = FormatRfc3339(kNow - 3600'000'000'000LL);
    const std::string to = FormatRfc3339(kNow + 3600'000'000'000LL);
    Answer hold =
        Send("POST", "/api/v1/admin/holds?tenant=big&from=" + from + "&to=" + to + "&reason=INC-9",
             "default");
    ASSERT_EQ(hold.status, 200) << hold.body;
  }
  // Four segments of "acme", one a day, oldest first; returns their ids.
  std::vector<uint64_t> FourDays() {
    for (int day = 0; day < 4; ++day) {
      EXPECT_EQ(Ingest("acme", {"info", "warn", "debug"}).status, 200);
      EXPECT_TRUE(engine_->Flush().ok());
      clock_.Advance(kDay);
    }
    std::vector<uint64_t> ids;
    const std::vector<storage::SegmentStatus> segments = engine_->ListSegments().value_or({});
    for (const auto& s : segments) ids.push_back(s.id);
    return ids;
  }

  FaultInjectionEnv env_;
  FaultInjectionEnv cold_env_;
  ManualClock clock_{kNow};
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<query::QueryEngine> query_;
  std::unique_ptr<storage::Retention> retention_;
  std::atomic<storage::Retention*> retention_ptr_{nullptr};
  std::unique_ptr<storage::DiskWatch> watch_;
  ApiState state_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  int lines_ = 0;
};

TEST(Watermarks, ParseAndRefuse) {
  double a, b, c;
  ASSERT_TRUE(storage::ParseWatermarks("80%,90%,95%", &a, &b, &c).ok());
  EXPECT_DOUBLE_EQ(a, 0.80);
  EXPECT_DOUBLE_EQ(c, 0.95);
  ASSERT_TRUE(storage::ParseWatermarks("0.7, 0.85, 0.9", &a, &b, &c).ok());
  EXPECT_DOUBLE_EQ(b, 0.85);
  EXPECT_FALSE(storage::ParseWatermarks("90%,80%,95%", &a, &b, &c).ok());
  EXPECT_FALSE(storage::ParseWatermarks("80%,90%", &a, &b, &c).ok());
  EXPECT_FALSE(storage::ParseWatermarks("80%,90%,100%", &a, &b, &c).ok());
  EXPECT_FALSE(storage::ParseWatermarks("lots", &a, &b, &c).ok());
}

TEST_F(DiskPressure, ShedsDebugThenInfoWith429AndRetryAfterAndKeepsWarnAndAbove) {
  FillDiskTo(0.50);
  EXPECT_EQ(watch_->level(), 0);
  EXPECT_EQ(Ingest("acme", {"debug", "debug"}).status, 200);

  FillDiskTo(0.96);  // past the shed watermark: DEBUG and TRACE refused
  EXPECT_EQ(watch_->level(), 3);
  Answer debug = Ingest("acme", {"debug", "trace", "debug"});
  EXPECT_EQ(debug.status, 429) << debug.body;
  EXPECT_EQ(debug.retry_after, "1");
  EXPECT_NE(debug.body.find("disk pressure"), std::string::npos) << debug.body;
  EXPECT_NE(debug.body.find("nothing stored"), std::string::npos) << debug.body;
  EXPECT_EQ(Ingest("acme", {"info"}).status, 200);
  EXPECT_EQ(Ingest("acme", {"warn", "error", "fatal"}).status, 200);

  FillDiskTo(0.98);  // past halfway to full: INFO and lines without a level too
  Answer info = Ingest("acme", {"info", "info"});
  EXPECT_EQ(info.status, 429) << info.body;
  EXPECT_EQ(info.retry_after, "1");
  EXPECT_EQ(Ingest("acme", {"error"}).status, 200);
  EXPECT_EQ(Ingest("acme", {"warn"}).status, 200);
  // A batch holding a WARN line is stored whole: nothing in it is refused.
  EXPECT_EQ(Ingest("acme", {"debug", "info", "warn"}).status, 200);

  FillDiskTo(0.70);  // pressure gone: everything is taken again
  EXPECT_EQ(Ingest("acme", {"debug"}).status, 200);

  auto stored = Stored("acme");
  EXPECT_EQ(stored["DEBUG"], 2 + 1 + 1);
  EXPECT_EQ(stored["TRACE"], 0);
  EXPECT_EQ(stored["INFO"], 1 + 1);
  EXPECT_EQ(stored["WARN"], 1 + 1 + 1);
  EXPECT_EQ(stored["ERROR"], 1 + 1);
  EXPECT_EQ(stored["FATAL"], 1);
  EXPECT_GE(Metric("sawmill_ingest_shed_lines_total", "level=\"DEBUG\""), 2);
  EXPECT_GE(Metric("sawmill_ingest_shed_lines_total", "level=\"TRACE\""), 1);
  EXPECT_GE(Metric("sawmill_ingest_shed_lines_total", "level=\"INFO\""), 2);
  EXPECT_EQ(Metric("sawmill_ingest_shed_lines_total", "level=\"WARN\""), 0);
}

TEST_F(DiskPressure, PastTheColdWatermarkATenantOverMaxBytesLosesItsOldestUnheldData) {
  ASSERT_NO_FATAL_FAILURE(FourDaysOfBigTheFirstHeld());

  const double warmed = Metric("sawmill_disk_pressure_actions_total", "action=\"hot_to_warm\"");
  FillDiskTo(0.85);  // warm watermark only: nothing is deleted, hot segments go warm
  EXPECT_EQ(watch_->level(), 1);
  EXPECT_EQ(Stored("big")["INFO"], 4);
  EXPECT_EQ(Tiers()["hot"], 0);
  EXPECT_EQ(Tiers()["warm"], 5);
  EXPECT_EQ(Metric("sawmill_disk_pressure_actions_total", "action=\"hot_to_warm\"") - warmed, 5);

  FillDiskTo(0.91);  // cold watermark, no cold store: tenants past max_bytes shrink
  EXPECT_EQ(watch_->level(), 2);
  EXPECT_EQ(Stored("big")["INFO"], 1);  // only the held first day is left
  EXPECT_EQ(Stored("small")["INFO"], 1);
  EXPECT_GT(Metric("sawmill_disk_pressure_blocked_bytes", ""), 0);
  EXPECT_EQ(Metric("sawmill_retention_deleted_segments_total", "max_bytes"), 3);
  Answer deletions = Send("GET", "/api/v1/admin/deletions?tenant=big", "default");
  ASSERT_EQ(deletions.status, 200);
  const json::array events = json::parse(deletions.body).at("events").as_array();
  ASSERT_EQ(events.size(), 3u);
  for (const json::value& e : events) {
    EXPECT_EQ(e.at("who").as_string(), "retention");
    EXPECT_NE(std::string(e.at("why").as_string()).find("max_bytes"), std::string::npos);
    EXPECT_NE(std::string(e.at("why").as_string()).find("used"), std::string::npos);
  }
}

TEST_F(DiskPressure, AHoldsQueryKeepsOnlySegmentsItsIndexMayMatch) {
  // acme keeps 7 days. One flush per service: segments of their own.
  ASSERT_EQ(Ingest("acme", {"info", "info"}, "payments").status, 200);
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_EQ(Ingest("acme", {"info", "info", "info"}, "web").status, 200);
  ASSERT_TRUE(engine_->Flush().ok());
  Answer bad = Send("POST",
                    "/api/v1/admin/holds?tenant=acme&from=2026-11-01T00:00:00Z&to=now&reason=x"
                    "&query=service%3Dpayments%20%7C%20count",
                    "default");
  EXPECT_EQ(bad.status, 400) << bad.body;
  Answer hold = Send("POST",
                     "/api/v1/admin/holds?tenant=acme&from=2026-11-01T00:00:00Z"
                     "&to=2026-12-01T00:00:00Z&reason=INC-77&query=service%3Dpayments",
                     "default");
  ASSERT_EQ(hold.status, 200) << hold.body;
  EXPECT_EQ(json::parse(hold.body).at("hold").at("segments").to_number<int64_t>(), 1);
  EXPECT_EQ(json::parse(hold.body).at("hold").at("created_by").as_string(), "tester (127.0.0.1)");
  clock_.Advance(30 * kDay);
  Answer run = Send("POST", "/api/v1/admin/retention/run", "default");
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(json::parse(run.body).at("deleted_segments").to_number<int64_t>(), 1);
  Answer payments =
      Send("GET", "/api/v1/search?all_time=true&q=service%3Dpayments%20%7C%20count", "acme");
  EXPECT_NE(payments.body.find("\"count\":2"), std::string::npos) << payments.body;
  Answer web = Send("GET", "/api/v1/search?all_time=true&q=service%3Dweb%20%7C%20count", "acme");
  EXPECT_EQ(web.body.find("\"count\":3"), std::string::npos) << web.body;
  // Released: the payments go too, and the record has it all.
  ASSERT_EQ(Send("POST", "/api/v1/admin/holds/release?id=1&reason=closed", "default").status, 200);
  EXPECT_EQ(Send("POST", "/api/v1/admin/holds/release?id=1&reason=again", "default").status, 409);
  run = Send("POST", "/api/v1/admin/retention/run", "default");
  EXPECT_EQ(json::parse(run.body).at("deleted_segments").to_number<int64_t>(), 1);
  Answer events = Send("GET", "/api/v1/admin/retention/events", "default");
  const json::array list = json::parse(events.body).at("events").as_array();
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[0].at("action").as_string(), "segment_delete");
  EXPECT_EQ(list[1].at("action").as_string(), "hold_release");
  EXPECT_EQ(list[1].at("why").as_string(), "closed");
  EXPECT_EQ(list[3].at("action").as_string(), "hold_add");
  EXPECT_EQ(list[3].at("what").at("query").as_string(), "service=payments");
}

TEST_F(DiskPressure, BelowTheWarmWatermarkNothingMovesAndPastItHotGoesWarmWithEveryLineKept) {
  FourDays();
  const auto before = Stored("acme");
  const double deleted = Metric("sawmill_retention_deleted_segments_total", "");
  FillDiskTo(0.79);
  EXPECT_EQ(watch_->level(), 0);
  EXPECT_EQ(Tiers()["hot"], 4);
  EXPECT_EQ(Tiers()["warm"], 0);
  FillDiskTo(0.81);
  EXPECT_EQ(Tiers()["hot"], 0);
  EXPECT_EQ(Tiers()["warm"], 4);
  EXPECT_EQ(Stored("acme"), before);  // re-encoded, not lost
  // Nothing was deleted: no tenant here is past a max_bytes.
  EXPECT_EQ(Metric("sawmill_retention_deleted_segments_total", ""), deleted);
}

TEST_F(DiskPressure, The503IsOnlyForAWalThatCannotBeWritten) {
  FillDiskTo(0.99);  // past the shed watermark: WARN is still taken
  EXPECT_EQ(Ingest("acme", {"warn"}).status, 200);
  env_.SetNoSpace(true);  // the disk is really full: the WAL cannot take the batch
  Answer full = Ingest("acme", {"error"});
  EXPECT_EQ(full.status, 503) << full.body;
  EXPECT_EQ(full.retry_after, "1");
  Answer debug = Ingest("acme", {"debug"});  // refused before the WAL: 429, not 503
  EXPECT_EQ(debug.status, 429) << debug.body;
  env_.SetNoSpace(false);
  FillDiskTo(0.50);
  Answer again = Ingest("acme", {"error", "debug"});
  EXPECT_EQ(again.status, 200) << again.body;
  auto stored = Stored("acme");
  EXPECT_EQ(stored["WARN"], 1);
  EXPECT_EQ(stored["ERROR"], 1);  // the refused batch was not stored; its retry was
  EXPECT_EQ(stored["DEBUG"], 1);
}

class DiskPressureWithColdStore : public DiskPressure {
 protected:
  bool WithColdStore() const override { return true; }
};

TEST_F(DiskPressureWithColdStore, PastTheColdWatermarkWarmSegmentsGoColdOldestFirstUntilBelowIt) {
  const std::vector<uint64_t> ids = FourDays();
  ASSERT_EQ(ids.size(), 4u);
  const auto before = Stored("acme");
  const double deleted = Metric("sawmill_retention_deleted_segments_total", "");
  const double cooled = Metric("sawmill_disk_pressure_actions_total", "action=\"warm_to_cold\"");
  FillDiskTo(0.85);  // level 1: everything hot goes warm
  ASSERT_EQ(Tiers()["warm"], 4);
  std::vector<storage::SegmentStatus> segments = engine_->ListSegments().value_or({});
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.max_ts < b.max_ts; });
  // Just past the cold watermark by half the oldest segment: moving it off the volume is enough.
  env_.SetOtherUsedBytes(0);
  const uint64_t ours =
      engine_->DataDiskUsage()->total_bytes - engine_->DataDiskUsage()->free_bytes;
  env_.SetOtherUsedBytes(static_cast<uint64_t>(0.90 * kDisk) - ours + segments[0].bytes / 2);
  ASSERT_TRUE(watch_->CheckNow().ok());
  EXPECT_EQ(Tiers()["cold"], 1);
  EXPECT_EQ(Tiers()["warm"], 3);
  const std::vector<storage::SegmentStatus> moved = engine_->ListSegments().value_or({});
  for (const auto& s : moved) {
    EXPECT_EQ(s.tier, s.max_ts == segments[0].max_ts ? "cold" : "warm") << s.id;
  }
  EXPECT_LT(watch_->used_fraction(), 0.90);
  EXPECT_EQ(watch_->level(), 1);
  EXPECT_EQ(Metric("sawmill_disk_pressure_actions_total", "action=\"warm_to_cold\"") - cooled, 1);
  // Far past it: every warm segment goes; nothing is deleted, every line is still found.
  FillDiskTo(0.97);
  EXPECT_EQ(Tiers()["cold"], 4);
  EXPECT_EQ(Stored("acme"), before);
  EXPECT_EQ(Metric("sawmill_retention_deleted_segments_total", ""), deleted);
}

// The cold store takes nothing (its disk is full: every write fails) while the data volume is
// past the cold watermark: nothing could be moved off it, so tenants past max_bytes lose their
// oldest unheld data on the volume instead, as without a cold store; held data stays. The failing
// move is counted at every check but logged once, then once a minute with the count.
TEST_F(DiskPressureWithColdStore,
       WhenMovesToTheColdStoreFailTenantsPastMaxBytesLoseOldDataInstead) {
  auto log = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  spdlog::default_logger()->sinks().push_back(log);
  struct Unhook {
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log;
    ~Unhook() {
      auto& sinks = spdlog::default_logger()->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), log), sinks.end());
    }
  } unhook{log};
  auto lines_with = [&](const std::string& text) {
    int n = 0;
    for (const std::string& line : log->last_formatted()) n += line.find(text) != std::string::npos;
    return n;
  };

  ASSERT_NO_FATAL_FAILURE(FourDaysOfBigTheFirstHeld());
  FillDiskTo(0.85);  // everything goes warm first
  ASSERT_EQ(Tiers()["warm"], 5);

  cold_env_.SetNoSpace(true);  // the cold store fails every write from now on
  const double failed = Metric("sawmill_disk_pressure_actions_total", "warm_to_cold_failed");
  const double transition_failures = Metric("sawmill_tier_transition_failures_total", "cold");
  const double deleted = Metric("sawmill_retention_deleted_segments_total", "max_bytes");
  const double rounds = Metric("sawmill_disk_pressure_actions_total", "\"delete_max_bytes\"");
  env_.SetOtherUsedBytes(0);
  const uint64_t ours =
      engine_->DataDiskUsage()->total_bytes - engine_->DataDiskUsage()->free_bytes;
  env_.SetOtherUsedBytes(static_cast<uint64_t>(0.91 * kDisk) - ours);
  Status s = watch_->CheckNow();
  EXPECT_FALSE(s.ok());  // the move failed, and says so
  EXPECT_NE(s.ToString().find("cold"), std::string::npos) << s.ToString();
  EXPECT_EQ(watch_->level(), 2);

  // The held first day is left; the other three days of "big" are gone; "small" is untouched.
  EXPECT_EQ(Stored("big")["INFO"], 1);
  EXPECT_EQ(Stored("small")["INFO"], 1);
  EXPECT_EQ(Tiers()["cold"], 0);
  EXPECT_EQ(Metric("sawmill_retention_deleted_segments_total", "max_bytes") - deleted, 3);
  EXPECT_EQ(Metric("sawmill_disk_pressure_actions_total", "\"delete_max_bytes\"") - rounds, 1);
  EXPECT_GT(Metric("sawmill_disk_pressure_blocked_bytes", ""), 0);
  Answer deletions = Send("GET", "/api/v1/admin/deletions?tenant=big", "default");
  ASSERT_EQ(deletions.status, 200);
  const json::array events = json::parse(deletions.body).at("events").as_array();
  ASSERT_EQ(events.size(), 3u);
  for (const json::value& e : events) {
    const std::string why(e.at("why").as_string());
    EXPECT_NE(why.find("max_bytes"), std::string::npos) << why;
    EXPECT_NE(why.find("moving segments to the cold store fails"), std::string::npos) << why;
  }
  EXPECT_EQ(lines_with("lose their oldest unheld data on this volume instead"), 1);
  EXPECT_EQ(lines_with("disk pressure: moving segments to cold early failed"), 1);

  // It keeps failing: every check counts the failure, the log says it once...
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(10 * kNanosPerSecond);
    EXPECT_FALSE(watch_->CheckNow().ok());
  }
  EXPECT_EQ(Metric("sawmill_disk_pressure_actions_total", "warm_to_cold_failed") - failed, 5);
  EXPECT_EQ(Metric("sawmill_tier_transition_failures_total", "cold") - transition_failures, 5);
  EXPECT_EQ(lines_with("disk pressure: moving segments to cold early failed"), 1);
  EXPECT_EQ(lines_with("disk pressure: moving segments to cold early still fails"), 0);
  EXPECT_EQ(lines_with("tier: moving segments to cold failed"), 1);
  EXPECT_EQ(lines_with("lose their oldest unheld data on this volume instead"), 1);
  // ...and again a minute after its last line, with the count since.
  clock_.Advance(25 * kNanosPerSecond);
  EXPECT_FALSE(watch_->CheckNow().ok());
  EXPECT_EQ(lines_with("disk pressure: moving segments to cold early still fails: 5 failures in "
                       "the last 65 s, 6 since it last worked"),
            1);
  EXPECT_EQ(lines_with("tier: moving segments to cold still fails"), 1);
  // Held data never went, whatever the disk.
  EXPECT_EQ(Stored("big")["INFO"], 1);

  // The store is back: the move works, and the log says so once.
  cold_env_.SetNoSpace(false);
  EXPECT_TRUE(watch_->CheckNow().ok());
  EXPECT_EQ(lines_with("disk pressure: moving segments to cold early works again after 6 failures"),
            1);
  EXPECT_GE(Tiers()["cold"], 1);
  EXPECT_EQ(Stored("big")["INFO"], 1);
  EXPECT_EQ(Stored("small")["INFO"], 1);
  EXPECT_EQ(Metric("sawmill_retention_deleted_segments_total", "max_bytes") - deleted, 3);
}

}  // namespace
}  // namespace sawmill::http
