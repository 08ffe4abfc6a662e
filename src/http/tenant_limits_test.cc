#include "http/tenant_limits.h"

#include <gtest/gtest.h>

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
