#include <gtest/gtest.h>

#include <optional>

#include "ingest/normalize.h"
#include "ingest/timestamp_internal.h"

namespace sawmill::ingest {
namespace {

constexpr int64_t kSec = 1'000'000'000;
// "Now" for every test: 2026-11-30T12:00:00Z.
constexpr int64_t kNow = 1796040000 * kSec;

std::optional<int64_t> Parse(std::string_view text) { return ParseTimestamp(text, kNow); }

TEST(ParseTimestamp, Rfc3339WithAnyFractionAndZone) {
  EXPECT_EQ(Parse("2024-01-15T10:23:45Z"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15T10:23:45.5Z"), 1705314225 * kSec + 500'000'000);
  EXPECT_EQ(Parse("2024-01-15T10:23:45.123456789Z"), 1705314225 * kSec + 123'456'789);
  // Digits beyond nanoseconds are dropped, not rounded into the seconds.
  EXPECT_EQ(Parse("2024-01-15T10:23:45.1234567891Z"), 1705314225 * kSec + 123'456'789);
  EXPECT_EQ(Parse("2024-01-15T11:23:45+01:00"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15T05:23:45-0500"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15 10:23:45,000"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15 10:23:45 UTC"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15 11:23:45 CET"), 1705314225 * kSec);
  EXPECT_EQ(Parse("2024-01-15"), 1705276800 * kSec);  // a bare date is midnight UTC
  EXPECT_EQ(Parse("  2024-01-15T10:23:45Z "), 1705314225 * kSec);
}

TEST(ParseTimestamp, EpochNumbersByMagnitude) {
  EXPECT_EQ(Parse("1705314225"), 1705314225 * kSec);
  EXPECT_EQ(Parse("1705314225123"), 1705314225 * kSec + 123'000'000);
  EXPECT_EQ(Parse("1705314225123456"), 1705314225 * kSec + 123'456'000);
  EXPECT_EQ(Parse("1705314225123456789"), 1705314225 * kSec + 123'456'789);
  EXPECT_EQ(Parse("1705314225.25"), 1705314225 * kSec + 250'000'000);
  EXPECT_EQ(EpochToNanos(1705314225.0), 1705314225 * kSec);
  EXPECT_EQ(EpochToNanos(1705314225123.0), 1705314225 * kSec + 123'000'000);
  EXPECT_EQ(EpochToNanos(1669575482.0968924), 1669575482 * kSec + 96'892'000);
  EXPECT_EQ(EpochToNanos(-1.0), std::nullopt);
}

TEST(ParseTimestamp, SyslogInfersTheYear) {
  EXPECT_EQ(Parse("Jun 14 15:16:01"), 1781450161 * kSec);  // 2026-06-14
  EXPECT_EQ(Parse("Jul  1 09:00:55"), Parse("2026-07-01T09:00:55Z"));
  // A time more than a day ahead of "now" is last year's.
  EXPECT_EQ(Parse("Dec 31 23:59:00"), 1767225540 * kSec);  // 2025-12-31
  // Up to a day ahead is this year (clock skew between hosts).
  EXPECT_EQ(Parse("Dec  1 11:00:00"), 1796122800 * kSec);
  EXPECT_EQ(Parse("Sun Dec 04 04:47:44 2005"), 1133671664 * kSec);
  EXPECT_EQ(Parse("Sun, 04 Dec 2005 04:47:44 +0000"), 1133671664 * kSec);
}

TEST(ParseTimestamp, ApacheAndHdfs) {
  EXPECT_EQ(Parse("10/Oct/2000:13:55:36 -0700"), 971211336 * kSec);
  EXPECT_EQ(Parse("081109 203615"), 1226262975 * kSec);
}

TEST(ParseTimestamp, RejectsWhatIsNotATime) {
  EXPECT_EQ(Parse(""), std::nullopt);
  EXPECT_EQ(Parse("yesterday"), std::nullopt);
  EXPECT_EQ(Parse("2024-13-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Parse("2024-01-15T10:23:45Z trailing"), std::nullopt);
  EXPECT_EQ(Parse("Jun 14"), std::nullopt);
  EXPECT_EQ(Parse("-5"), std::nullopt);
}

struct Sniffed {
  std::optional<int64_t> ts;
  std::optional<Level> level;
};

Sniffed Sniff(std::string_view line) {
  Sniffed s;
  SniffPlainLine(line, kNow, &s.ts, &s.level);
  return s;
}

TEST(SniffPlainLine, FindsTheLoghubTimestamps) {
  // Expected values derived by hand (date -u -d ... +%s).
  EXPECT_EQ(Sniff("081109 203615 148 INFO dfs.DataNode$PacketResponder: done").ts,
            1226262975 * kSec);
  EXPECT_EQ(Sniff("2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.X: Created").ts,
            1445191307 * kSec + 978'000'000);
  EXPECT_EQ(Sniff("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok").ts, 1133671664 * kSec);
  EXPECT_EQ(Sniff("17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: x").ts,
            1497039040 * kSec);
  EXPECT_EQ(Sniff("nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova").ts,
            1494892800 * kSec + 8'000'000);
  EXPECT_EQ(Sniff("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0] - x").ts,
            1438191704 * kSec + 747'000'000);
  EXPECT_EQ(Sniff("2016-09-28 04:30:30, Info                  CBS    Loaded").ts,
            1475037030 * kSec);
  EXPECT_EQ(Sniff("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579").ts,
            1514067329 * kSec + 606'000'000);
  EXPECT_EQ(Sniff("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 RAS").ts,
            1117838570 * kSec);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 D WindowManager: x").ts,
            1773764018 * kSec + 811'000'000);
  EXPECT_EQ(Sniff("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open").ts,
            1793378946 * kSec);
  EXPECT_EQ(Sniff("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure").ts,
            1781450161 * kSec);
  EXPECT_EQ(Sniff("[2016-12-20 00:00:36,888] INFO x").ts, 1482192036 * kSec + 888'000'000);
  EXPECT_EQ(Sniff("83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200").ts,
            1431857103 * kSec);
  EXPECT_EQ(Sniff("2020-03-11 20:40:43 CET::@:[12760]:LOG:  starting PostgreSQL").ts,
            1583955643 * kSec);
  EXPECT_EQ(Sniff("type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e").ts,
            1604994496 * kSec + 155'000'000);
}

TEST(SniffPlainLine, IgnoresNumbersThatAreNotTimes) {
  EXPECT_EQ(Sniff("134681 node-246 unix.hw state_change.unavailable 12 Component").ts,
            std::nullopt);
  EXPECT_EQ(Sniff("user 12345 bought 3 items for 1999 cents").ts, std::nullopt);
  EXPECT_EQ(Sniff("block blk_38865049064139660 terminating").ts, std::nullopt);
}

TEST(SniffPlainLine, FindsTheLevelToken) {
  EXPECT_EQ(Sniff("081109 203615 148 INFO dfs.DataNode: x").level, Level::kInfo);
  EXPECT_EQ(Sniff("2015-10-18 18:01:47,978 WARN [main] x").level, Level::kWarn);
  EXPECT_EQ(Sniff("[Sun Dec 04 04:47:44 2005] [error] mod_jk child").level, Level::kError);
  EXPECT_EQ(Sniff("[Sun Dec 04 04:47:44 2005] [notice] workerEnv").level, Level::kInfo);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 W WindowManager: x").level, Level::kWarn);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 V WindowManager: x").level, Level::kTrace);
  EXPECT_EQ(Sniff("2016-09-28 04:30:30, Info                  CBS    Loaded").level, Level::kInfo);
  EXPECT_EQ(Sniff("<3>kernel: oops").level, Level::kError);
  EXPECT_EQ(Sniff("<err> disk failing").level, Level::kError);
  EXPECT_EQ(Sniff("ts=2024-01-15T10:23:45Z level=warn msg=slow").level, Level::kWarn);
  EXPECT_EQ(Sniff("2022-05-25T13:14:50.8Z ##[error]Process completed with exit code 1").level,
            Level::kError);
  EXPECT_EQ(Sniff("2017-09-06 08:40:10 UTC [20]: [1-1] user=,db= FATAL:  the database").level,
            Level::kFatal);
  EXPECT_EQ(
      Sniff("- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL FATAL x").level,
      Level::kFatal);
}

// Zeek's TSV logs write booleans as T and F (ssh.log's auth_success, conn.log's local_orig):
// a lone T or F is never TRACE or FATAL, wherever it stands.
TEST(SniffPlainLine, ZeekBooleanColumnsAreNotLevels) {
  const char* lines[] = {
      // ts uid id.orig_h id.orig_p id.resp_h id.resp_p version auth_success auth_attempts ...
      "1331901000.000000\tCHhAvVGS1DHFjwGM9\t192.168.202.79\t50465\t192.168.229.251\t22\t2\tF"
      "\t1\t-\tSSH-2.0-OpenSSH_5.0\tSSH-1.99-Cisco-1.25",
      "1331901000.000000\tCHhAvVGS1DHFjwGM9\t192.168.202.79\t50465\t192.168.229.251\t22\t2\tT"
      "\t1\t-\tSSH-2.0-OpenSSH_5.0\tSSH-1.99-Cisco-1.25",
      "1331901000.000000\tC1\tfe80::1\t22\t2\tF\t1",
      "1331901000.000000 F 2 T 3 F",
  };
  for (const char* line : lines) {
    SCOPED_TRACE(line);
    EXPECT_EQ(Sniff(line).level, std::nullopt);
    EXPECT_EQ(Sniff(line).ts, 1331901000 * kSec);
  }
  EXPECT_EQ(Sniff("copied 7 files, E 3 D").level, std::nullopt);
  EXPECT_EQ(Sniff("exit 1 E").level, std::nullopt);
  EXPECT_EQ(Sniff("12:00:00.000 1 2 T").level, std::nullopt);
}

TEST(SniffPlainLine, SingleLettersWhereRealFormatsWriteThem) {
  // glog: letter glued to MMDD at the line start, then the time.
  EXPECT_EQ(Sniff("E1203 12:34:56.789012  1234 server.cc:42] bind failed").level, Level::kError);
  EXPECT_EQ(Sniff("I1203 12:34:56.789012  1234 server.cc:42] listening").level, Level::kInfo);
  EXPECT_EQ(Sniff("W1203 12:34:56.789012  1234 server.cc:42] slow").level, Level::kWarn);
  EXPECT_EQ(Sniff("F1203 12:34:56.789012  1234 server.cc:42] Check failed").level, Level::kFatal);
  EXPECT_EQ(Sniff("E1399 12:34:56.789012 x").level, std::nullopt);  // no month 13
  EXPECT_EQ(Sniff("T1203 12:34:56.789012 x").level, std::nullopt);
  // logcat brief, tag and time formats.
  EXPECT_EQ(Sniff("E/AndroidRuntime( 1234): FATAL EXCEPTION: main").level, Level::kError);
  EXPECT_EQ(Sniff("W/ActivityManager: Slow operation").level, Level::kWarn);
  EXPECT_EQ(Sniff("03-17 16:13:38.811 D/WindowManager( 1702): x").level, Level::kDebug);
  EXPECT_EQ(Sniff("T/Tag: x").level, std::nullopt);
  // logcat threadtime (Loghub's Android sample).
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 D WindowManager: x").level, Level::kDebug);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 I WindowManager: x").level, Level::kInfo);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 E WindowManager: x").level, Level::kError);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 F libc: x").level, Level::kFatal);
  EXPECT_EQ(Sniff("03-17 16:13:38.811  1702  2395 T WindowManager: x").level, std::nullopt);
  // Bracketed, as Tornado writes it.
  EXPECT_EQ(Sniff("[W 170809 12:00:00 web:2064] 404 GET /x").level, Level::kWarn);
  EXPECT_EQ(Sniff("[T 170809 12:00:00 web:2064] x").level, std::nullopt);
}

