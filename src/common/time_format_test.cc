#include "common/time_format.h"

#include <gtest/gtest.h>

#include <ctime>
#include <limits>

namespace sawmill {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(CivilDate, EpochAndKnownDays) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11'017);
  EXPECT_EQ(DaysFromCivil(1600, 1, 1), -135'140);
}

TEST(CivilDate, LeapYearsFollowTheGregorianRule) {
  // Divisible by 4 is a leap year, by 100 not, by 400 again.
  EXPECT_EQ(DaysFromCivil(2024, 3, 1) - DaysFromCivil(2024, 2, 28), 2);
  EXPECT_EQ(DaysFromCivil(2023, 3, 1) - DaysFromCivil(2023, 2, 28), 1);
  EXPECT_EQ(DaysFromCivil(1900, 3, 1) - DaysFromCivil(1900, 2, 28), 1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28), 2);
  EXPECT_EQ(DaysFromCivil(2100, 3, 1) - DaysFromCivil(2100, 2, 28), 1);
  EXPECT_EQ(DaysFromCivil(2001, 1, 1) - DaysFromCivil(2000, 1, 1), 366);
  CivilDate leap = CivilFromDays(DaysFromCivil(2000, 2, 29));
  EXPECT_EQ(leap.year, 2000);
  EXPECT_EQ(leap.month, 2);
  EXPECT_EQ(leap.day, 29);
}

TEST(CivilDate, NegativeYearsAndYearZero) {
  // Year 0 (1 BC) is a leap year; -1 (2 BC) is not.
  EXPECT_EQ(DaysFromCivil(0, 3, 1) - DaysFromCivil(0, 2, 28), 2);
  EXPECT_EQ(DaysFromCivil(-1, 3, 1) - DaysFromCivil(-1, 2, 28), 1);
  EXPECT_EQ(DaysFromCivil(1, 1, 1) - DaysFromCivil(0, 1, 1), 366);
  CivilDate d = CivilFromDays(DaysFromCivil(-400, 12, 31));
  EXPECT_EQ(d.year, -400);
  EXPECT_EQ(d.month, 12);
  EXPECT_EQ(d.day, 31);
  EXPECT_EQ(CivilFromDays(DaysFromCivil(-1, 1, 1)).year, -1);
}

TEST(CivilDate, RoundTripsAndAgreesWithTheCLibrary) {
  // Every day from 1677 (the earliest int64-nanosecond year) to past 2262, and both ways.
  int64_t previous = DaysFromCivil(1677, 1, 1) - 1;
  for (int64_t days = DaysFromCivil(1677, 1, 1); days <= DaysFromCivil(2263, 1, 1); ++days) {
    CivilDate date = CivilFromDays(days);
    ASSERT_EQ(DaysFromCivil(date.year, date.month, date.day), days);
    ASSERT_EQ(days, previous + 1);
    previous = days;
    if (days % 997 != 0) continue;
    time_t t = static_cast<time_t>(days * 86'400);
    struct tm tm;
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    ASSERT_EQ(date.year, tm.tm_year + 1900);
    ASSERT_EQ(date.month, tm.tm_mon + 1);
    ASSERT_EQ(date.day, tm.tm_mday);
  }
}

TEST(Rfc3339, FormatsWithTheFractionAsked) {
  const int64_t ns = 1'700'000'000 * kSec + 123'450'000;
  EXPECT_EQ(FormatRfc3339Nanos(ns), "2023-11-14T22:13:20.123450000Z");
  EXPECT_EQ(FormatRfc3339(ns), "2023-11-14T22:13:20.12345Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000 * kSec), "2023-11-14T22:13:20Z");
  std::string out;
  AppendRfc3339(ns, 0, &out);
  EXPECT_EQ(out, "2023-11-14T22:13:20Z");
  out.clear();
  AppendRfc3339(ns, 3, &out);  // cut, never rounded
  EXPECT_EQ(out, "2023-11-14T22:13:20.123Z");
  out.clear();
  AppendRfc3339(ns + 999'999, 4, &out);
  EXPECT_EQ(out, "2023-11-14T22:13:20.1244Z");
}

TEST(Rfc3339, BeforeTheEpochAndAtTheEndsOfInt64) {
  EXPECT_EQ(FormatRfc3339Nanos(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339(-kSec / 2), "1969-12-31T23:59:59.5Z");
  EXPECT_EQ(FormatRfc3339(DaysFromCivil(1900, 3, 1) * 86'400 * kSec), "1900-03-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Nanos(std::numeric_limits<int64_t>::min()),
            "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(FormatRfc3339Nanos(std::numeric_limits<int64_t>::max()),
            "2262-04-11T23:47:16.854775807Z");
}

TEST(Rfc3339, ParsesZonesAndFractions) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20.5Z"), 1'700'000'000 * kSec + kSec / 2);
  EXPECT_EQ(ParseRfc3339("2023-11-14t23:13:20+01:00"), 1'700'000'000 * kSec);
  EXPECT_EQ(ParseRfc3339("2023-11-14 21:43:20-00:30"), 1'700'000'000 * kSec);
  // Digits past nanoseconds are read and ignored.
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00.1234567891Z"), 123'456'789);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.999999999Z"), -1);
  EXPECT_EQ(ParseRfc3339("2016-12-31T23:59:60Z"), ParseRfc3339("2017-01-01T00:00:00Z"));
  EXPECT_EQ(ParseRfc3339("1677-09-21T00:12:43.145224192Z"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ParseRfc3339("2262-04-11T23:47:16.854775807Z"), std::numeric_limits<int64_t>::max());
}

TEST(Rfc3339, RejectsWhatIsNotRfc3339OrDoesNotFitInt64) {
  for (const char* bad :
       {"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13:20.Z", "2023-13-01T00:00:00Z",
        "2023-11-32T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:60:00Z",
        "2023-11-14T22:13:61Z", "2023-11-14T22:13:20+0100", "2023-11-14T22:13:20Z ",
        "2023/11/14T22:13:20Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
        "2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z"}) {
    EXPECT_EQ(ParseRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(Rfc3339, FormatThenParseIsTheIdentity) {
  for (int64_t ns : {int64_t{0}, int64_t{-1}, int64_t{1}, 951'782'400 * kSec + 1,
                     -2'208'988'800 * kSec + 7, 4'102'444'800 * kSec - 1}) {
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(ns)), ns);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339Nanos(ns)), ns);
  }
}

}  // namespace
}  // namespace sawmill
