// The node registry on a real catalog: SQLite (one catalog object shared by the nodes, as
// SQLite allows one connection per file) and, in cluster_pg_test, a real PostgreSQL with one
// connection per node, as separate servers have.
#include "cluster/node_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "catalog/forwarding_catalog.h"
#include "catalog/pg_catalog.h"
#include "catalog/sqlite_catalog.h"
#ifdef SAWMILL_CLUSTER_TEST_PG
#include "catalog/pg_test_server.h"
#endif

namespace sawmill::cluster {
namespace {

using catalog::Catalog;

std::filesystem::path TestDir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("sawmill_cluster_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
              std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The catalogs the nodes of one test use: the same object on SQLite, one connection each on
// PostgreSQL (a schema per test).
class Catalogs {
 public:
  explicit Catalogs(const std::filesystem::path& dir) : dir_(dir) {}
  Catalog* Get() {
#ifdef SAWMILL_CLUSTER_TEST_PG
    auto opened = catalog::OpenPostgresCatalog(
        catalog::PgTestUrl(),
        {.schema = "c" + std::to_string(std::hash<std::string>{}(dir_.string()))});
#else
    if (!owned_.empty()) return owned_.front().get();
    auto opened = catalog::OpenSqliteCatalog((dir_ / "catalog.db").string());
#endif
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    owned_.push_back(std::move(opened).value());
    return owned_.back().get();
  }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Catalog>> owned_;
};

// Distinct test names per catalog, so that ctest's names (and the PostgreSQL tests' fixture)
// do not collide between cluster_test and cluster_pg_test.
#ifdef SAWMILL_CLUSTER_TEST_PG
#define REGISTRY_SUITE NodeRegistryPg
#else
#define REGISTRY_SUITE NodeRegistry
#endif

NodeRegistryOptions Options(const std::string& id, ManualClock* clock) {
  NodeRegistryOptions o;
  o.id = id;
  o.url = "http://127.0.0.1:1/" + id;
  o.heartbeat_interval_ns = 2 * kNanosPerSecond;
  o.background = false;  // the tests beat by hand
  o.node_timeout_ns = 10 * kNanosPerSecond;
  o.clock = clock;
  return o;
}

std::vector<std::string> Ids(const std::vector<catalog::NodeRow>& rows) {
  std::vector<std::string> ids;
  for (const auto& r : rows) ids.push_back(r.id);
  return ids;
}

// A node records the values it runs of the cluster-wide settings with its registration (what
// `sawmill admin settings set` checks a change against); its later heartbeats keep them.
TEST(REGISTRY_SUITE, ANodeRecordsTheValuesItRunsWithItsRegistration) {
  const auto dir = TestDir();
  Catalogs catalogs(dir);
  ManualClock clock(1'000 * kNanosPerSecond);
  NodeRegistryOptions options = Options("a", &clock);
  options.settings = {{"node_heartbeat", 2000}, {"node_timeout", 10000}};
  auto a = NodeRegistry::Start(catalogs.Get(), options);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  clock.Advance(2 * kNanosPerSecond);
  ASSERT_TRUE((*a)->Beat().ok());
  auto listed = (*a)->List();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].row.settings, options.settings);
  EXPECT_EQ((*listed)[0].row.heartbeat_ns, 1'002 * kNanosPerSecond);
  std::filesystem::remove_all(dir);
}

#ifndef SAWMILL_CLUSTER_TEST_PG
// A heartbeat lists the nodes once: the peers and the live count come from the listing it takes
// before its write (with its own row as written), not from a second listing after it.
TEST(REGISTRY_SUITE, AHeartbeatListsTheNodesOnce) {
  const auto dir = TestDir();
  auto opened = catalog::OpenSqliteCatalog((dir / "catalog.db").string());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  catalog::CountingCatalog catalog(std::move(opened).value());
  ManualClock clock(1'000 * kNanosPerSecond);
  auto a = NodeRegistry::Start(&catalog, Options("a", &clock));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = NodeRegistry::Start(&catalog, Options("b", &clock));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  clock.Advance(2 * kNanosPerSecond);
  const int before = catalog.Calls("ListNodes");
  ASSERT_TRUE((*a)->Beat().ok());
  EXPECT_EQ(catalog.Calls("ListNodes") - before, 1);
  EXPECT_EQ(Ids((*a)->Peers()), (std::vector<std::string>{"b"}));
  EXPECT_EQ((*a)->LiveCount(), 2u);
  (*a)->Stop(/*remove=*/true);
  (*b)->Stop(/*remove=*/true);
  std::filesystem::remove_all(dir);
}
#endif

TEST(REGISTRY_SUITE, NodesSeeEachOtherAndADeadNodeDropsOutAfterTheTimeout) {
  const auto dir = TestDir();
  Catalogs catalogs(dir);
  ManualClock clock(1'000 * kNanosPerSecond);
  auto a = NodeRegistry::Start(catalogs.Get(), Options("a", &clock));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  clock.Advance(kNanosPerSecond);
  auto b = NodeRegistry::Start(catalogs.Get(), Options("b", &clock));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  clock.Advance(kNanosPerSecond);
  auto c = NodeRegistry::Start(catalogs.Get(), Options("c", &clock));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*a)->Beat().ok());
  EXPECT_EQ(Ids((*a)->Peers()), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ((*a)->LiveCount(), 3u);
  EXPECT_EQ((*c)->Peers().size(), 2u);
  EXPECT_EQ((*a)->Peers()[0].url, "http://127.0.0.1:1/b");

  // c stops heartbeating (killed: no clean removal); 9 s later it is still live, 11 s dead.
  (*c)->Stop(/*remove=*/false);
  clock.Advance(9 * kNanosPerSecond);
  ASSERT_TRUE((*a)->Beat().ok());
  ASSERT_TRUE((*b)->Beat().ok());
  EXPECT_EQ(Ids((*a)->Peers()), (std::vector<std::string>{"b", "c"}));
  clock.Advance(2 * kNanosPerSecond);
  ASSERT_TRUE((*a)->Beat().ok());
  EXPECT_EQ(Ids((*a)->Peers()), (std::vector<std::string>{"b"}));
  EXPECT_EQ((*a)->LiveCount(), 2u);
  auto listed = (*a)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);  // the dead row stays, marked dead
  EXPECT_TRUE((*listed)[0].self);
  EXPECT_TRUE((*listed)[0].live);
  EXPECT_FALSE((*listed)[1].self);
  EXPECT_EQ((*listed)[2].row.id, "c");
  EXPECT_FALSE((*listed)[2].live);

  // A clean shutdown removes the row at once.
  (*b)->Stop(/*remove=*/true);
  ASSERT_TRUE((*a)->Beat().ok());
  EXPECT_TRUE((*a)->Peers().empty());
  listed = (*a)->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  std::filesystem::remove_all(dir);
}

TEST(REGISTRY_SUITE, ARestartIsTheSameIdWithANewIncarnation) {
  const auto dir = TestDir();
  Catalogs catalogs(dir);
  ManualClock clock(1'000 * kNanosPerSecond);
  auto id = LoadOrCreateNodeId(dir.string());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto again = LoadOrCreateNodeId(dir.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*id, *again);  // stable across restarts of one data directory

  auto first = NodeRegistry::Start(catalogs.Get(), Options(*id, &clock));
  ASSERT_TRUE(first.ok());
  const int64_t first_incarnation = (*first)->incarnation();
  (*first)->Stop(/*remove=*/false);  // killed
  clock.Advance(3 * kNanosPerSecond);
  auto second = NodeRegistry::Start(catalogs.Get(), Options(*id, &clock));
  ASSERT_TRUE(second.ok());
  EXPECT_GT((*second)->incarnation(), first_incarnation);
  auto listed = (*second)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);  // one row per id, the new incarnation's
  EXPECT_EQ((*listed)[0].row.started_ns, (*second)->incarnation());
  EXPECT_TRUE((*listed)[0].self);

  // The old incarnation's late clean shutdown does not remove the new one's row.
  (*first)->Stop(/*remove=*/true);  // already stopped: a no-op
  clock.Advance(kNanosPerSecond);
  auto stale = NodeRegistry::Start(catalogs.Get(), Options(*id, &clock));
  ASSERT_TRUE(stale.ok());
  (*second)->Stop(/*remove=*/true);  // not its row any more: kept
  listed = (*stale)->List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].row.started_ns, (*stale)->incarnation());
  std::filesystem::remove_all(dir);
}

TEST(REGISTRY_SUITE, RefusesBadOptionsAndADamagedIdFile) {
  const auto dir = TestDir();
  Catalogs catalogs(dir);
  ManualClock clock(1'000 * kNanosPerSecond);
  auto bad_id = NodeRegistry::Start(catalogs.Get(), Options("a b", &clock));
  EXPECT_TRUE(bad_id.status().IsInvalidArgument()) << bad_id.status().ToString();
  NodeRegistryOptions o = Options("a", &clock);
  o.heartbeat_interval_ns = 2 * kNanosPerSecond;
  o.node_timeout_ns = kNanosPerSecond;
  auto bad_timeout = NodeRegistry::Start(catalogs.Get(), o);
  EXPECT_TRUE(bad_timeout.status().IsInvalidArgument());
  EXPECT_NE(bad_timeout.status().message().find("node_timeout"), std::string::npos);
  std::ofstream(dir / "node_id") << "not an id!\n";
  auto damaged = LoadOrCreateNodeId(dir.string());
  EXPECT_TRUE(damaged.status().IsDataLoss()) << damaged.status().ToString();
  EXPECT_NE(damaged.status().message().find("node_id"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(REGISTRY_SUITE, HeartbeatsOnItsOwnThread) {
  const auto dir = TestDir();
  Catalogs catalogs(dir);
  NodeRegistryOptions o;
  o.id = "real";
  o.url = "http://127.0.0.1:1";
  o.heartbeat_interval_ns = 50 * kNanosPerMilli;
  o.node_timeout_ns = 10 * kNanosPerSecond;
  Catalog* catalog = catalogs.Get();
  auto registry = NodeRegistry::Start(catalog, o);
  ASSERT_TRUE(registry.ok());
  auto first = catalog->ListNodes();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  auto later = catalog->ListNodes();
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_GT((*later)[0].heartbeat_ns, (*first)[0].heartbeat_ns);
  (*registry)->Stop(/*remove=*/true);
  auto after = catalog->ListNodes();
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  std::filesystem::remove_all(dir);
}

TEST(REGISTRY_SUITE, DefaultAdvertiseUrl) {
  EXPECT_EQ(DefaultAdvertiseUrl("http", "127.0.0.1", 9640), "http://127.0.0.1:9640");
  EXPECT_EQ(DefaultAdvertiseUrl("https", "::1", 9), "https://[::1]:9");
  const std::string any = DefaultAdvertiseUrl("http", "0.0.0.0", 9640);
  EXPECT_EQ(any.find("0.0.0.0"), std::string::npos) << any;
  EXPECT_EQ(any.rfind(":9640"), any.size() - 5);
}

}  // namespace
}  // namespace sawmill::cluster
