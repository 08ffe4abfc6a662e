// Cluster-wide settings (docs/cluster.md "Cluster-wide settings"): what a node starting against
// a catalog is given (SettleNodeSettings) and which changes an operator may make while nodes run
// (CheckSettingChange, and as `sawmill admin settings` checks it: settings_admin.h). On a SQLite
// catalog; a change between a node's settle and its registration on PostgreSQL is
// cluster_settings_pg_test, the answers a user would see cluster_fenced_pg_test and
// e2e_cluster_settings.
#include "cluster/cluster_settings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog/forwarding_catalog.h"
#include "catalog/sqlite_catalog.h"
#include "cluster/node_registry.h"
#include "cluster/settings_admin.h"
#include "common/clock.h"
#include "storage/shared_keys.h"

namespace sawmill::cluster {
namespace {

class ClusterSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sawmill_cluster_settings_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto opened = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    catalog_ = std::move(*opened);
  }
  void TearDown() override {
    catalog_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A node's four settings: heartbeat, timeout, query timeout, idempotency window (ms), and
  // which of them it was given.
  struct Node {
    uint64_t heartbeat = 2000, timeout = 10000, query = 60000, window = 86400000;
    std::vector<NodeSetting> Settings(bool given_timeout = false, bool given_query = false) {
      return {{"node_heartbeat", &heartbeat, false},
              {"node_timeout", &timeout, given_timeout},
              {"query_timeout", &query, given_query},
              {"idempotency_window", &window, false}};
    }
  };

  std::filesystem::path dir_;
  std::unique_ptr<catalog::Catalog> catalog_;
};

// The first node records its values, given or not; a later node not given a value takes the
// recorded one (and says so), one given the recorded value starts, one given another is
// refused with both values, the catalog and the way to change it, and adopts nothing.
TEST_F(ClusterSettingsTest, TheFirstNodesValuesAreTheClustersAndALaterNodeAdoptsOrIsRefused) {
  Node first;
  first.timeout = 6000;
  std::vector<std::string> adopted;
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", first.Settings(true), &adopted).ok());
  EXPECT_TRUE(adopted.empty());
  auto recorded = catalog_->ReadSettings();
  ASSERT_TRUE(recorded.ok());
  const std::map<std::string, uint64_t> expected = {{"idempotency_window", 86400000},
                                                    {"node_heartbeat", 2000},
                                                    {"node_timeout", 6000},
                                                    {"query_timeout", 60000}};
  EXPECT_EQ(*recorded, expected);

  Node defaults;  // 10 s, not given
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", defaults.Settings(), &adopted).ok());
  EXPECT_EQ(defaults.timeout, 6000u);
  ASSERT_EQ(adopted.size(), 1u);
  EXPECT_EQ(adopted[0],
            "node_timeout = 6s from the catalog (the cluster's; this node's default "
            "is 10s)");

  Node same;
  same.timeout = 6000;
  EXPECT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", same.Settings(true), nullptr).ok());

  Node other;
  other.timeout = 20000;
  other.query = 30000;
  Status refused = SettleNodeSettings(catalog_.get(), "postgresql://u:***@db/logs",
                                      other.Settings(true, true), nullptr);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  const std::string message = refused.message();
  for (const char* part :
       {"node_timeout = 20s in this node's configuration, but the cluster's is 6s",
        "query_timeout = 30s in this node's configuration, but the cluster's is 1m",
        "catalog postgresql://u:***@db/logs", "without --node-timeout, --query-timeout",
        "sawmill admin settings set NAME VALUE --catalog postgresql://u:***@db/logs"}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " not in: " << message;
  }
  EXPECT_EQ(other.timeout, 20000u) << "a refused node adopts nothing";
  EXPECT_EQ(*catalog_->ReadSettings(), expected) << "a refused node records nothing";

  // After an operator's change, the next start of a node not given the value takes it.
  ASSERT_TRUE(catalog_->ChangeSetting("node_timeout", 8000).ok());
  Node restarted;
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", restarted.Settings(), nullptr).ok());
  EXPECT_EQ(restarted.timeout, 8000u);
}

// Node Y recorded node_heartbeat 5s (its other settings not yet: an earlier build, or a start
// racing this one); node X, given node_timeout 3s, would run 5s/3s, a pair nobody configured and
// every later node would be refused with: X is refused and records nothing, not even the settings
// still missing. SettleSettings records a whole set or nothing.
TEST_F(ClusterSettingsTest, ANodeWhoseValuesMakeAnInvalidPairWithTheRecordedOnesRecordsNothing) {
  ASSERT_TRUE(catalog_->ChangeSetting("node_heartbeat", 5000).ok());
  Node x;
  x.timeout = 3000;
  x.heartbeat = 1000;
  Status refused = SettleNodeSettings(catalog_.get(), "CAT", x.Settings(true), nullptr);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("node_timeout 3s, not longer than node_heartbeat 5s"),
            std::string::npos)
      << refused.message();
  const std::map<std::string, uint64_t> only_heartbeat = {{"node_heartbeat", 5000}};
  EXPECT_EQ(*catalog_->ReadSettings(), only_heartbeat) << "a refused node records nothing";
  EXPECT_EQ(x.heartbeat, 1000u) << "a refused node adopts nothing";

