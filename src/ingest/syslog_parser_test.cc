#include "ingest/syslog_parser.h"

#include <gtest/gtest.h>

namespace sawmill::ingest {
namespace {

constexpr int64_t kNow = 1796040000LL * 1'000'000'000;  // 2026-11-30T12:00:00Z

ShipperContext Context() {
  ShipperContext context;
  context.now_ns = kNow;
  context.defaults.host = "10.1.2.3";  // the sender's address
  return context;
}

TEST(SyslogRfc5424, ParsesHeaderStructuredDataAndMessage) {
  Record r = ParseSyslogMessage(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Appli\\\"cation\" trace_id=\"abc\"]"
      "[origin ip=\"192.0.2.1\"] \xEF\xBB\xBF"
      "An application event log entry...",
      Context());
  EXPECT_EQ(r.flags & kFlagParseFailed, 0u);
  EXPECT_EQ(r.ts, 1065910455003LL * 1'000'000);
  EXPECT_EQ(r.host, "mymachine.example.com");
  EXPECT_EQ(r.service, "evntslog");
  EXPECT_EQ(r.level, Level::kInfo);  // severity 5 (notice)
  EXPECT_EQ(*r.FindField("facility"), "local4");
  EXPECT_EQ(*r.FindField("severity"), "notice");
  EXPECT_EQ(*r.FindField("proc_id"), "1234");
  EXPECT_EQ(*r.FindField("msg_id"), "ID47");
  EXPECT_EQ(*r.FindField("exampleSDID@32473.iut"), "3");
  EXPECT_EQ(*r.FindField("exampleSDID@32473.eventSource"), "Appli\"cation");
  EXPECT_EQ(*r.FindField("origin.ip"), "192.0.2.1");
  EXPECT_EQ(r.trace_id, "abc");
  EXPECT_EQ(r.message, "An application event log entry...");
}

TEST(SyslogRfc5424, NilValuesFallBackToSenderAndClock) {
  Record r = ParseSyslogMessage("<11>1 - - - - - - disk failing", Context());
  EXPECT_EQ(r.flags & kFlagParseFailed, 0u);
  EXPECT_EQ(r.ts, kNow);
  EXPECT_EQ(r.host, "10.1.2.3");
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(*r.FindField("facility"), "user");
  EXPECT_EQ(r.message, "disk failing");
}

TEST(SyslogRfc5424, BrokenStructuredDataIsKeptRawAndFlagged) {
  const std::string line = "<14>1 2026-11-30T11:00:00Z h app - - [id a=\"unterminated] msg";
  Record r = ParseSyslogMessage(line, Context());
  EXPECT_TRUE(r.flags & kFlagParseFailed);
  EXPECT_EQ(r.message, line);
}

TEST(SyslogRfc3164, InfersYearAndSplitsHostTagPid) {
  Record r =
      ParseSyslogMessage("<38>Nov 30 11:28:47 gateway sshd[4242]: Accepted publickey", Context());
  EXPECT_EQ(r.flags & kFlagParseFailed, 0u);
  EXPECT_EQ(r.ts, 1796038127LL * 1'000'000'000);
  EXPECT_EQ(r.host, "gateway");
  EXPECT_EQ(r.service, "sshd");
  EXPECT_EQ(*r.FindField("proc_id"), "4242");
  EXPECT_EQ(*r.FindField("facility"), "auth");
  EXPECT_EQ(r.level, Level::kInfo);
  EXPECT_EQ(r.message, "Accepted publickey");
}

TEST(SyslogRfc3164, DecemberSeenInJanuaryIsLastYear) {
  ShipperContext context = Context();
  context.now_ns = 1770091506LL * 1'000'000'000;  // 2026-02-03T04:05:06Z
  Record r = ParseSyslogMessage("<13>Dec 31 23:59:59 h app: bye", context);
  // 2025-12-31T23:59:59Z
  EXPECT_EQ(r.ts, 1767225599LL * 1'000'000'000);
}

TEST(SyslogRfc3164, MissingHostnameAndSpacePaddedDay) {
  Record r = ParseSyslogMessage("<13>Nov  3 01:02:03 cron[7]: job done", Context());
  EXPECT_EQ(r.host, "10.1.2.3");
  EXPECT_EQ(r.service, "cron");
  EXPECT_EQ(r.message, "job done");
}

TEST(SyslogRfc3164, RsyslogHighPrecisionTimestamp) {
  Record r = ParseSyslogMessage("<13>2026-11-30T11:28:47.250+00:00 web1 app: hello", Context());
  EXPECT_EQ(r.ts, 1796038127LL * 1'000'000'000 + 250'000'000);
  EXPECT_EQ(r.host, "web1");
  EXPECT_EQ(r.service, "app");
  EXPECT_EQ(r.message, "hello");
}

TEST(Syslog, MessageWithoutPriorityIsKeptRawAndFlagged) {
  for (const char* line : {"just some text", "<999>1 - - - - - - x", "<12", "<>x", "<012>x"}) {
    Record r = ParseSyslogMessage(line, Context());
    EXPECT_TRUE(r.flags & kFlagParseFailed) << line;
    EXPECT_EQ(r.message, line);
    EXPECT_EQ(r.host, "10.1.2.3");
  }
}

TEST(Syslog, InvalidUtf8IsRepairedAndFlagged) {
  Record r = ParseSyslogMessage("<13>1 - h a - - - bad \xC3 byte", Context());
  EXPECT_TRUE(r.flags & kFlagInvalidUtf8);
  EXPECT_EQ(r.flags & kFlagParseFailed, 0u);
}

}  // namespace
}  // namespace sawmill::ingest
