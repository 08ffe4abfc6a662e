#include "common/config_values.h"

#include <gtest/gtest.h>

namespace sawmill {
namespace {

constexpr int64_t kSec = 1'000'000'000;

std::string ErrorOf(const Status& status) {
  EXPECT_TRUE(status.IsInvalidArgument()) << status.ToString();
  return status.message();
}

TEST(ParseSize, UnitsOfTenAndOfTwo) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("12B"), 12u);
  EXPECT_EQ(*ParseSize("64MiB"), 64ull << 20);
  EXPECT_EQ(*ParseSize("256kib"), 256ull << 10);
  EXPECT_EQ(*ParseSize("256Ki"), 256ull << 10);
  EXPECT_EQ(*ParseSize("10GB"), 10'000'000'000ull);
  EXPECT_EQ(*ParseSize("1 TiB"), 1ull << 40);
  EXPECT_EQ(*ParseSize(" 2 tb "), 2'000'000'000'000ull);
  EXPECT_EQ(*ParseSize("1.5GiB"), 3ull << 29);
  EXPECT_EQ(*ParseSize("0.5KB"), 500u);
  EXPECT_EQ(*ParseSize("18446744073709551615"), 18446744073709551615ull);
}

TEST(ParseSize, BadSizesSayWhatWasExpected) {
  for (const char* bad :
       {"", "lots", "MiB", "-1MiB", "10 parsecs", "1.MiB", ".5MiB", "1e3", "5 5"}) {
    std::string error = ErrorOf(ParseSize(bad).status());
    EXPECT_NE(error.find("expected a size such as 64MiB"), std::string::npos) << error;
    EXPECT_NE(error.find("got '" + std::string(bad) + "'"), std::string::npos) << error;
  }
}

TEST(ParseSize, ALoneLetterIsAmbiguous) {
  EXPECT_EQ(ErrorOf(ParseSize("64k").status()),
            "'64k' is ambiguous: write 64KiB for powers of 1024 or 64KB for powers of 1000");
  EXPECT_FALSE(ParseSize("1M").ok());
  EXPECT_FALSE(ParseSize("1 g").ok());
  EXPECT_FALSE(ParseSize("1T").ok());
}

TEST(ParseSize, TooLargeIsAnErrorNotAWrap) {
  EXPECT_NE(ErrorOf(ParseSize("18446744073709551616").status()).find("too large"),
            std::string::npos);
  EXPECT_NE(ErrorOf(ParseSize("17179869184GiB").status()).find("too large"), std::string::npos);
  EXPECT_FALSE(ParseSize("99999999999999999999999").ok());
}

TEST(ParseDuration, UnitsCompoundsAndFractions) {
  EXPECT_EQ(*ParseDuration("10s"), 10 * kSec);
  EXPECT_EQ(*ParseDuration("10"), 10 * kSec);
  EXPECT_EQ(*ParseDuration("500ms"), kSec / 2);
  EXPECT_EQ(*ParseDuration("250us"), 250'000);
  EXPECT_EQ(*ParseDuration("2m"), 120 * kSec);
  EXPECT_EQ(*ParseDuration("1h"), 3600 * kSec);
  EXPECT_EQ(*ParseDuration("1h30m"), 5400 * kSec);
  EXPECT_EQ(*ParseDuration("2m 30s"), 150 * kSec);
  EXPECT_EQ(*ParseDuration("1h0m0s500ms"), 3600 * kSec + kSec / 2);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500 * kSec / 1000);
  EXPECT_EQ(*ParseDuration("0.25H"), 900 * kSec);
  EXPECT_EQ(*ParseDuration(" 30S "), 30 * kSec);
  EXPECT_EQ(*ParseDuration("0"), 0);
  // Days, for tier and retention ages (warm_after 3d, cold_after 30d).
  EXPECT_EQ(*ParseDuration("1d"), 86400 * kSec);
  EXPECT_EQ(*ParseDuration("30d12h"), (30 * 86400 + 12 * 3600) * kSec);
}

TEST(ParseDuration, BadDurationsSayWhatWasExpected) {
  for (const char* bad : {"", "soon", "3 weeks", "1w", "-5s", "1h1h", "30m1h", "1h1d", "5 10",
                          "10s 5", "s", "1.s", "1,5s", "ms500"}) {
    std::string error = ErrorOf(ParseDuration(bad).status());
    EXPECT_NE(error.find("expected a duration such as 500ms"), std::string::npos) << error;
    EXPECT_NE(error.find("got '" + std::string(bad) + "'"), std::string::npos) << error;
  }
  EXPECT_NE(ErrorOf(ParseDuration("9999999999999h").status()).find("too long"), std::string::npos);
  EXPECT_NE(ErrorOf(ParseDuration("2562047h48m").status()).find("too long"), std::string::npos);
  EXPECT_EQ(*ParseDuration("2562047h47m"), 9'223'372'020'000'000'000);
}

TEST(ParseCount, DigitsOnly) {
  EXPECT_EQ(*ParseCount("0"), 0u);
  EXPECT_EQ(*ParseCount(" 1000 "), 1000u);
  EXPECT_EQ(*ParseCount("18446744073709551615"), 18446744073709551615ull);
  for (const char* bad : {"", "1.5", "-1", "+1", "1k", "ten", "1 000"}) {
    std::string error = ErrorOf(ParseCount(bad).status());
    EXPECT_NE(error.find("expected a whole number"), std::string::npos) << error;
  }
  EXPECT_NE(ErrorOf(ParseCount("18446744073709551616").status()).find("too large"),
            std::string::npos);
}

TEST(ParseBool, WordsBothWays) {
  for (const char* yes : {"true", "True", "YES", "on"}) EXPECT_TRUE(*ParseBool(yes)) << yes;
  for (const char* no : {"false", "No", "OFF"}) EXPECT_FALSE(*ParseBool(no)) << no;
  EXPECT_EQ(ErrorOf(ParseBool("maybe").status()),
            "expected true or false (or yes/no, on/off), got 'maybe'");
  EXPECT_FALSE(ParseBool("1").ok());
  EXPECT_FALSE(ParseBool("").ok());
}

// Durations kept in milliseconds print in the largest whole unit, and read back the same.
TEST(FormatMillis, TheLargestWholeUnitReadsBack) {
  EXPECT_EQ(FormatMillis(86'400'000), "24h");
  EXPECT_EQ(FormatMillis(5'400'000), "90m");
  EXPECT_EQ(FormatMillis(20'000), "20s");
  EXPECT_EQ(FormatMillis(1'500), "1500ms");
  EXPECT_EQ(FormatMillis(0), "0s");
  for (uint64_t ms : {86'400'000ull, 5'400'000ull, 20'000ull, 1'500ull, 300ull}) {
    EXPECT_EQ(*ParseDuration(FormatMillis(ms)), static_cast<int64_t>(ms) * 1'000'000) << ms;
  }
  EXPECT_EQ(FlagForKey("node_timeout"), "--node-timeout");
  EXPECT_EQ(FlagForKey("http"), "--http");
}

}  // namespace
}  // namespace sawmill