// A bare epoch number is the line's time only where a time is written; a JVM flag's value is not.
TEST(SniffPlainLine, EpochNumbersOnlyWhereATimeIsWritten) {
  EXPECT_EQ(Sniff("CommandLine flags: -XX:InitialHeapSize=1073741824 -XX:MaxHeapSize=17179869184 "
                  "-XX:+PrintGC -XX:+UseG1GC")
                .ts,
            std::nullopt);
  EXPECT_EQ(Sniff("heap 1073741824 bytes").ts, std::nullopt);
  EXPECT_EQ(Sniff("size=1700000000 time=1700000001").ts, 1700000001 * kSec);
  EXPECT_EQ(Sniff("1700000000 started").ts, 1700000000 * kSec);
  EXPECT_EQ(Sniff("  [1700000000.250] started").ts, 1700000000 * kSec + 250'000'000);
  EXPECT_EQ(Sniff("1700000000123 started").ts, 1700000000 * kSec + 123'000'000);
  EXPECT_EQ(Sniff("level=info ts=1700000000 msg=up").ts, 1700000000 * kSec);
  EXPECT_EQ(Sniff("level=info TIMESTAMP=\"1700000000123\" msg=up").ts,
            1700000000 * kSec + 123'000'000);
  EXPECT_EQ(Sniff("{\"time\": 1700000000, \"msg\": \"not json\"").ts, 1700000000 * kSec);
  EXPECT_EQ(Sniff("{\"@timestamp\":\"1700000000\", broken").ts, 1700000000 * kSec);
  EXPECT_EQ(Sniff("x date: 1700000000").ts, 1700000000 * kSec);
  EXPECT_EQ(Sniff("x uptime=1700000000").ts, std::nullopt);
  EXPECT_EQ(Sniff("x \"id\": 1700000000").ts, std::nullopt);
  // Format-defined columns (Loghub BGL/Thunderbird and HPC, Linux audit).
  EXPECT_EQ(Sniff("KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 x").ts, 1118536327 * kSec);
  EXPECT_EQ(Sniff("2286759 full partition status 1061219795 -1 running").ts, 1061219795 * kSec);
  EXPECT_EQ(Sniff("2286759 full partition status 1061219795 x running").ts, std::nullopt);
  EXPECT_EQ(Sniff("type=EXECVE msg=audit(1604994496.155:92733): argc=2").ts,
            1604994496 * kSec + 155'000'000);
  // A timestamp that is not a bare number is still found anywhere near the start.
  EXPECT_EQ(Sniff("-XX:InitialHeapSize=1073741824 at 2024-01-15T10:23:45Z").ts, 1705314225 * kSec);
}

TEST(SniffPlainLine, FindsALevelGluedIntoAPostgresPrefix) {
  EXPECT_EQ(Sniff("2020-03-11 20:40:43 CET::@:[12760]:LOG:  starting PostgreSQL 12.2").level,
            Level::kInfo);
  EXPECT_EQ(Sniff("2020-03-11 20:41:02 CET:[local]:postgres@db:[1270]:ERROR:  relation").level,
            Level::kError);
  EXPECT_EQ(Sniff("see http://example.com:8080/path for details").level, std::nullopt);
}

TEST(SniffPlainLine, ProseIsNotALevel) {
  EXPECT_EQ(Sniff("mod_jk child workerEnv in error state 6").level, std::nullopt);
  EXPECT_EQ(Sniff("I think the info was wrong").level, std::nullopt);
  EXPECT_EQ(Sniff("copied 7 files").level, std::nullopt);
  EXPECT_EQ(Sniff("Nov 9 12:10:43 local@tbird-admin1 CPU: Trace cache: 12K uops").level,
            std::nullopt);
}

}  // namespace
}  // namespace sawmill::ingest
