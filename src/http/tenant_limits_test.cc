#include "http/tenant_limits.h"

#include <gtest/gtest.h>

#include <atomic>

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
