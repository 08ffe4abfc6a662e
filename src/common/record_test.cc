#include "sawmill/record.h"

#include <gtest/gtest.h>

namespace sawmill {
namespace {

struct Case {
  const char* text;
  Level level;
};

TEST(ParseLevel, EverySpellingRealLogsUse) {
  const Case cases[] = {
      {"ERROR", Level::kError},    {"error", Level::kError},
      {"ERR", Level::kError},      {"E", Level::kError},
      {"Error", Level::kError},    {"err", Level::kError},
      {"<err>", Level::kError},    {"[ERROR]", Level::kError},
      {"ERROR:", Level::kError},   {"SEVERE", Level::kError},
      {"WARNING", Level::kWarn},   {"warn", Level::kWarn},
      {"W", Level::kWarn},         {"Warning", Level::kWarn},
      {"<warning>", Level::kWarn}, {"FATAL", Level::kFatal},
      {"CRITICAL", Level::kFatal}, {"crit", Level::kFatal},
      {"panic", Level::kFatal},    {"PANIC", Level::kFatal},
      {"alert", Level::kFatal},    {"emerg", Level::kFatal},
      {"notice", Level::kInfo},    {"NOTICE", Level::kInfo},
      {"INFO", Level::kInfo},      {"info", Level::kInfo},
      {"I", Level::kInfo},         {"informational", Level::kInfo},
      {"DEBUG", Level::kDebug},    {"debug", Level::kDebug},
      {"D", Level::kDebug},        {"TRACE", Level::kTrace},
      {"trace", Level::kTrace},    {"0", Level::kFatal},
      {"1", Level::kFatal},        {"2", Level::kFatal},
      {"3", Level::kError},        {"4", Level::kWarn},
      {"5", Level::kInfo},         {"6", Level::kInfo},
      {"7", Level::kDebug},
  };
  for (const Case& c : cases) {
    auto got = ParseLevel(c.text);
    ASSERT_TRUE(got.has_value()) << c.text;
    EXPECT_EQ(*got, c.level) << c.text;
  }
}

TEST(ParseLevel, RejectsWordsThatAreNotLevels) {
  for (const char* text :
       {"", "8", "hello", "ERRORS", "information-x", "<>", "12", "a-very-long-word-indeed"}) {
    EXPECT_FALSE(ParseLevel(text).has_value()) << text;
  }
}

TEST(LevelFromSeverity, SyslogAndOpenTelemetryNumbers) {
  EXPECT_EQ(LevelFromSyslogSeverity(3), Level::kError);
  EXPECT_EQ(LevelFromSyslogSeverity(4), Level::kWarn);
  EXPECT_FALSE(LevelFromSyslogSeverity(8).has_value());
  EXPECT_FALSE(LevelFromSyslogSeverity(-1).has_value());
  const std::pair<int, Level> otel[] = {
      {1, Level::kTrace},  {4, Level::kTrace}, {5, Level::kDebug},  {9, Level::kInfo},
      {12, Level::kInfo},  {13, Level::kWarn}, {17, Level::kError}, {20, Level::kError},
      {21, Level::kFatal}, {24, Level::kFatal}};
  for (auto [n, level] : otel) EXPECT_EQ(LevelFromOtelSeverity(n), level) << n;
  EXPECT_FALSE(LevelFromOtelSeverity(0).has_value());
  EXPECT_FALSE(LevelFromOtelSeverity(25).has_value());
}

TEST(Level, NamesAndOrder) {
  EXPECT_EQ(LevelName(Level::kWarn), "WARN");
  EXPECT_EQ(LevelName(Level::kUnknown), "UNKNOWN");
  EXPECT_LT(Level::kWarn, Level::kError);
  EXPECT_LT(Level::kError, Level::kFatal);
  for (int i = 1; i < kLevelCount; ++i) {
    auto lv = static_cast<Level>(i);
    EXPECT_EQ(ParseLevel(LevelName(lv)), lv);
  }
}

TEST(Record, FieldsAndFlags) {
  Record r;
  r.fields = {{"http.method", "GET"}, {"status", "500"}};
  ASSERT_NE(r.FindField("status"), nullptr);
  EXPECT_EQ(*r.FindField("status"), "500");
  EXPECT_EQ(r.FindField("missing"), nullptr);
  EXPECT_EQ(FlagNames(kFlagParseFailed | kFlagRedacted),
            (std::vector<std::string_view>{"parse_failed", "redacted"}));
  EXPECT_GT(r.ApproximateSize(), sizeof(Record));
}

}  // namespace
}  // namespace sawmill
