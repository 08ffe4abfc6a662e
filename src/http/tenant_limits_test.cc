#include "http/tenant_limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "catalog/sqlite_catalog.h"

namespace sawmill::http {
namespace {

TEST(TenantLimiterTest, EachTenantHoldsAtMostItsLimitAndSlotsComeBack) {
  TenantLimiter limiter("concurrent queries", "tenant_max_queries", 2);
  auto a1 = limiter.Acquire("a");
  auto a2 = limiter.Acquire("a");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto a3 = limiter.Acquire("a");
  ASSERT_EQ(a3.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(a3.status().message(),
            "tenant 'a' has 2 concurrent queries already, its limit (tenant_max_queries); retry "
            "when one has finished");
  EXPECT_TRUE(limiter.Acquire("b").ok());  // another tenant is not affected
  a1->reset();
  EXPECT_EQ(limiter.held("a"), 1u);
  EXPECT_TRUE(limiter.Acquire("a").ok());
}

TEST(TenantLimiterTest, ZeroMeansNoLimit) {
  TenantLimiter limiter("tail sessions", "tenant_max_tail_sessions", 0);
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 1000; ++i) {
    auto slot = limiter.Acquire("a");
    ASSERT_TRUE(slot.ok());
    held.push_back(*slot);
  }
}

TEST(ScanQuotaTest, TheHourIsKeptInTheCatalogAcrossARestartWrittenAtABoundedRate) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("tenant_limits_test_" + std::to_string(::getpid()) + "_scan_usage");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto open = [&dir] {
    auto c = catalog::OpenSqliteCatalog((dir / "catalog.db").string());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  };
  ManualClock clock((1'800'000'000 / 3600 * 3600 + 30) * kNanosPerSecond);
  auto quota_of = [](std::string_view) -> uint64_t { return 1000; };
  {
    auto catalog = open();
    ScanQuota scan(&clock, quota_of);
    ASSERT_TRUE(scan.Attach(catalog.get(), 5 * kNanosPerSecond).ok());
    scan.Charge("a", 600);  // not written: the last write (the attach) is 0 s old
    EXPECT_TRUE(catalog->ListScanUsage(0)->empty());
    clock.Advance(20 * 60 * kNanosPerSecond);
    scan.Charge("a", 300);  // due: both minutes written
    EXPECT_EQ(catalog->ListScanUsage(0)->size(), 2u);
    scan.Charge("b", 50);  // 0 s after that write: kept for the next one
    EXPECT_EQ(catalog->ListScanUsage(0)->size(), 2u);
    ASSERT_TRUE(scan.Flush().ok());  // what the server does when it stops
    EXPECT_EQ(catalog->ListScanUsage(0)->size(), 3u);
  }
  {
    // A restart: the hour is read back, and the tenant over its quota stays refused.
    auto catalog = open();
    ScanQuota scan(&clock, quota_of);
    EXPECT_TRUE(scan.Admit("a").ok());  // not attached yet: nothing known
    ASSERT_TRUE(scan.Attach(catalog.get(), 5 * kNanosPerSecond).ok());
    EXPECT_EQ(scan.Used("a"), 900u);
    EXPECT_EQ(scan.Used("b"), 50u);
    scan.Charge("a", 200);
    EXPECT_EQ(scan.Used("a"), 1100u);
    EXPECT_EQ(scan.Admit("a").code(), StatusCode::kResourceExhausted);
    // An hour later minute 0 has left the window, and the write removes it from the catalog.
    clock.Advance(40 * 60 * kNanosPerSecond);
    EXPECT_EQ(scan.Used("a"), 500u);
    ASSERT_TRUE(scan.Flush().ok());
    auto rows = catalog->ListScanUsage(0);
    ASSERT_TRUE(rows.ok());
    for (const auto& row : *rows) EXPECT_NE(row.minute * 60, 1'800'000'000 / 3600 * 3600);
    EXPECT_EQ(rows->size(), 2u);  // a at minute 20 (300 + 200), b at minute 20
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sawmill::http

namespace sawmill::http {
namespace {

TEST(TenantLimiterTest, EachTenantHasItsOwnLimitAskedOnEveryAcquire) {
  std::atomic<uint64_t> a_max{1};
  TenantLimiter limiter("concurrent queries", "tenant_max_queries",
                        [&a_max](std::string_view t) { return t == "a" ? a_max.load() : 3; });
  auto a1 = limiter.Acquire("a");
  ASSERT_TRUE(a1.ok());
  EXPECT_FALSE(limiter.Acquire("a").ok());
  a_max = 2;  // raised through the API: applies to the next query
  EXPECT_TRUE(limiter.Acquire("a").ok());
  std::vector<std::shared_ptr<void>> b;
  for (int i = 0; i < 3; ++i) b.push_back(*limiter.Acquire("b"));
  EXPECT_FALSE(limiter.Acquire("b").ok());
}

TEST(ScanQuotaTest, RefusedOverTheQuotaUntilEnoughLeavesTheSlidingHour) {
  // 10:00:30 on some day.
  ManualClock clock((1'800'000'000 / 3600 * 3600 + 30) * kNanosPerSecond);
  std::atomic<uint64_t> quota{1000};
  ScanQuota scan(&clock, [&quota](std::string_view t) { return t == "a" ? quota.load() : 0; });
  EXPECT_TRUE(scan.Admit("a").ok());
  scan.Charge("a", 600);  // minute 0
  clock.Advance(20 * 60 * kNanosPerSecond);
  EXPECT_TRUE(scan.Admit("a").ok());
  scan.Charge("a", 300);  // minute 20
  clock.Advance(10 * 60 * kNanosPerSecond);
  EXPECT_TRUE(scan.Admit("a").ok());  // 900 < 1000
  scan.Charge("a", 200);              // minute 30: 1100
  EXPECT_EQ(scan.Used("a"), 1100u);
  Status refused = scan.Admit("a");
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted);
  // Minute 0's 600 bytes leave the window at minute 60, 30 minutes from now (minus the 30 s
  // into minute 0 the first charge came).
  EXPECT_NE(refused.message().find("has read 1100 bytes in queries over the last hour, its quota "
                                   "is 1000 bytes (scanned_bytes_per_hour)"),
            std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("(retry in 1770 s)"), std::string::npos) << refused.message();
  // Tenants without a quota are never refused; their reads are still counted.
  scan.Charge("b", 1ull << 40);
  EXPECT_TRUE(scan.Admit("b").ok());
  // Raising the quota admits at once.
  quota = 2000;
  EXPECT_TRUE(scan.Admit("a").ok());
  quota = 1000;
  clock.Advance(29 * 60 * kNanosPerSecond);  // minute 59: still 1100
  EXPECT_FALSE(scan.Admit("a").ok());
  clock.Advance(60 * kNanosPerSecond);  // minute 60: minute 0 has left, 500
  EXPECT_TRUE(scan.Admit("a").ok());
  EXPECT_EQ(scan.Used("a"), 500u);
}

}  // namespace
}  // namespace sawmill::http
