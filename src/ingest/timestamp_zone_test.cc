// The default zone of times written without one (Defaults::zone, the agent's `timezone:`, the
// server's `tz=`), on lines taken from the real datasets in shared/data/real.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/timezone.h"
#include "ingest/normalize.h"

namespace sawmill::ingest {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSec;
constexpr int64_t kNow = 1796040000 * kSec;  // 2026-11-30T12:00:00Z

const TimeZone* Zone(std::string_view name) {
  auto zone = TimeZone::Find(name);
  EXPECT_TRUE(zone.ok()) << zone.status().ToString();
  return zone.ok() ? *zone : nullptr;
}

Record Normalize(std::string_view line, const TimeZone* zone, int64_t now_ns = kNow) {
  Defaults defaults;
  defaults.service = "svc";
  defaults.zone = zone;
  IngestCounts counts;
  Record record;
  EXPECT_TRUE(NormalizeLine(line, defaults, NormalizeOptions{}, now_ns, &record, &counts));
  return record;
}

std::string Field(const Record& r, std::string_view key) {
  for (const auto& [k, v] : r.fields) {
    if (k == key) return v;
  }
  return "";
}

fs::path RealDir() {
  const char* env = std::getenv("SAWMILL_SHARED_DIR");
  return fs::path(env != nullptr ? env : SAWMILL_SHARED_DIR) / "data" / "real";
}

TEST(DefaultZone, ZonelessTextIsReadInTheZone) {
  const TimeZone* berlin = Zone("Europe/Berlin");
  // log4j as Kafka, Hadoop and ZooKeeper write it: no zone.
  EXPECT_EQ(ParseTimestamp("2015-10-18 18:01:47,978", kNow, berlin),
            ParseTimestamp("2015-10-18T18:01:47.978+02:00", kNow));
  EXPECT_EQ(ParseTimestamp("2015-12-18 18:01:47,978", kNow, berlin),
            ParseTimestamp("2015-12-18T18:01:47.978+01:00", kNow));
  // Without a zone it stays UTC, as before.
  EXPECT_EQ(ParseTimestamp("2015-10-18 18:01:47,978", kNow),
            ParseTimestamp("2015-10-18T18:01:47.978Z", kNow));
  EXPECT_EQ(ParseTimestamp("2015-10-18 18:01:47,978", kNow, TimeZone::Utc()),
            ParseTimestamp("2015-10-18T18:01:47.978Z", kNow));
  // A fixed offset as the default.
  EXPECT_EQ(ParseTimestamp("2015-10-18 18:01:47", kNow, Zone("+05:30")),
            ParseTimestamp("2015-10-18T12:31:47Z", kNow));
  // Every text format, not only ISO: syslog (year inferred), Apache without offset, HDFS,
  // a bare date (local midnight).
  EXPECT_EQ(ParseTimestamp("Jun 14 15:16:01", kNow, berlin),
            ParseTimestamp("2026-06-14T13:16:01Z", kNow));
  EXPECT_EQ(ParseTimestamp("081109 203615", kNow, berlin),
            ParseTimestamp("2008-11-09T19:36:15Z", kNow));
  EXPECT_EQ(ParseTimestamp("2024-01-15", kNow, berlin),
            ParseTimestamp("2024-01-14T23:00:00Z", kNow));
}

TEST(DefaultZone, AWrittenZoneOrAnEpochKeepsItsInstant) {
  const TimeZone* berlin = Zone("Europe/Berlin");
  for (std::string_view text :
       {"2024-01-15T10:23:45Z", "2024-01-15T11:23:45+01:00", "2024-01-15T05:23:45-0500",
        "2024-01-15 10:23:45 UTC", "2024-01-15 11:23:45 CET", "15/Jan/2024:10:23:45 +0000",
        "1705314225", "1705314225000"}) {
    EXPECT_EQ(ParseTimestamp(text, kNow, berlin), 1705314225 * kSec) << text;
    EXPECT_EQ(ParseTimestamp(text, kNow, Zone("America/New_York")), 1705314225 * kSec) << text;
  }
}

TEST(DefaultZone, DaylightSavingGapAndOverlap) {
  const TimeZone* berlin = Zone("Europe/Berlin");
  // 02:30 on 2026-03-29 does not exist in Berlin: read with +01:00, it lands at 03:30 CEST.
  EXPECT_EQ(ParseTimestamp("2026-03-29 02:30:00", kNow, berlin),
            ParseTimestamp("2026-03-29T01:30:00Z", kNow));
  // 02:30 on 2026-10-25 happens twice: the first one (CEST) is taken.
  EXPECT_EQ(ParseTimestamp("2026-10-25 02:30:00", kNow, berlin),
            ParseTimestamp("2026-10-25T00:30:00Z", kNow));
  // Written with the offset, the second 02:30 is kept as the second one.
  EXPECT_EQ(ParseTimestamp("2026-10-25 02:30:00+01:00", kNow, berlin),
            ParseTimestamp("2026-10-25T01:30:00Z", kNow));
}

// The case: a log4j line without a zone and a line of the same host with one were an
// hour apart. The datasets hold no Kafka log; the closest real lines are below.

// loghub_2k/Zookeeper/Zookeeper_2k.log line 1 (log4j, no zone) and
// elastic_apache_access/apache_logs line 1 (explicit +0000): the default zone moves the first and
// leaves the second alone.
TEST(DefaultZone, RealLog4jLineMovesAndAnOffsetLineStays) {
  const std::string log4j =
      "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:"
      "FastLeaderElection@774] - Notification time out: 3200";
  const std::string apache =
      "83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /presentations/logstash-monitorama-"
      "2013/images/kibana-search.png HTTP/1.1\" 200 203023 \"http://semicomplete.com/"
      "presentations/logstash-monitorama-2013/\" \"Mozilla/5.0 (Macintosh; Intel Mac OS X "
      "10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36\"";
  const TimeZone* berlin = Zone("Europe/Berlin");
  EXPECT_EQ(Normalize(log4j, nullptr).ts, *ParseTimestamp("2015-07-29T17:41:44.747Z", kNow));
  EXPECT_EQ(Normalize(log4j, berlin).ts, *ParseTimestamp("2015-07-29T15:41:44.747Z", kNow));
  EXPECT_EQ(Normalize(log4j, berlin).level, Level::kInfo);
  EXPECT_EQ(Normalize(apache, nullptr).ts, *ParseTimestamp("2015-05-17T10:05:03Z", kNow));
  EXPECT_EQ(Normalize(apache, berlin).ts, *ParseTimestamp("2015-05-17T10:05:03Z", kNow));
}

// pgbadger_postgres/pg-syslog.1, one line of a host in CET: syslog wrote its prefix in local time
// without a zone, PostgreSQL the shutdown time inside the message with "CET". Read as UTC the
// restart came 1 h 40 s after the shutdown; in Europe/Berlin, 40 s.
TEST(DefaultZone, RealSyslogPrefixLinesUpWithTheCetTimeInItsMessage) {
  const std::string line =
      "Feb 11 13:15:39 test-pc postgres[10809]: [4-1] db=,user=,app=,client= LOG:  database "
      "system was shut down at 2019-02-11 13:14:59 CET";
  const int64_t now = *ParseTimestamp("2019-02-12T00:00:00Z", 0);  // the year is not written
  const int64_t shutdown = *ParseTimestamp(line.substr(line.find("2019-")), now);
  EXPECT_EQ(shutdown, *ParseTimestamp("2019-02-11T12:14:59Z", now));
  EXPECT_EQ(Normalize(line, nullptr, now).ts - shutdown, kHour + 40 * kSec);
  EXPECT_EQ(Normalize(line, Zone("Europe/Berlin"), now).ts - shutdown, 40 * kSec);
  EXPECT_EQ(Normalize(line, Zone("CET"), now).ts - shutdown, 40 * kSec);
}

// mordor_windows_events/*.json (NXLog through Logstash): every event carries EventReceivedTime in
// the collector's local time without a zone ("2020-08-06 11:56:07") and Logstash's @timestamp in
// UTC ("2020-08-06T15:56:07.158Z"), taken within the same second or so. In America/New_York the
// two agree on all 8,935 events; read as UTC they are four hours apart. The record's own time,
// from @timestamp, does not move with the default zone.
TEST(DefaultZone, RealNxlogLocalTimesAgreeWithLogstashUtcInTheirZone) {
  const fs::path dir = RealDir() / "mordor_windows_events";
  ASSERT_TRUE(fs::exists(dir)) << dir << " (set SAWMILL_SHARED_DIR)";
  const TimeZone* new_york = Zone("America/New_York");
  size_t events = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Record utc_default = Normalize(line, nullptr);
      Record ny_default = Normalize(line, new_york);
      ASSERT_EQ(utc_default.ts, ny_default.ts) << line.substr(0, 200);
      const std::string received = Field(ny_default, "EventReceivedTime");
      ASSERT_FALSE(received.empty()) << line.substr(0, 200);
      const std::optional<int64_t> local = ParseTimestamp(received, kNow, new_york);
      ASSERT_TRUE(local.has_value()) << received;
      const int64_t lag = ny_default.ts - *local;  // @timestamp after the whole second received
      EXPECT_GE(lag, 0) << received;
      EXPECT_LT(lag, 2 * kSec) << received;
      const int64_t as_utc = ny_default.ts - *ParseTimestamp(received, kNow);
      EXPECT_GT(as_utc, 4 * kHour - 1 * kSec) << received;
      EXPECT_LT(as_utc, 4 * kHour + 2 * kSec) << received;
      ++events;
    }
  }
  EXPECT_EQ(events, 8935u);
}

}  // namespace
}  // namespace sawmill::ingest
