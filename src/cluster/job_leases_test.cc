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

// The lease times are a manual clock's, so that whether b may take the lease depends on the
// renewals alone, not on how long the machine took to run them: each step moves the clock 3/4 of
// the ttl, waits until the renewal thread (real time, every ttl / 3) renewed the lease at that
// time, and b must not take it. Four steps are three ttls; without renewals b takes it at the
// second. Before, a real 2 s ttl with b asking every 200 ms for 5 s failed whenever one renewal
// (a SQLite commit) was held up 1.3 s on a loaded machine.
TEST(JobLeases, AHeldLeaseIsRenewedInTheBackground) {
  auto catalog = OpenCatalog("renew");
  ManualClock clock(1'000 * kNanosPerSecond);
  JobLeaseOptions o = Options("a#1", &clock);
  o.ttl_ns = 2 * kNanosPerSecond;  // renewed every ~667 ms (real time)
  o.background = true;
  JobLeases a(catalog.get(), o);
  JobLeaseOptions ob = Options("b#1", &clock);
  ob.ttl_ns = o.ttl_ns;
  JobLeases b(catalog.get(), ob);
  ASSERT_TRUE(a.Claim("compaction"));
  // The lease's expiry in the catalog.
  auto expires = [&]() -> int64_t {
    auto leases = catalog->ListLeases();
    EXPECT_TRUE(leases.ok()) << leases.status().ToString();
    for (const auto& lease : leases.ok() ? *leases : std::vector<catalog::LeaseRow>{}) {
      if (lease.name == "compaction" && lease.holder == "a#1") return lease.expires_ns;
    }
    return 0;
  };
  for (int step = 1; step <= 4; ++step) {
    clock.Advance(o.ttl_ns * 3 / 4);
    const int64_t renewed = clock.NowNanos() + o.ttl_ns;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (expires() < renewed && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_GE(expires(), renewed) << "not renewed in the background at step " << step;
    ASSERT_FALSE(b.Claim("compaction")) << "taken over at step " << step;
  }
  a.Stop(/*release=*/false);  // killed: no renewals from now on
  clock.Advance(o.ttl_ns - 1);
  EXPECT_FALSE(b.Claim("compaction")) << "taken before the last renewal's ttl ran out";
  clock.Advance(1);
  EXPECT_TRUE(b.Claim("compaction"));
}

}  // namespace
}  // namespace sawmill::cluster
