#include "agent/parser.h"

#include <gtest/gtest.h>

namespace sawmill::agent {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

Record Parse(ParserOptions options, std::string_view line) {
  auto parser = Parser::Create(options);
  EXPECT_TRUE(parser.ok()) << parser.status().ToString();
  const ingest::Defaults defaults{std::string("svc"), std::string("h1"), std::nullopt};
  Record record;
  EXPECT_TRUE((*parser)->Parse(line, defaults, {}, kNow, &record));
  return record;
}

TEST(ParseLogfmt, QuotedValuesAndBareWords) {
  std::vector<std::pair<std::string, std::string>> pairs;
  ASSERT_TRUE(ParseLogfmt(R"(level=warn msg="disk \"sda\" slow" retry flag=)", &pairs));
  ASSERT_EQ(pairs.size(), 4u);
  EXPECT_EQ(pairs[1].second, "disk \"sda\" slow");
  EXPECT_EQ(pairs[2].first, "retry");
  EXPECT_EQ(pairs[3].second, "");
  pairs.clear();
  EXPECT_FALSE(ParseLogfmt("just some words", &pairs));
}

TEST(Parser, LogfmtKeysMapLikeTheServersJson) {
  Record r = Parse({ParserKind::kLogfmt, ""},
                   R"(ts=2024-03-01T10:00:00Z level=error msg="payment failed" order=42)");
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.message, "payment failed");
  EXPECT_EQ(r.service, "svc");
  ASSERT_NE(r.FindField("order"), nullptr);
  EXPECT_EQ(*r.FindField("order"), "42");
  EXPECT_EQ(r.ts, 1709287200LL * 1'000'000'000);
}

TEST(Parser, InvalidUtf8InPairsIsRepairedAndFlagged) {
  Record logfmt = Parse({ParserKind::kLogfmt, ""},
                        "level=info msg=\"caf\xE9 ok\" user=\xFF"
                        "1");
  EXPECT_EQ(logfmt.message, "caf\xEF\xBF\xBD ok");
  ASSERT_NE(logfmt.FindField("user"), nullptr);
  EXPECT_EQ(*logfmt.FindField("user"),
            "\xEF\xBF\xBD"
            "1");
  EXPECT_NE(logfmt.flags & kFlagInvalidUtf8, 0u);
  // Without a message group the whole line is the message.
  Record regex = Parse({ParserKind::kRegex, R"((?P<level>\w+) )"}, "warn bad \xC3");
  EXPECT_EQ(regex.message, "warn bad \xEF\xBF\xBD");
  EXPECT_NE(regex.flags & kFlagInvalidUtf8, 0u);
  Record clean = Parse({ParserKind::kLogfmt, ""}, "level=info msg=\"caf\xC3\xA9\"");
  EXPECT_EQ(clean.message, "caf\xC3\xA9");
  EXPECT_EQ(clean.flags & kFlagInvalidUtf8, 0u);
}

TEST(Parser, RegexNamedGroupsBecomeKeys) {
  ParserOptions options{ParserKind::kRegex,
                        R"(^(?P<time>\S+) \[(?P<level>\w+)\] (?P<message>.*)$)"};
  Record r = Parse(options, "2024-03-01T10:00:00Z [WARN] cache miss storm");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_EQ(r.message, "cache miss storm");
  EXPECT_EQ(r.flags & kFlagParseFailed, 0u);
}

TEST(Parser, RegexMismatchKeepsTheLineAndFlagsIt) {
  ParserOptions options{ParserKind::kRegex, R"(^(?P<level>\w+): (?P<message>.*)$)"};
  Record r = Parse(options, "no colon here");
  EXPECT_EQ(r.message, "no colon here");
  EXPECT_TRUE(r.flags & kFlagParseFailed);
}

TEST(Parser, RegexWithoutNamedGroupIsRejected) {
  EXPECT_FALSE(Parser::Create({ParserKind::kRegex, "(a)(b)"}).ok());
  EXPECT_FALSE(Parser::Create({ParserKind::kRegex, "(?P<x>"}).ok());
}

TEST(Parser, JsonParserFlagsNonJsonLines) {
  Record r = Parse({ParserKind::kJson, ""}, "plain text ERROR here");
  EXPECT_TRUE(r.flags & kFlagParseFailed);
  Record j = Parse({ParserKind::kJson, ""}, R"({"level":"info","msg":"hi","k":"v"})");
  EXPECT_EQ(j.level, Level::kInfo);
  EXPECT_EQ(j.message, "hi");
  EXPECT_EQ(j.flags & kFlagParseFailed, 0u);
}

TEST(Parser, EmptyLineIsNotARecord) {
  auto parser = Parser::Create({});
  const ingest::Defaults defaults{std::string("svc"), std::string("h1"), std::nullopt};
  const ingest::NormalizeOptions normalize;
  Record r;
  EXPECT_FALSE((*parser)->Parse("   ", defaults, normalize, kNow, &r));
}

}  // namespace
}  // namespace sawmill::agent
