#include "common/timezone.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace sawmill {
namespace {

// Seconds since 1970 of a civil time (UTC or local, as the caller means it).
int64_t Civil(int y, int mo, int d, int h, int mi, int s = 0) {
  y -= mo <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + s;
}

const TimeZone* Zone(std::string_view name) {
  auto zone = TimeZone::Find(name);
  EXPECT_TRUE(zone.ok()) << zone.status().ToString();
  return zone.ok() ? *zone : TimeZone::Utc();
}

TEST(TimeZone, BerlinOffsetsInWinterAndSummer) {
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 1, 15, 12, 0)), 3600);
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 7, 15, 12, 0)), 7200);
  // The change is at 01:00 UTC on the last Sunday of March and of October.
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 3, 29, 0, 59, 59)), 3600);
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 3, 29, 1, 0)), 7200);
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 10, 25, 0, 59, 59)), 7200);
  EXPECT_EQ(berlin->OffsetAt(Civil(2026, 10, 25, 1, 0)), 3600);
}

TEST(TimeZone, GapShiftsForwardByTheGap) {
  // 2026-03-29 02:30 does not exist in Berlin (02:00 CET became 03:00 CEST); it is read with the
  // offset before the change, +01:00: 01:30 UTC, which Berlin shows as 03:30 CEST.
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 3, 29, 2, 30)), Civil(2026, 3, 29, 1, 30));
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 3, 29, 1, 59)), Civil(2026, 3, 29, 0, 59));
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 3, 29, 3, 0)), Civil(2026, 3, 29, 1, 0));
  const TimeZone* new_york = Zone("America/New_York");
  EXPECT_EQ(new_york->LocalToUtc(Civil(2026, 3, 8, 2, 30)), Civil(2026, 3, 8, 7, 30));
}

TEST(TimeZone, OverlapTakesTheEarlierInstant) {
  // 2026-10-25 02:30 happens twice in Berlin: first in CEST (00:30 UTC), then in CET (01:30
  // UTC). The earlier one is taken, as Python's fold=0 and Java's ZonedDateTime.of do.
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 10, 25, 2, 30)), Civil(2026, 10, 25, 0, 30));
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 10, 25, 1, 59)), Civil(2026, 10, 24, 23, 59));
  EXPECT_EQ(berlin->LocalToUtc(Civil(2026, 10, 25, 3, 0)), Civil(2026, 10, 25, 2, 0));
  const TimeZone* new_york = Zone("America/New_York");
  EXPECT_EQ(new_york->LocalToUtc(Civil(2026, 11, 1, 1, 30)), Civil(2026, 11, 1, 5, 30));
}

TEST(TimeZone, HistoricalOffsetsComeFromTheDatabase) {
  // Kafka's era and before: Berlin had no daylight saving time in 1975, and Europe's rule
  // differed from today's in 1995 (October's last Sunday was September's).
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->LocalToUtc(Civil(1975, 7, 1, 12, 0)), Civil(1975, 7, 1, 11, 0));
  EXPECT_EQ(berlin->OffsetAt(Civil(1995, 10, 10, 12, 0)), 3600);
  EXPECT_EQ(berlin->OffsetAt(Civil(1996, 10, 10, 12, 0)), 7200);
}

TEST(TimeZone, RuleAfterTheLastTransitionAppliesToLaterYears) {
  // The files list transitions up to 2037 at most; later years follow the POSIX rule footer.
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(berlin->LocalToUtc(Civil(2040, 7, 1, 12, 0)), Civil(2040, 7, 1, 10, 0));
  EXPECT_EQ(berlin->LocalToUtc(Civil(2040, 12, 1, 12, 0)), Civil(2040, 12, 1, 11, 0));
  // Southern hemisphere: daylight time spans the new year.
  const TimeZone* sydney = Zone("Australia/Sydney");
  EXPECT_EQ(sydney->OffsetAt(Civil(2040, 1, 15, 0, 0)), 11 * 3600);
  EXPECT_EQ(sydney->OffsetAt(Civil(2040, 7, 15, 0, 0)), 10 * 3600);
  EXPECT_EQ(sydney->OffsetAt(Civil(2026, 1, 15, 0, 0)), 11 * 3600);
}