  // A node with a valid pair records the missing three in one go.
  Node z;
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", z.Settings(), nullptr).ok());
  EXPECT_EQ(z.heartbeat, 5000u);
  EXPECT_EQ(catalog_->ReadSettings()->size(), 4u);

  // SettleSettings: a set of which any is recorded records nothing and answers what is.
  auto none = catalog_->SettleSettings({{"node_timeout", 1}, {"other", 2}});
  ASSERT_TRUE(none.ok());
  const std::map<std::string, uint64_t> timeout_only = {{"node_timeout", 10000}};
  EXPECT_EQ(*none, timeout_only);
  EXPECT_EQ(catalog_->ReadSettings()->count("other"), 0u);
}

// idempotency_window: node a (24 h, the cluster's) stores a keyed batch; the client retries it
// two minutes later through node b, configured with one minute. Given, b is refused; not given,
// it adopts 24 h and the retry finds a's answer instead of storing the batch again. With its
// own minute (the build before, which settled nothing) b took a fresh claim on the key: the
// batch would have been stored twice.
TEST_F(ClusterSettingsTest, ARetryThroughANodeNotGivenAWindowIsRecognisedWithinTheClusters) {
  ManualClock clock(1'000 * kNanosPerSecond);
  auto keys_of = [&](const std::string& node, uint64_t window_ms) {
    storage::SharedKeysOptions options;
    options.node = node;
    options.incarnation = 1;
    options.window_ns = static_cast<int64_t>(window_ms) * kNanosPerMilli;
    options.claim_wait_ns = 0;
    return std::make_unique<storage::SharedIdempotencyKeys>(catalog_.get(), &clock, options);
  };
  Node a;
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", a.Settings(), nullptr).ok());
  auto a_keys = keys_of("node-a", a.window);
  storage::IdempotencyKey key;
  key.key = "batch-1";
  key.body_hash = 42;
  auto claim = a_keys->Claim("default", key, clock.NowNanos());
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  storage::IdempotencyKey stored = key;
  stored.answer = "{}";
  stored.first_seq = 1;
  stored.count = 10;
  stored.created_ns = clock.NowNanos();
  a_keys->Complete(*claim, stored);
  clock.Advance(120 * kNanosPerSecond);

  Node b;
  b.window = 60'000;
  std::vector<NodeSetting> given = b.Settings();
  given[3].given = true;
  Status refused = SettleNodeSettings(catalog_.get(), "CAT", given, nullptr);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find(
                "idempotency_window = 1m in this node's configuration, but the cluster's is 24h"),
            std::string::npos)
      << refused.message();
  if (refused.ok()) {
    // The build without settling: b runs with its own minute.
    auto retry = keys_of("node-b", b.window)->Claim("default", key, clock.NowNanos());
    EXPECT_EQ(retry.status().code(), StatusCode::kAlreadyExists)
        << "the retry through node b was claimed anew: its batch is stored twice";
    return;
  }
  ASSERT_TRUE(SettleNodeSettings(catalog_.get(), "CAT", b.Settings(), nullptr).ok());
  EXPECT_EQ(b.window, a.window);
  auto retry = keys_of("node-b", b.window)->Claim("default", key, clock.NowNanos());
  EXPECT_EQ(retry.status().code(), StatusCode::kAlreadyExists) << retry.status().ToString();
}

