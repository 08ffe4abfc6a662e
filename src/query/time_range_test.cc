#include "query/time_range.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "query/query_engine.h"

namespace sawmill::query {
namespace {

constexpr int64_t kNow = 1'796'037'600LL * kNanosPerSecond;  // 2026-11-30T11:20:00Z

TEST(TimeRange, DefaultIsTheLastHour) {
  auto r = ParseTimeRange("", "", "", false, kNow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->to_ns - r->from_ns, 3600 * kNanosPerSecond);
  EXPECT_EQ(r->to_ns, kNow + 1);
  EXPECT_TRUE(r->relative);
}

TEST(TimeRange, SinceFromTo) {
  auto since = ParseTimeRange("15m", "", "", false, kNow);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(since->to_ns - since->from_ns, 15 * 60 * kNanosPerSecond);
  auto abs = ParseTimeRange("", "2026-11-30T10:00:00Z", "1796037600", false, kNow);
  ASSERT_TRUE(abs.ok()) << abs.status().message();
  EXPECT_EQ(abs->from_ns, kNow - 80 * 60 * kNanosPerSecond);
  EXPECT_EQ(abs->to_ns, kNow);
  EXPECT_FALSE(abs->relative);
  auto ms = ParseTimeRange("", "1796037600000", "2026-11-30T12:20:00.5+01:00", false, kNow);
  ASSERT_TRUE(ms.ok()) << ms.status().message();
  EXPECT_EQ(ms->from_ns, kNow);
  EXPECT_EQ(ms->to_ns, kNow + kNanosPerSecond / 2);
  auto all = ParseTimeRange("", "", "", true, kNow);
  ASSERT_TRUE(all.ok());
  EXPECT_LT(all->from_ns, 0);
}

TEST(TimeRange, ErrorsNameTheParameter) {
  EXPECT_EQ(ParseTimeRange("15x", "", "", false, kNow).status().message(),
            "since: expected a duration like 30s, 15m, 1h or 7d, got '15x'");
  EXPECT_EQ(ParseTimeRange("", "yesterday", "", false, kNow).status().message(),
            "from: expected RFC 3339 (2026-11-30T10:00:00Z) or epoch seconds/ms/ns, got "
            "'yesterday'");
  EXPECT_EQ(ParseTimeRange("", "", "2026-11-30T10:00:00Z", false, kNow).status().message(),
            "a time range is required: to= needs from= (or use since=, or all_time=1 to search "
            "everything)");
  EXPECT_EQ(ParseTimeRange("1h", "2026-11-30T10:00:00Z", "", false, kNow).status().message(),
            "give either since or from/to, not both");
  EXPECT_EQ(ParseTimeRange("", "2026-11-30T11:00:00Z", "2026-11-30T10:00:00Z", false, kNow)
                .status()
                .message(),
            "from must be before to (from=2026-11-30T11:00:00Z, to=2026-11-30T10:00:00Z)");
}

TEST(TimeRange, FormatsRfc3339) {
  EXPECT_EQ(FormatRfc3339(kNow), "2026-11-30T11:20:00Z");
  EXPECT_EQ(FormatRfc3339(kNow + 1500 * kNanosPerMilli), "2026-11-30T11:20:01.5Z");
  EXPECT_EQ(FormatDuration(5 * 60 * kNanosPerSecond), "5m");
  EXPECT_EQ(*ParseDuration("90s"), 90 * kNanosPerSecond);
}

}  // namespace
}  // namespace sawmill::query
