#include "agent/priority.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(RateLimiter, BurstShedsDebugFirstThenInfoButNeverWarn) {
  RateLimiter limiter(100, 100);
  int debug = 0, info = 0, warn = 0;
  for (int i = 0; i < 1000; ++i) {
    debug += limiter.Admit(Level::kDebug, 0);
    info += limiter.Admit(Level::kInfo, 0);
    warn += limiter.Admit(Level::kWarn, 0);
  }
  EXPECT_EQ(warn, 1000);
  EXPECT_LT(debug, info);
  EXPECT_LE(debug + info + warn, 1000 + 100 + 1);
}

TEST(RateLimiter, RefillsAtTheRate) {
  RateLimiter limiter(10, 10);
  int admitted = 0;
  for (int ms = 0; ms < 10'000; ms += 10) {
    admitted += limiter.Admit(Level::kInfo, static_cast<int64_t>(ms) * 1'000'000);
  }
  // 10 in the initial burst plus 10 per second for ~10 s.
  EXPECT_GE(admitted, 100);
  EXPECT_LE(admitted, 112);
  RateLimiter off(0, 0);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(off.Admit(Level::kDebug, 0));
}

TEST(DropLevel, RisesOnlyWithRepeatedFailuresAndAFillingSpool) {
  EXPECT_EQ(ComputeDropLevel(10, 3, 50, 100), Level::kUnknown);
  EXPECT_EQ(ComputeDropLevel(2, 3, 99, 100), Level::kUnknown);
  EXPECT_EQ(ComputeDropLevel(3, 3, 91, 100), Level::kInfo);
  EXPECT_EQ(ComputeDropLevel(3, 3, 96, 100), Level::kWarn);
  EXPECT_TRUE(ShedAtDropLevel(Level::kDebug, Level::kInfo));
  EXPECT_FALSE(ShedAtDropLevel(Level::kInfo, Level::kInfo));
  EXPECT_TRUE(ShedAtDropLevel(Level::kInfo, Level::kWarn));
  EXPECT_TRUE(ShedAtDropLevel(Level::kUnknown, Level::kWarn));
  EXPECT_FALSE(ShedAtDropLevel(Level::kWarn, Level::kWarn));
  EXPECT_FALSE(ShedAtDropLevel(Level::kFatal, Level::kWarn));
  (void)kSecond;
}

}  // namespace
}  // namespace sawmill::agent
