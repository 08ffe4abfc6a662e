#include "agent/agent_status.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

constexpr int kRate = static_cast<int>(DropReason::kRateLimit);
constexpr int kSpool = static_cast<int>(DropReason::kSpoolFull);

DropSettings Settings() {
  DropSettings s;
  s.rate_lines_per_sec = 200;
  s.rate_burst = 400;
  s.spool_max_bytes = 65536;
  s.failures_before_drop = 3;
  return s;
}

TEST(DropLog, SaysHowManyWhyByLevelAndWhichSetting) {
  DropCounts delta{};
  delta[static_cast<int>(Level::kDebug)][kRate] = 2400;
  delta[static_cast<int>(Level::kInfo)][kRate] = 2000;
  std::string line = FormatDropLog(delta, 10.2, Settings());
  EXPECT_EQ(line,
            "agent: dropped 4400 lines in the last 10s: 4400 over the rate limit of 200 lines/s, "
            "burst 400 (DEBUG 2400, INFO 2000; set by rate_limit.lines_per_sec, 0 turns it off)");
}

TEST(DropLog, NamesEveryReasonThatDropped) {
  DropCounts delta{};
  delta[static_cast<int>(Level::kDebug)][kRate] = 5;
  delta[static_cast<int>(Level::kInfo)][kSpool] = 7;
  std::string line = FormatDropLog(delta, 3, Settings());
  EXPECT_NE(line.find("dropped 12 lines in the last 3s: 5 over the rate limit"), std::string::npos)
      << line;
  EXPECT_NE(line.find("; 7 removed from the spool"), std::string::npos) << line;
  EXPECT_NE(line.find("(INFO 7; set by spool.max_bytes=65536)"), std::string::npos) << line;
}

TEST(DropLog, NothingDroppedIsNoLine) {
  EXPECT_EQ(FormatDropLog(DropCounts{}, 10, Settings()), "");
}

TEST(ShutdownLog, SaysReadSentSpooledAndDroppedByReason) {
  AgentStatusReport r;
  r.read[static_cast<int>(Level::kInfo)] = 900;
  r.read[static_cast<int>(Level::kWarn)] = 100;
  r.sent[static_cast<int>(Level::kInfo)] = 500;
  r.sent[static_cast<int>(Level::kWarn)] = 100;
  r.spool_lines = 250;
  r.spool_batches = 2;
  r.dropped[static_cast<int>(Level::kInfo)][kRate] = 150;
  EXPECT_EQ(FormatShutdownLog(r, 0),
            "agent: stopped: read 1000 lines, sent 600 (acknowledged by the server), spooled 250 "
            "(in 2 batches on disk, sent at the next start), dropped 150 (rate_limit 150)");
  EXPECT_NE(FormatShutdownLog(r, 40).find("; 40 lines read but not spooled are read again"),
            std::string::npos);
}

TEST(StatusJson, SpoolLinesRoundTrip) {
  AgentStatusReport r;
  r.spool_lines = 1234;
  r.spool_batches = 3;
  auto parsed = ParseStatusJson(FormatStatusJson(r));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->spool_lines, 1234u);
  EXPECT_EQ(parsed->spool_batches, 3u);
}

}  // namespace
}  // namespace sawmill::agent