// A TZif v2 file with no transitions and only the rule footer must give the same offsets as the
// full Europe/Berlin file for every hour of 2026: the POSIX rule code is right, not just unused.
TEST(TimeZone, PosixRuleMatchesTheTransitionTable) {
  std::string file;
  auto header = [&file](char version, uint32_t typecnt, uint32_t charcnt) {
    file += "TZif";
    file += version;
    file += std::string(15, '\0');
    for (uint32_t count : {0u, 0u, 0u, 0u, typecnt, charcnt}) {
      for (int shift = 24; shift >= 0; shift -= 8) file += static_cast<char>(count >> shift);
    }
  };
  auto type = [&file](int32_t offset) {
    for (int shift = 24; shift >= 0; shift -= 8) file += static_cast<char>(offset >> shift);
    file += '\0';
    file += '\0';
  };
  header('2', 1, 4);
  type(3600);
  file += std::string("CET\0", 4);
  header('2', 1, 4);
  type(3600);
  file += std::string("CET\0", 4);
  file += "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
  auto rule_only = TimeZone::FromTzif("rule-only", file);
  ASSERT_TRUE(rule_only.ok()) << rule_only.status().ToString();
  const TimeZone* berlin = Zone("Europe/Berlin");
  int summer_hours = 0;
  for (int64_t t = Civil(2026, 1, 1, 0, 0); t < Civil(2027, 1, 1, 0, 0); t += 3600) {
    ASSERT_EQ((*rule_only)->OffsetAt(t), berlin->OffsetAt(t)) << "at " << t;
    ASSERT_EQ((*rule_only)->LocalToUtc(t), berlin->LocalToUtc(t)) << "at local " << t;
    if (berlin->OffsetAt(t) == 7200) ++summer_hours;
  }
  EXPECT_EQ(summer_hours, 210 * 24);  // 2026-03-29 01:00 UTC .. 2026-10-25 01:00 UTC
}

TEST(TimeZone, FixedOffsetsAndUtc) {
  EXPECT_EQ(Zone("+01:00")->OffsetAt(0), 3600);
  EXPECT_EQ(Zone("+0100")->OffsetAt(0), 3600);
  EXPECT_EQ(Zone("+01")->OffsetAt(0), 3600);
  EXPECT_EQ(Zone("-05:30")->OffsetAt(0), -(5 * 3600 + 30 * 60));
  EXPECT_EQ(Zone("-05:30")->LocalToUtc(0), 5 * 3600 + 30 * 60);
  EXPECT_EQ(Zone("UTC"), TimeZone::Utc());
  EXPECT_EQ(Zone("utc"), TimeZone::Utc());
  EXPECT_EQ(Zone("Z"), TimeZone::Utc());
  EXPECT_EQ(Zone("Etc/UTC")->OffsetAt(Civil(2026, 7, 1, 0, 0)), 0);
  // POSIX-style names in the database count west: Etc/GMT+1 is one hour behind UTC.
  EXPECT_EQ(Zone("Etc/GMT+1")->OffsetAt(0), -3600);
}

TEST(TimeZone, LoadedOnceAndShared) {
  auto a = TimeZone::Find("Europe/Berlin");
  auto b = TimeZone::Find("Europe/Berlin");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*a)->name(), "Europe/Berlin");
}

TEST(TimeZone, BadNamesAreRefusedWithTheReason) {
  struct Case {
    const char* name;
    const char* why;
  };
  for (const Case& c : {
           Case{"../../../etc/passwd", "'.' or '..' path component"},
           Case{"Europe/../../etc/passwd", "'.' or '..' path component"},
           Case{"/etc/localtime", "absolute path"},
           Case{"Europe/Nowhere", "no such zone"},
           Case{"Europe", "no such zone"},  // a directory of the database
           Case{"Europe//Berlin", "empty path component"},
           Case{"Europe/Berlin;rm", "only letters"},
           Case{"", "empty"},
           Case{"+25:00", "expected an offset"},
           Case{"+1:00", "expected an offset"},
           Case{"Berlin time", "only letters"},
       }) {
    auto zone = TimeZone::Find(c.name);
    ASSERT_FALSE(zone.ok()) << c.name;
    EXPECT_EQ(zone.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(zone.status().message().find(c.why), std::string::npos)
        << c.name << ": " << zone.status().message();
    EXPECT_NE(zone.status().message().find(std::string("'") + c.name + "'"), std::string::npos)
        << zone.status().message();
  }
}

TEST(TimeZone, DamagedFilesAreRefused) {
  EXPECT_FALSE(TimeZone::FromTzif("x", "not a zone file at all, just some text here....").ok());
  std::ifstream in(ZoneDirectory() + "/Europe/Berlin", std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(data.size(), 100u);
  EXPECT_TRUE(TimeZone::FromTzif("x", data).ok());
  for (size_t cut : {size_t{10}, size_t{44}, data.size() / 2}) {
    auto zone = TimeZone::FromTzif("x", std::string_view(data).substr(0, cut));
    EXPECT_FALSE(zone.ok()) << cut;
  }
}

}  // namespace
}  // namespace sawmill
