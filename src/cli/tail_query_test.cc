#include "cli/tail_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sawmill::cli {
namespace {

TEST(BuildTailQuery, TheOnCallFormMeansThisServiceAtErrorAndAbove) {
  Result<std::string> q = BuildTailQuery({"checkout", "ERROR", "", ""});
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, "service=checkout level>=ERROR");
}

TEST(BuildTailQuery, LevelSpellingsAreNormalised) {
  EXPECT_EQ(*BuildTailQuery({"", "warning", "", ""}), "level>=WARN");
  EXPECT_EQ(*BuildTailQuery({"", "err", "", ""}), "level>=ERROR");
  Result<std::string> bad = BuildTailQuery({"", "LOUD", "", ""});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("'LOUD' is not a level"));
}

TEST(BuildTailQuery, TheFreeQueryIsAndedInParentheses) {
  EXPECT_EQ(*BuildTailQuery({"api", "", "web-1", "timeout OR refused"}),
            "service=api host=web-1 (timeout OR refused)");
  EXPECT_EQ(*BuildTailQuery({"", "", "", "  timeout  "}), "timeout");
  EXPECT_EQ(*BuildTailQuery({}), "");
}

TEST(QuoteValue, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(QuoteValue("checkout-v2"), "checkout-v2");
  EXPECT_EQ(QuoteValue("pay*"), "pay*");
  EXPECT_EQ(QuoteValue("my service"), "\"my service\"");
  EXPECT_EQ(QuoteValue("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteValue(""), "\"\"");
}

}  // namespace
}  // namespace sawmill::cli
