// Job leases on a real catalog (SQLite here; the lease decision itself is in the catalog's
// contract suite on SQLite and PostgreSQL): one node runs a job at a time, a node that stops
// renewing loses it after the ttl to another with a larger epoch, a clean stop hands it over at
// once, and a held lease is renewed in the background while a long round runs.
#include "cluster/job_leases.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "catalog/sqlite_catalog.h"

namespace sawmill::cluster {
namespace {

std::unique_ptr<catalog::Catalog> OpenCatalog(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("sawmill_leases_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto opened = catalog::OpenSqliteCatalog((dir / "catalog.db").string());
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  return std::move(opened).value();
}

JobLeaseOptions Options(const std::string& holder, ManualClock* clock) {
  JobLeaseOptions o;
  o.holder = holder;
  o.ttl_ns = 30 * kNanosPerSecond;
  o.clock = clock;
  o.background = false;
  return o;
}

TEST(JobLeases, OneNodeRunsAJobAndAnotherTakesItAfterTheTtl) {
  auto catalog = OpenCatalog("takeover");
  ManualClock clock(1'000 * kNanosPerSecond);
  JobLeases a(catalog.get(), Options("a#1", &clock));
  JobLeases b(catalog.get(), Options("b#1", &clock));
  EXPECT_TRUE(a.Claim("compaction"));
  EXPECT_FALSE(b.Claim("compaction"));
  EXPECT_TRUE(b.Claim("retention"));  // jobs are leased one by one
  EXPECT_FALSE(a.Claim("retention"));
  const uint64_t first = a.Epoch("compaction");
  EXPECT_GT(first, 0u);
  EXPECT_EQ(b.Epoch("compaction"), 0u);

  // a renews within the ttl: it keeps the job, same epoch.
  clock.Advance(20 * kNanosPerSecond);
  EXPECT_TRUE(a.Claim("compaction"));
  EXPECT_EQ(a.Epoch("compaction"), first);
  clock.Advance(20 * kNanosPerSecond);
  EXPECT_FALSE(b.Claim("compaction"));  // renewed 20 s ago: still a's

  // a stalls past the ttl: b takes the job with a larger epoch; a finds it lost.
  clock.Advance(31 * kNanosPerSecond);
  EXPECT_TRUE(b.Claim("compaction"));
  EXPECT_GT(b.Epoch("compaction"), first);
  EXPECT_FALSE(a.Claim("compaction"));
  EXPECT_EQ(a.Epoch("compaction"), 0u);

  // A clean stop hands the jobs over at once.
  b.Stop(/*release=*/true);
  EXPECT_TRUE(a.Claim("compaction"));
  EXPECT_TRUE(a.Claim("retention"));
  EXPECT_FALSE(b.Claim("retention"));  // stopped: claims nothing any more
}

TEST(JobLeases, ARestartedNodeIsANewHolder) {
  auto catalog = OpenCatalog("restart");
  ManualClock clock(1'000 * kNanosPerSecond);
  auto old_incarnation = std::make_unique<JobLeases>(catalog.get(), Options("n#1", &clock));
  EXPECT_TRUE(old_incarnation->Claim("tiers"));
  old_incarnation.reset();  // killed: nothing released
  {
    JobLeases other(catalog.get(), Options("m#1", &clock));
    EXPECT_FALSE(other.Claim("tiers"));  // another node: the claim stands until the ttl
  }
  JobLeases unknowing(catalog.get(), Options("n#2", &clock));
  EXPECT_FALSE(unknowing.Claim("tiers"));  // without its node id it cannot tell: it waits
  clock.Advance(31 * kNanosPerSecond);
  EXPECT_TRUE(unknowing.Claim("tiers"));
  unknowing.Stop(/*release=*/false);  // killed too

  // Restarted knowing its node id: its previous incarnation (dead: one process per data
  // directory) lets go at once.
  JobLeaseOptions o = Options("n#3", &clock);
  o.node_id = "n";
  JobLeases restarted(catalog.get(), o);
  EXPECT_TRUE(restarted.Claim("tiers"));
}

TEST(JobLeases, AHeldLeaseIsRenewedInTheBackground) {
  auto catalog = OpenCatalog("renew");
  JobLeaseOptions o;
  o.holder = "a#1";
  o.ttl_ns = 2 * kNanosPerSecond;  // renewed every ~667 ms
  JobLeases a(catalog.get(), o);
  JobLeaseOptions ob = o;
  ob.holder = "b#1";
  ob.background = false;
  JobLeases b(catalog.get(), ob);
  ASSERT_TRUE(a.Claim("compaction"));
  // A "round" of a lasting 5 s, two and a half times the ttl: the renewal thread keeps the lease.
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_FALSE(b.Claim("compaction")) << "taken over after " << (i + 1) * 200 << " ms";
  }
  a.Stop(/*release=*/false);  // killed: no renewals from now on
  std::this_thread::sleep_for(std::chrono::milliseconds(2300));
  EXPECT_TRUE(b.Claim("compaction"));
}

}  // namespace
}  // namespace sawmill::cluster
