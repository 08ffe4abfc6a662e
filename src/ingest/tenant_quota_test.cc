#include "ingest/tenant_quota.h"

#include <gtest/gtest.h>

#include <atomic>

namespace sawmill::ingest {
namespace {

std::vector<Record> Batch(size_t n, Level level) {
  std::vector<Record> out(n);
  for (Record& r : out) {
    r.message = "0123456789";  // 10 bytes
    r.level = level;
  }
  return out;
}

TEST(TenantQuotaTest, OffByDefault) {
  ManualClock clock(1000 * kNanosPerSecond);
  TenantQuotas quotas({}, &clock);
  EXPECT_FALSE(quotas.enabled());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(quotas.Admit("a", Batch(10000, Level::kInfo)).ok());
}

TEST(TenantQuotaTest, InfoBatchesAreRefusedBeforeAnyWarnLine) {
  ManualClock clock(1000 * kNanosPerSecond);
  // 100 lines/s, burst 10 s: 1000 lines; low-priority batches stop at 250 left.
  TenantQuotas quotas({100, 0, 10 * kNanosPerSecond}, &clock);
  int info_ok = 0;
  Status refused;
  for (int i = 0; i < 20; ++i) {
    Status s = quotas.Admit("a", Batch(100, Level::kInfo));
    if (!s.ok()) {
      refused = s;
      break;
    }
    ++info_ok;
  }
  EXPECT_EQ(info_ok, 7);  // 1000 -> 300 left; the 8th would leave 200 < 250
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("tenant 'a' is over its ingest quota (100 lines/s"),
            std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("without WARN or higher lines are refused first"),
            std::string::npos);
  // DEBUG is refused too, but a batch with one WARN line among INFO ones still passes.
  EXPECT_FALSE(quotas.Admit("a", Batch(100, Level::kDebug)).ok());
  auto mixed = Batch(100, Level::kInfo);
  mixed[50].level = Level::kWarn;
  EXPECT_TRUE(quotas.Admit("a", mixed).ok());                      // 300 -> 200
  EXPECT_TRUE(quotas.Admit("a", Batch(200, Level::kError)).ok());  // -> 0
  Status empty = quotas.Admit("a", Batch(1, Level::kError));
  EXPECT_EQ(empty.code(), StatusCode::kResourceExhausted);
  // Another tenant has its own bucket.
  EXPECT_TRUE(quotas.Admit("b", Batch(700, Level::kInfo)).ok());
  // Time refills: 5 s = 500 lines, back above the reserve for INFO.
  clock.Advance(5 * kNanosPerSecond);
  EXPECT_TRUE(quotas.Admit("a", Batch(200, Level::kInfo)).ok());
}

TEST(TenantQuotaTest, BytesPerSecond) {
  ManualClock clock(1000 * kNanosPerSecond);
  TenantQuotas quotas({0, 1000, 1 * kNanosPerSecond}, &clock);    // 1000 bytes burst
  EXPECT_TRUE(quotas.Admit("a", Batch(50, Level::kInfo)).ok());   // 500 bytes
  EXPECT_FALSE(quotas.Admit("a", Batch(50, Level::kInfo)).ok());  // would leave 0 < 250
  EXPECT_TRUE(quotas.Admit("a", Batch(50, Level::kWarn)).ok());
}

TEST(TenantQuotaTest, ABatchLargerThanTheBurstPassesOnAFullBucket) {
  ManualClock clock(1000 * kNanosPerSecond);
  TenantQuotas quotas({10, 0, 1 * kNanosPerSecond}, &clock);  // 10 lines burst
  EXPECT_TRUE(quotas.Admit("a", Batch(100, Level::kWarn)).ok());
  EXPECT_FALSE(quotas.Admit("a", Batch(100, Level::kWarn)).ok());  // in debt now
  clock.Advance(100 * kNanosPerSecond);
  EXPECT_TRUE(quotas.Admit("a", Batch(100, Level::kWarn)).ok());
}

TEST(TenantQuotaTest, EachTenantHasItsOwnQuotaAndAChangeAppliesToTheNextBatch) {
  ManualClock clock(1000 * kNanosPerSecond);
  std::atomic<uint64_t> a_rate{10};  // tenant a: 10 lines/s; b: none; others: 1000 lines/s
  TenantQuotas quotas(&clock, [&a_rate](std::string_view tenant) {
    if (tenant == "a") return TenantQuotaOptions{a_rate.load(), 0, 1 * kNanosPerSecond};
    if (tenant == "b") return TenantQuotaOptions{0, 0, 1 * kNanosPerSecond};
    return TenantQuotaOptions{1000, 0, 1 * kNanosPerSecond};
  });
  EXPECT_TRUE(quotas.enabled());
  EXPECT_TRUE(quotas.Admit("a", Batch(5, Level::kInfo)).ok());
  Status refused = quotas.Admit("a", Batch(5, Level::kInfo));  // would leave 0 < 2.5
  ASSERT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("(10 lines/s, burst 1 s)"), std::string::npos)
      << refused.message();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(quotas.Admit("b", Batch(1000, Level::kDebug)).ok());
  EXPECT_TRUE(quotas.Admit("c", Batch(500, Level::kInfo)).ok());
  EXPECT_FALSE(quotas.Admit("c", Batch(500, Level::kInfo)).ok());
  // Raised: a's bucket refills towards the new size from the next batch on.
  a_rate = 1000;
  clock.Advance(1 * kNanosPerSecond);
  EXPECT_TRUE(quotas.Admit("a", Batch(500, Level::kInfo)).ok());
  // Lowered: what the bucket holds is capped at the new size at once.
  a_rate = 10;
  EXPECT_FALSE(quotas.Admit("a", Batch(10, Level::kWarn)).ok() &&
               quotas.Admit("a", Batch(10, Level::kWarn)).ok());
}

}  // namespace
}  // namespace sawmill::ingest