// While nodes run, a node_heartbeat or node_timeout change is allowed only where nodes of the
// old and of the new value side by side still cannot vouch for an answer of a node another has
// taken over (the halfway marks a heartbeat below every node_timeout); with no node live any
// change is; a query_timeout change never while nodes run; an idempotency window always.
// An invalid recorded pair (node_timeout 3s not above node_heartbeat 5s, e.g. written by hand)
// gives a refusal with the real halfway mark, not one wrapped around to 2^64 ms.
TEST_F(ClusterSettingsTest, AnInvalidRecordedPairGivesNoWrappedHalfwayMark) {
  const std::map<std::string, uint64_t> current = {{"node_heartbeat", 5000},
                                                   {"node_timeout", 3000}};
  Status s = CheckSettingChange("node_heartbeat", 1000, current, {"node-a"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("whose heartbeat is up to 5s old"), std::string::npos) << s.message();
}

TEST_F(ClusterSettingsTest, AChangeWhileNodesRunIsAllowedOnlyWhereTheMixIsSafe) {
  const std::map<std::string, uint64_t> current = {{"node_heartbeat", 2000},
                                                   {"node_timeout", 10000},
                                                   {"query_timeout", 60000},
                                                   {"idempotency_window", 86400000}};
  const std::vector<std::string> live = {"node-a", "node-b"};
  // 10 s -> 14 s: halfway marks 6 s and 8 s, +2 s <= 10 s.
  EXPECT_TRUE(CheckSettingChange("node_timeout", 14000, current, live).ok());
  // 10 s -> 20 s: a new node vouches up to 11 s, an old one takes over after 10 s.
  Status up = CheckSettingChange("node_timeout", 20000, current, live);
  EXPECT_EQ(up.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(up.message().find("2 nodes are live (node-a, node-b)"), std::string::npos)
      << up.message();
  EXPECT_NE(up.message().find("up to 11s old while another takes a node over after 10s"),
            std::string::npos)
      << up.message();
  // 10 s -> 5 s: an old node vouches up to 6 s, a new one takes over after 5 s.
  EXPECT_EQ(CheckSettingChange("node_timeout", 5000, current, live).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckSettingChange("node_timeout", 20000, current, {}).ok());
  EXPECT_TRUE(CheckSettingChange("node_heartbeat", 1000, current, live).ok());
  EXPECT_EQ(CheckSettingChange("node_heartbeat", 5000, current, live).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSettingChange("node_heartbeat", 10000, current, {}).code(),
            StatusCode::kInvalidArgument)
      << "node_timeout must stay above node_heartbeat";
  EXPECT_EQ(CheckSettingChange("query_timeout", 120000, current, live).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_TRUE(CheckSettingChange("query_timeout", 120000, current, {}).ok());
  EXPECT_TRUE(CheckSettingChange("query_timeout", 60000, current, live).ok()) << "no change";
  EXPECT_TRUE(CheckSettingChange("idempotency_window", 3600000, current, live).ok());
  EXPECT_EQ(CheckSettingChange("partitions", 4, current, {}).code(), StatusCode::kInvalidArgument);
}

// The real clock shifted by "offset_ns": a node whose wall clock is off from the admin machine's.
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  int64_t NowNanos() const override { return Clock::Real()->NowNanos() + offset_ns_; }
  int64_t MonotonicNanos() const override { return Clock::Real()->MonotonicNanos(); }

 private:
  int64_t offset_ns_;
};

const std::map<std::string, uint64_t> kDefaults = {{"node_heartbeat", 2000},
                                                   {"node_timeout", 10000},
                                                   {"query_timeout", 60000},
                                                   {"idempotency_window", 86400000}};

// `sawmill admin settings` (settings_admin.h): what it reads of a cluster and checks a change
// against, with nodes heartbeating on the catalog as the command sees them.
class ClusterSettingsAdminTest : public ClusterSettingsTest {
 protected:
  void TearDown() override {
    nodes_.clear();
    ClusterSettingsTest::TearDown();
  }

  // Starts node "id" heartbeating every 50 ms by "clock", recording "settings" (none: a node of
  // a build that records no values). The values are what it claims to run; its registry's own
  // interval is short so that the tests watch for little time.
  void StartNode(const std::string& id, std::map<std::string, uint64_t> settings,
                 Clock* clock = Clock::Real()) {
    NodeRegistryOptions options;
    options.id = id;
    options.url = "http://127.0.0.1:1/" + id;
    options.heartbeat_interval_ns = 50 * kNanosPerMilli;
    options.node_timeout_ns = 10 * kNanosPerSecond;
    options.clock = clock;
    options.settings = std::move(settings);
    auto started = NodeRegistry::Start(catalog_.get(), options);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    nodes_.push_back(std::move(*started));
  }
  // Stops every node cleanly (their rows go).
  void StopNodes() {
    for (auto& node : nodes_) node->Stop(/*remove=*/true);
    nodes_.clear();
  }

  ClusterSettingsView View() {
    auto view = ReadClusterSettingsView(catalog_.get(), kDefaults);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    return view.ok() ? *view : ClusterSettingsView{};
  }
  // Checks and records as `sawmill admin settings set` does.
  Status Set(const std::string& name, uint64_t value) {
    const ClusterSettingsView view = View();
    RETURN_IF_ERROR(CheckSettingChangeNow(view, name, value));
    return catalog_->ChangeSettingIf(view.recorded, view.registered, name, value);
  }

  // Nodes' clocks an hour behind and ahead of this machine's (they outlive the nodes_ using them).
  ShiftedClock behind_{-3600 * kNanosPerSecond}, ahead_{3600 * kNanosPerSecond};
  std::vector<std::unique_ptr<NodeRegistry>> nodes_;
};

std::vector<std::string> Ids(const std::vector<catalog::NodeRow>& rows) {
  std::vector<std::string> ids;
  for (const auto& row : rows) ids.push_back(row.id);
  return ids;
}

// 10s -> 14s is safe beside nodes of 10s (heartbeat 2s), and 14s -> 18s beside nodes of 14s, but
// nodes not restarted since the first change still run 10s, beside which 18s is not: a node of
// 18s vouches for answers up to 10s old while one of 10s takes a node over after 10s. Before,
// the second step was checked against the recorded 14s only and taken.
TEST_F(ClusterSettingsAdminTest, AChainedChangeIsCheckedAgainstWhatANodeNotRestartedStillRuns) {
  ASSERT_TRUE(catalog_->SettleSettings(kDefaults).ok());
  StartNode("a", kDefaults);
  StartNode("b", kDefaults);
  ASSERT_TRUE(Set("node_timeout", 14000).ok());
  const ClusterSettingsView view = View();
  EXPECT_EQ(Ids(view.live), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(DescribeLiveNodeValues(view).size(), 2u);
  EXPECT_EQ(DescribeLiveNodeValues(view)[0],
            "a runs node_timeout 10s (14s recorded): it started before the change and takes the "
            "recorded value at its restart");
  Status chained = Set("node_timeout", 18000);
  EXPECT_EQ(chained.code(), StatusCode::kFailedPrecondition) << chained.ToString();
  EXPECT_NE(chained.message().find("2 nodes are live (a, b)"), std::string::npos)
      << chained.ToString();
  EXPECT_NE(chained.message().find("a runs node_timeout 10s (14s recorded)"), std::string::npos)
      << chained.ToString();
  EXPECT_EQ(catalog_->ReadSetting("node_timeout")->value_or(0), 14000u);

  // Once both restarted with 14s, 14s -> 18s is taken.
  StopNodes();
  std::map<std::string, uint64_t> restarted = kDefaults;
  restarted["node_timeout"] = 14000;
  StartNode("a", restarted);
  StartNode("b", restarted);
  EXPECT_TRUE(DescribeLiveNodeValues(View()).empty());
  Status taken = Set("node_timeout", 18000);
  EXPECT_TRUE(taken.ok()) << taken.ToString();
}

// A refusal names the nodes whose values of the changed setting differ (of node_heartbeat or
// node_timeout, either: they are checked together), not those that differ in another setting
// only: before, a node_timeout or query_timeout refusal named every node not restarted since an
// idempotency_window change, as if that were why.
TEST_F(ClusterSettingsAdminTest, ARefusalNamesOnlyTheNodesWhoseValuesOfTheSettingDiffer) {
  ASSERT_TRUE(catalog_->SettleSettings(kDefaults).ok());
  StartNode("a", kDefaults);
  std::map<std::string, uint64_t> b_runs = kDefaults;
  b_runs["node_heartbeat"] = 1000;
  StartNode("b", b_runs);
  ASSERT_TRUE(Set("idempotency_window", 3600000).ok());  // a and b run 24h now
  Status timeout = Set("node_timeout", 60000);
  EXPECT_EQ(timeout.code(), StatusCode::kFailedPrecondition) << timeout.ToString();
  EXPECT_NE(timeout.message().find("b runs node_heartbeat 1s (2s recorded)"), std::string::npos)
      << timeout.ToString();
  EXPECT_EQ(timeout.message().find("idempotency_window"), std::string::npos) << timeout.ToString();
  EXPECT_EQ(timeout.message().find("a runs"), std::string::npos) << timeout.ToString();
  Status query = Set("query_timeout", 90000);
  EXPECT_EQ(query.code(), StatusCode::kFailedPrecondition) << query.ToString();
  EXPECT_EQ(query.message().find(" runs "), std::string::npos) << query.ToString();
}

// A cluster of an earlier build recorded nothing, neither the settings nor what its nodes run:
// the values shown are no node's for sure, and a change of node_heartbeat, node_timeout or
// query_timeout cannot be checked while such a node is live (10s -> 12s was taken before,
// checked against the default 10s while the node may run 6s). The idempotency window can.
TEST_F(ClusterSettingsAdminTest, ANodeThatRecordedNoValuesHoldsBackChangesItCouldRunUnsafely) {
  StartNode("old", {});
  const ClusterSettingsView view = View();
  EXPECT_TRUE(view.recorded.empty());
  EXPECT_EQ(view.current.at("node_timeout"), 10000u);
  EXPECT_EQ(Ids(view.live), (std::vector<std::string>{"old"}));
  ASSERT_EQ(DescribeLiveNodeValues(view).size(), 1u);
  EXPECT_NE(DescribeLiveNodeValues(view)[0].find("old recorded no values"), std::string::npos);
  for (const auto& [name, value] : std::map<std::string, uint64_t>{
           {"node_timeout", 12000}, {"node_heartbeat", 1000}, {"query_timeout", 90000}}) {
    Status refused = Set(name, value);
    EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition)
        << name << ": " << refused.ToString();
    EXPECT_NE(refused.message().find("1 live node (old) recorded no values"), std::string::npos)
        << refused.ToString();
  }
  EXPECT_TRUE(Set("idempotency_window", 3600000).ok());
  // Restarted with this build (it records what it runs), it no longer holds them back.
  StopNodes();
  StartNode("old", kDefaults);
  Status taken = Set("node_timeout", 12000);
  EXPECT_TRUE(taken.ok()) << taken.ToString();
}

// Liveness is told by the heartbeats advancing, not by the admin machine's clock: nodes whose
// clocks are an hour behind and ahead of it are live (before, the one behind looked dead, and
// 10s -> 20s was taken beside it), and a row whose heartbeat stopped long before the others'
// is dead, decided by the live nodes' heartbeats without waiting for its node_timeout.
TEST_F(ClusterSettingsAdminTest, LiveNodesAreToldByTheirHeartbeatsNotByThisMachinesClock) {
  ASSERT_TRUE(catalog_->SettleSettings(kDefaults).ok());
  StartNode("behind", kDefaults, &behind_);
  StartNode("ahead", kDefaults, &ahead_);
  // A node killed a minute before (by the nodes' clocks): its row stays, its heartbeat old.
  const int64_t minute_ago = Clock::Real()->NowNanos() - 60 * kNanosPerSecond;
  ASSERT_TRUE(
      catalog_->Heartbeat({"killed", "http://k", minute_ago, minute_ago, 0, kDefaults}).ok());
  const ClusterSettingsView view = View();
  EXPECT_EQ(Ids(view.live), (std::vector<std::string>{"ahead", "behind"}));
  EXPECT_LT(view.watched_ns, 5 * kNanosPerSecond) << "waited for the killed node's timeout";
  Status refused = Set("node_timeout", 20000);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition) << refused.ToString();
  EXPECT_NE(refused.message().find("2 nodes are live (ahead, behind)"), std::string::npos)
      << refused.ToString();
}

// A node that stopped beating lately (killed, or stalled) is live until its heartbeat has not
// advanced for node_timeout (plus a heartbeat): the others take it over only then, and until
// then it may wake and run its values.
TEST_F(ClusterSettingsAdminTest,
       ANodeThatStoppedBeatingLatelyIsWatchedForItsTimeoutBeforeItCountsAsDead) {
  std::map<std::string, uint64_t> values = kDefaults;
  values["node_heartbeat"] = 100;
  values["node_timeout"] = 1500;
  ASSERT_TRUE(catalog_->SettleSettings(values).ok());
  const int64_t now = Clock::Real()->NowNanos();
  ASSERT_TRUE(catalog_->Heartbeat({"stalled", "http://s", now, now, 0, values}).ok());
  const ClusterSettingsView view = View();
  EXPECT_TRUE(view.live.empty());
  EXPECT_GE(view.watched_ns, 1600 * kNanosPerMilli);
  EXPECT_LT(view.watched_ns, 10 * kNanosPerSecond);
}

// `sawmill admin settings` lists the nodes once to choose how long to watch and starts its watch
// from that listing: over an empty nodes table it takes one ListNodes (two before: the listing
// the intervals were chosen by, then the watch's own first read).
TEST_F(ClusterSettingsTest, TheAdminCommandsWatchStartsFromTheListingItChoseItsIntervalsBy) {
  catalog::CountingCatalog counting(std::move(catalog_));
  auto view = ReadClusterSettingsView(&counting, kDefaults);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_TRUE(view->live.empty());
  EXPECT_EQ(counting.Calls("ListNodes"), 1);
}

}  // namespace
}  // namespace sawmill::cluster
